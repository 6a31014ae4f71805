/**
 * OpenAPI-driven fuzzing: for every operation in /api/v1/openapi.json, bad
 * bodies, query values, path ids and Authorization headers (fast-check, fixed
 * seed), each sent with and without a valid token. Whatever the input, the
 * answer is below 500, every 4xx is `{ error, code, details }` JSON, and no
 * body carries a stack trace, a token or a password.
 *
 * Every generated request is invalid by construction (a required field
 * missing, a value of the wrong type, a string past its maxLength, JSON that
 * does not parse, a media type the route does not take, an id that does not
 * exist), so nothing here starts a training, sends mail or spends a rate
 * limit that other test files rely on.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { Auth } from "../../core/auth";
import { createUser, type TestUser } from "../support/users";

const baseUrl = inject("baseUrl");
const SEED = 20261201;
/** Requests in flight at once: enough to finish in well under a minute, few enough not to starve other test files. */
const CONCURRENCY = 6;

// ---------------------------------------------------------------- the document

type JsonSchema = {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  example?: unknown;
  default?: unknown;
};

interface Parameter {
  name: string;
  in: "path" | "query" | "header" | "cookie";
  required?: boolean;
  schema?: JsonSchema;
}

interface Operation {
  method: string;
  path: string;
  /** Needs a credential (declares `security`). */
  secured: boolean;
  parameters: Parameter[];
  body?: { mediaTypes: string[]; schema?: JsonSchema };
}

interface Document {
  paths: Record<string, Record<string, { parameters?: Parameter[]; security?: unknown[]; requestBody?: { content?: Record<string, { schema?: JsonSchema }> } }>>;
  components?: { schemas?: Record<string, JsonSchema> };
}

const document = (await (await fetch(`${baseUrl}/api/v1/openapi.json`)).json()) as Document;

function resolve(schema: JsonSchema | undefined): JsonSchema | undefined {
  if (!schema?.$ref) return schema;
  const name = schema.$ref.replace("#/components/schemas/", "");
  return resolve(document.components?.schemas?.[name]);
}

const operations: Operation[] = Object.entries(document.paths).flatMap(([path, methods]) =>
  Object.entries(methods).map(([method, operation]) => {
    const content = operation.requestBody?.content;
    const mediaTypes = Object.keys(content ?? {});
    return {
      method: method.toUpperCase(),
      path,
      secured: (operation.security?.length ?? 0) > 0,
      parameters: operation.parameters ?? [],
      body: content ? { mediaTypes, schema: resolve(content["application/json"]?.schema ?? content[mediaTypes[0]!]?.schema) } : undefined,
    };
  }),
);

// ---------------------------------------------------------------- bad values

/** The JSON types a schema accepts; undefined when it accepts anything. */
function typesOf(schema: JsonSchema | undefined): Set<string> | undefined {
  const resolved = resolve(schema);
  if (!resolved) return undefined;
  const alternatives = resolved.anyOf ?? resolved.oneOf;
  if (alternatives) {
    const sets = alternatives.map(typesOf);
    if (sets.some((set) => set === undefined)) return undefined;
    return new Set(sets.flatMap((set) => [...set!]));
  }
  if (resolved.enum) return new Set(resolved.enum.map((value) => (value === null ? "null" : typeof value)));
  if (resolved.const !== undefined) return new Set([typeof resolved.const]);
  if (resolved.type === undefined) return undefined;
  const types = new Set(Array.isArray(resolved.type) ? resolved.type : [resolved.type]);
  if (types.has("integer")) types.add("number");
  return types;
}

const jsonTypeOf = (value: unknown) => (value === null ? "null" : Array.isArray(value) ? "array" : typeof value);

/** A value whose JSON type the schema refuses. */
const wrongTypeFor = (schema: JsonSchema | undefined) => {
  const allowed = typesOf(schema);
  return fc
    .oneof(
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
      fc.constant(null),
      fc.string().map((text) => `x${text}`),
      fc.array(fc.integer(), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 2 }),
    )
    .filter((value) => allowed !== undefined && !allowed.has(jsonTypeOf(value)) && !(jsonTypeOf(value) === "number" && allowed.has("integer")));
};

/** A value the schema accepts, or near enough to make the rest of a body plausible. */
function plausible(schema: JsonSchema | undefined): unknown {
  const resolved = resolve(schema);
  if (!resolved) return "x";
  if (resolved.example !== undefined) return resolved.example;
  if (resolved.default !== undefined) return resolved.default;
  if (resolved.enum) return resolved.enum[0];
  if (resolved.const !== undefined) return resolved.const;
  const alternative = resolved.anyOf?.[0] ?? resolved.oneOf?.[0];
  if (alternative) return plausible(alternative);
  const type = Array.isArray(resolved.type) ? resolved.type[0] : resolved.type;
  switch (type) {
    case "string":
      return resolved.format === "email" ? "fuzz@example.com" : resolved.format === "uri" ? "https://example.com/hook" : "f".repeat(Math.max(resolved.minLength ?? 4, 1));
    case "integer":
    case "number":
      return resolved.minimum ?? 1;
    case "boolean":
      return true;
    case "array":
      return [];
    case "object":
      return Object.fromEntries(Object.entries(resolved.properties ?? {}).map(([name, property]) => [name, plausible(property)]));
    default:
      return "x";
  }
}

const MALFORMED_JSON = ['{"a":', "{'single':'quotes'}", "[1,2,", "nul", "{\"a\":1}}", "\u0000", "{\"__proto__\":", "NaN"];
const NOT_AN_OBJECT = [null, [], 42, "text", true, [{}]];

interface BodyCase {
  label: string;
  contentType?: string;
  body: string;
}

/** Bad bodies for one operation, every one invalid against its schema. */
function badBodies(operation: Operation, seed: number): BodyCase[] {
  const declared = operation.body!.mediaTypes;
  const schema = operation.body!.schema;
  const pick = <T>(arbitrary: fc.Arbitrary<T>, offset = 0) => fc.sample(arbitrary, { seed: seed + offset, numRuns: 1 })[0]!;
  const cases: BodyCase[] = [];
  const jsonType = declared.includes("application/json") ? "application/json" : undefined;
  const asJson = (label: string, value: unknown): BodyCase => ({ label, contentType: jsonType ?? declared[0], body: JSON.stringify(value) });

  cases.push({ label: "malformed JSON", contentType: "application/json", body: pick(fc.constantFrom(...MALFORMED_JSON)) });
  cases.push({ label: "an empty body", contentType: "application/json", body: "" });
  cases.push({ label: "a media type the route does not take", contentType: pick(fc.constantFrom("text/plain", "application/xml", "application/x-www-form-urlencoded"), 1), body: "a=1&b=2" });
  if (declared.includes("multipart/form-data")) {
    cases.push({ label: "multipart with a broken boundary", contentType: "multipart/form-data; boundary=fuzz", body: "--fuzz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nno closing boundary" });
    cases.push({ label: "multipart without a boundary", contentType: "multipart/form-data", body: "garbage" });
    cases.push({
      label: "multipart without the file part",
      contentType: "multipart/form-data; boundary=fuzz",
      body: "--fuzz\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nonly a name\r\n--fuzz--\r\n",
    });
  }
  if (!schema || jsonType === undefined) return cases;

  cases.push(asJson("JSON that is not an object", pick(fc.constantFrom(...NOT_AN_OBJECT), 2)));
  const skeleton = plausible(schema) as Record<string, unknown>;
  const required = schema.required ?? [];
  if (required.length > 0) {
    const missing = pick(fc.constantFrom(...required), 3);
    const { [missing]: _dropped, ...rest } = skeleton;
    // Written by hand: an object literal's __proto__ sets the prototype instead of making a key.
    const pollution = '"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}';
    const body = JSON.stringify(rest).replace(/^\{/, `{${pollution}${Object.keys(rest).length > 0 ? "," : ""}`);
    cases.push({ label: `no ${missing}`, contentType: jsonType, body });
  }
  const typed = Object.entries(schema.properties ?? {}).filter(([, property]) => typesOf(property) !== undefined);
  if (typed.length > 0) {
    const [name, property] = pick(fc.constantFrom(...typed), 4);
    cases.push(asJson(`${name} of the wrong type`, { ...skeleton, [name]: pick(wrongTypeFor(property), 5) }));
  }
  const bounded = Object.entries(schema.properties ?? {}).filter(([, property]) => resolve(property)?.maxLength !== undefined);
  if (bounded.length > 0) {
    const [name, property] = pick(fc.constantFrom(...bounded), 6);
    const length = pick(fc.integer({ min: resolve(property)!.maxLength! + 1, max: 200_000 }), 7);
    cases.push(asJson(`a ${length}-character ${name}`, { ...skeleton, [name]: pick(fc.string({ unit: "grapheme", minLength: 1, maxLength: 8 }), 8).repeat(length).slice(0, length) }));
  }
  cases.push(...edgeStrings(operation, skeleton, seed).map(([name, value]) => asJson(`${name} ${JSON.stringify(value)}`, { ...skeleton, [name]: value })));
  cases.push({ label: "a body over the size limit", contentType: "application/json", body: JSON.stringify({ ...skeleton, padding: "p".repeat(1_100_000) }) });
  return cases;
}

/**
 * Where a body can pass the route's schema, the strings it lets through that
 * core may not (a username of two letters, one with a space): the route is
 * not the only judge, and what core refuses must still be a 400. Only on
 * signed-in operations (the public ones spend per-IP rate limits that other
 * tests rely on, and signup sends mail) and not where a valid body asks Stripe,
 * which this runtime does not have (503 billing.not_configured by design).
 */
const EDGE_STRINGS = ["ab", "a b!", "..", " padded ", "\u202eevil", "名前", "a\u0000b", "-", "x".repeat(33)];
const ASKS_STRIPE = new Set(["/api/v1/billing/checkout", "/api/v1/billing/portal"]);

function edgeStrings(operation: Operation, skeleton: Record<string, unknown>, seed: number): [string, string][] {
  if (!operation.secured || ASKS_STRIPE.has(operation.path)) return [];
  const schema = operation.body!.schema!;
  const free = Object.entries(schema.properties ?? {})
    .map(([name, property]) => [name, resolve(property)] as const)
    .filter(([name, property]) => property?.type === "string" && !property.format && !property.pattern && !property.enum && name in skeleton);
  return free.flatMap(([name, property], index) => {
    const fits = EDGE_STRINGS.filter((value) => value.length >= (property!.minLength ?? 0) && value.length <= (property!.maxLength ?? Infinity));
    return fits.length > 0 ? [[name, fc.sample(fc.constantFrom(...fits), { seed: seed + index, numRuns: 1 })[0]!] as [string, string]] : [];
  });
}

/** Cursors that no list ever handed out: random text, base64 of JSON of the wrong shape, keys of another partition. */
const badCursors = (seed: number): string[] => {
  const b64 = (value: unknown) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");
  return [
    "not-a-cursor",
    "%%%",
    b64({ pk: 1 }),
    b64({ pk: "$flint#tenantid_x", sk: 7 }),
    b64({ pk: "$flint#tenantid_tnt_other", sk: "$dataset_1#datasetid_ds_x", gsi1pk: "x", gsi1sk: "y", gsi2pk: "x", gsi2sk: "y" }),
    b64([]),
    b64("null"),
    b64({}),
    "A".repeat(2048),
    ...fc.sample(fc.oneof(fc.string({ minLength: 1, maxLength: 40 }), fc.base64String({ minLength: 4, maxLength: 60 }), fc.json().map(b64)), { seed, numRuns: 2 }),
  ];
};

/** Values a query parameter's schema refuses. */
function badQueryValues(parameter: Parameter, seed: number): string[] {
  if (parameter.name === "cursor") return badCursors(seed);
  const schema = resolve(parameter.schema);
  const values: string[] = [];
  const type = Array.isArray(schema?.type) ? schema.type[0] : schema?.type;
  if (schema?.enum) values.push("definitely-not-an-option", "");
  if (type === "integer" || type === "number") values.push("abc", "-1", "1e999", String((schema?.maximum ?? 1e6) + 1), "1.5");
  if (type === "boolean") values.push("maybe");
  if (schema?.pattern) values.push("yesterday", "2026-13-45");
  if (schema?.maxLength !== undefined) values.push("q".repeat(schema.maxLength + 1));
  values.push(...fc.sample(fc.string({ unit: "grapheme", minLength: 0, maxLength: 12 }), { seed, numRuns: 1 }));
  return values;
}

/**
 * Values of a declared header (the Stripe signature) that are malformed. A
 * well-formed signature is left out: where billing has no webhook secret (as
 * here) it rightly answers 503 billing.not_configured.
 */
function badHeaderValues(seed: number): string[] {
  const samples = fc.sample(fc.string({ minLength: 1, maxLength: 30 }).filter((text) => !text.includes("v1=")), { seed, numRuns: 1 });
  return ["", "garbage", "t=abc,v1=", "t=1,v1=xyz", "v".repeat(8000), ...samples];
}

// ---------------------------------------------------------------- requests

interface FuzzRequest {
  label: string;
  method: string;
  /** Raw path and query, already percent-encoded (or deliberately not). */
  target: string;
  headers: Record<string, string>;
  body?: string;
}

/** Ids that do not exist for the caller, ones that do not decode, and another tenant's. */
function badIds(seed: number, other: TestUser): string[] {
  return [
    "%ff",
    "%",
    "%E2%82",
    "%C0%AF",
    "abc%zz",
    "i".repeat(3000),
    "ds_01jz00000000000000000000000",
    "run_01jz0000000000000000000000",
    other.username,
    other.tenantId,
    "..%2F..%2Fadmin",
    "%00",
    ...fc.sample(fc.string({ unit: "grapheme", minLength: 1, maxLength: 20 }).map(encodeURIComponent), { seed, numRuns: 2 }),
  ];
}

function pathWith(operation: Operation, id?: string): string {
  return operation.path.replace(/\{[^}]+\}/g, () => id ?? "nope_01jz000000000000000000000");
}

/** Every bad request for one operation, without credentials (the caller adds them). */
function requestsFor(operation: Operation, index: number, other: TestUser): FuzzRequest[] {
  const seed = SEED + index * 97;
  const requests: FuzzRequest[] = [];
  const neutralBody: Pick<FuzzRequest, "headers" | "body"> =
    operation.body && operation.method !== "GET" ? { headers: { "content-type": "application/json" }, body: "{}" } : { headers: {}, body: undefined };
  if (operation.parameters.some((parameter) => parameter.in === "path")) {
    for (const id of badIds(seed, other)) {
      requests.push({ label: `path id ${id.slice(0, 40)}`, method: operation.method, target: pathWith(operation, id), ...neutralBody });
    }
  }
  for (const parameter of operation.parameters.filter((parameter) => parameter.in === "query")) {
    for (const value of badQueryValues(parameter, seed + parameter.name.length)) {
      requests.push({
        label: `${parameter.name}=${value.slice(0, 40)}`,
        method: operation.method,
        target: `${pathWith(operation)}?${parameter.name}=${encodeURIComponent(value)}`,
        ...neutralBody,
      });
    }
  }
  for (const parameter of operation.parameters.filter((parameter) => parameter.in === "header")) {
    for (const value of badHeaderValues(seed + parameter.name.length)) {
      requests.push({ label: `${parameter.name}: ${value.slice(0, 40)}`, method: operation.method, target: pathWith(operation), headers: { [parameter.name]: value }, body: "{}" });
    }
  }
  if (!operation.body && operation.method !== "GET") {
    // A body where none is declared must not matter either.
    requests.push({ label: "an undeclared JSON body", method: operation.method, target: pathWith(operation), headers: { "content-type": "application/json" }, body: '{"id":' });
  }
  if (operation.body && operation.method !== "GET") {
    for (const bad of badBodies(operation, seed)) {
      requests.push({
        label: `body: ${bad.label}`,
        method: operation.method,
        target: pathWith(operation),
        headers: bad.contentType ? { "content-type": bad.contentType } : {},
        body: bad.body,
      });
    }
  }
  return requests;
}

/** Authorization headers that are not a valid credential. */
function badAuthorizations(token: string, seed: number): string[] {
  const flipped = token.slice(0, -2) + (token.endsWith("AA") ? "BB" : "AA");
  return [
    "Bearer",
    "Bearer ",
    `Basic ${Buffer.from("admin:admin").toString("base64")}`,
    `Bearer ${flipped}`,
    `Bearer ${token}.extra`,
    `Bearer ${"a".repeat(6000)}`,
    "Device not-a-credential",
    ...fc.sample(fc.string({ minLength: 1, maxLength: 60 }).map((text) => `Bearer ${text.replace(/\s/g, "_")}`), { seed, numRuns: 1 }),
  ];
}

// ---------------------------------------------------------------- checks

const STACK_TRACE = [/\n\s+at /, /\bat [\w$.<>]+ \(/, /\.(ts|js|mjs|cjs):\d+/, /node_modules/, /file:\/\//, /\/work\//];

async function send(request: FuzzRequest, authorization?: string, attempt = 1): Promise<string | undefined> {
  const headers = { ...request.headers, ...(authorization ? { authorization } : {}) };
  let response: Response;
  try {
    response = await fetch(`${baseUrl}${request.target}`, { method: request.method, headers, body: request.body });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    // A pooled keep-alive connection can close just as it is reused; like any HTTP client, try once more on a fresh one.
    if (attempt === 1 && cause?.code === "UND_ERR_SOCKET") return send(request, authorization, 2);
    return `${request.method} ${request.target.slice(0, 120)} [${request.label}] gets no answer (${cause?.code ?? cause?.message ?? (error as Error).message})`;
  }
  const text = await response.text();
  const problems: string[] = [];
  if (response.status >= 500) problems.push(`answers ${response.status}`);
  if (response.status >= 400 && response.status < 500) {
    let body: { error?: unknown; code?: unknown; details?: unknown } | undefined;
    try {
      body = JSON.parse(text);
    } catch {
      problems.push(`answers ${response.status} with a body that is not JSON`);
    }
    if (body && (typeof body.error !== "string" || typeof body.code !== "string" || !("details" in body))) {
      problems.push(`answers ${response.status} without { error, code, details }`);
    }
  }
  const leak = STACK_TRACE.find((pattern) => pattern.test(text));
  if (leak) problems.push(`shows a stack trace or file path (${leak})`);
  if (secrets.some((secret) => text.includes(secret))) problems.push("shows a token or password");
  return problems.length > 0 ? `${request.method} ${request.target.slice(0, 120)} [${request.label}] ${problems.join(", ")}: ${text.slice(0, 200)}` : undefined;
}

/** Runs `tasks` with at most CONCURRENCY in flight; returns every problem found. */
async function runAll(tasks: (() => Promise<string | undefined>)[]): Promise<string[]> {
  const problems: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const problem = await tasks[next++]!();
      if (problem) problems.push(problem);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return problems;
}

// ---------------------------------------------------------------- the test

let user: TestUser;
let other: TestUser;
/** Logout ends the session it is called with, so it gets a token of its own. */
let leaving: TestUser;
/** The platform superadmin's token: admin reads take other paths for it (every tenant, any tenant_id). */
let platformToken: string;
let secrets: string[];

beforeAll(async () => {
  [user, other, leaving] = await Promise.all([createUser(), createUser(), createUser()]);
  const admin = inject("admin");
  const login = await Auth.login(admin);
  if (login.mfaRequired) throw new Error("the seeded admin has no MFA");
  platformToken = login.token;
  secrets = [user, other, leaving].flatMap((u) => [u.token, u.refreshToken, u.password]).concat(admin.password, login.token, login.refresh_token);
});

/**
 * Who sends each request: nobody, a tenant admin, and for reads of the admin
 * API also the superadmin (reads only: its writes would reach other tenants' users).
 */
function identitiesFor(operation: Operation): (string | undefined)[] {
  const token = operation.path === "/api/v1/auth/logout" ? leaving.token : user.token;
  const adminRead = operation.method === "GET" && /^\/api\/v1\/(admin|audit)\//.test(operation.path);
  return [undefined, `Bearer ${token}`, ...(adminRead ? [`Bearer ${platformToken}`] : [])];
}

describe("every operation in the OpenAPI document, given malformed input", () => {
  it("covers the whole document within its request budget", () => {
    const total = operations.reduce((sum, operation, index) => sum + requestsFor(operation, index, other).length * identitiesFor(operation).length + badAuthorizations(user.token, SEED + index).length, 0);
    expect(operations.length).toBeGreaterThanOrEqual(70);
    expect(total).toBeGreaterThanOrEqual(1500);
    expect(total).toBeLessThanOrEqual(4000);
  });

  it.each(operations.map((operation, index) => [`${operation.method} ${operation.path}`, operation, index] as const))(
    "%s answers below 500 with a clean error",
    async (_name, operation, index) => {
      const requests = requestsFor(operation, index, other);
      const tasks = [
        ...requests.flatMap((request) => identitiesFor(operation).map((authorization) => () => send(request, authorization))),
        ...badAuthorizations(user.token, SEED + index).map((authorization) => () => send({ label: "bad Authorization", method: operation.method, target: pathWith(operation), headers: {} }, authorization)),
      ];
      const problems = await runAll(tasks);
      expect(problems, problems.slice(0, 40).join("\n")).toEqual([]);
    },
  );
});
