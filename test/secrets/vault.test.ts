import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { withActor } from "../../core/actor";
import { Secrets } from "../../core/secrets";
import { call } from "../support/http";
import { createUser, type TestUser } from "../support/users";

const MASK = "********";
const DAY_MS = 24 * 60 * 60 * 1000;

/** A value no other test uses, so finding it in an answer means this one leaked. */
const plaintext = (label = "value") => `${label}-${randomBytes(12).toString("base64url")}`;
const uniqueName = (label = "secret") => `${label}-${randomBytes(4).toString("hex")}`;
const inDays = (days: number) => new Date(Date.now() + days * DAY_MS).toISOString();

async function createSecret(admin: TestUser, body: Record<string, unknown> = {}) {
  const value = (body.value as string | undefined) ?? plaintext();
  const reply = await call("POST", "/secrets", { token: admin.token, body: { name: uniqueName(), category: "database", value, ...body } });
  expect(reply.status).toBe(201);
  expect(reply.body.value).toBe(MASK);
  expect(new TextDecoder().decode(reply.bytes)).not.toContain(value);
  return { secret: reply.body, value };
}

describe("secrets vault", () => {
  it("creates, lists, reads, updates, rotates and deletes a secret, masking the value", async () => {
    const admin = await createUser();
    const value = plaintext();
    const name = uniqueName("historian");
    const created = await call("POST", "/secrets", {
      token: admin.token,
      body: { name, value, category: "database", expires_at: "2031-01-31T12:00:00+01:00" },
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^sec_/),
      name,
      category: "database",
      value: MASK,
      version: 1,
      expires_at: "2031-01-31T11:00:00.000Z",
      expired: false,
      created_at: expect.any(String),
      created_by: admin.userId,
      updated_at: expect.any(String),
      rotated_at: null,
      last_revealed_at: null,
    });
    const id = created.body.id as string;

    const list = await call("GET", "/secrets", { token: admin.token });
    expect(list.status).toBe(200);
    expect(list.body).toEqual([expect.objectContaining({ id, name, value: MASK })]);

    const detail = await call("GET", `/secrets/${id}`, { token: admin.token });
    expect(detail.status).toBe(200);
    expect(detail.body).toMatchObject({ id, value: MASK, version: 1 });

    const updated = await call("PUT", `/secrets/${id}`, {
      token: admin.token,
      body: { name: `${name}-renamed`, category: "password", expires_at: null },
    });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ id, name: `${name}-renamed`, category: "password", expires_at: null, expired: false, value: MASK, version: 1 });
    // The old name is free again.
    await createSecret(admin, { name });

    const rotated = await call("POST", `/secrets/${id}/rotate`, { token: admin.token, body: { value: plaintext("rotated") } });
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({ id, version: 2, value: MASK, rotated_at: expect.any(String) });

    const deleted = await call("DELETE", `/secrets/${id}`, { token: admin.token });
    expect(deleted.status).toBe(204);
    for (const [method, path] of [["GET", `/secrets/${id}`], ["DELETE", `/secrets/${id}`]] as const) {
      const reply = await call(method, path, { token: admin.token });
      expect(reply.status).toBe(404);
      expect(reply.body.code).toBe("secret.not_found");
    }
    expect((await call("GET", "/secrets", { token: admin.token })).body.map((secret: { id: string }) => secret.id)).not.toContain(id);
  });

  it("reveals the value only on reveal=true, and records the reveal in the audit trail without the value", async () => {
    const admin = await createUser();
    const { secret, value } = await createSecret(admin);

    for (const query of ["", "?reveal=false"]) {
      const masked = await call("GET", `/secrets/${secret.id}${query}`, { token: admin.token });
      expect(masked.body.value).toBe(MASK);
    }
    const revealed = await call("GET", `/secrets/${secret.id}?reveal=true`, { token: admin.token });
    expect(revealed.status).toBe(200);
    expect(revealed.body).toMatchObject({ id: secret.id, value, last_revealed_at: expect.any(String) });
    // A reveal is not a change.
    expect(revealed.body.updated_at).toBe(secret.updated_at);

    const logs = await call("GET", "/audit/logs?action=secret.reveal", { token: admin.token });
    expect(logs.status).toBe(200);
    expect(logs.body.logs).toEqual([
      expect.objectContaining({
        action: "secret.reveal",
        user_id: admin.userId,
        resource_type: "secret",
        resource_id: secret.id,
        result: "success",
        details: { name: secret.name, version: 1 },
      }),
    ]);
    const trail = await call("GET", "/audit/logs?limit=1000", { token: admin.token });
    expect(trail.body.logs.length).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(trail.body)).not.toContain(value);
  });

  it("rotates to a new version whose reveal gives the new value", async () => {
    const admin = await createUser();
    const { secret, value: first } = await createSecret(admin, { category: "api_key" });
    const second = plaintext("second");
    const third = plaintext("third");
    expect((await call("POST", `/secrets/${secret.id}/rotate`, { token: admin.token, body: { value: second } })).body.version).toBe(2);
    const rotated = await call("POST", `/secrets/${secret.id}/rotate`, { token: admin.token, body: { value: third } });
    expect(rotated.body).toMatchObject({ version: 3, rotated_at: expect.any(String), value: MASK });

    const revealed = await call("GET", `/secrets/${secret.id}?reveal=true`, { token: admin.token });
    expect(revealed.body).toMatchObject({ value: third, version: 3 });
    expect(JSON.stringify(revealed.body)).not.toContain(first);
    // A new value through PUT is a new version too.
    const fourth = plaintext("fourth");
    expect((await call("PUT", `/secrets/${secret.id}`, { token: admin.token, body: { value: fourth } })).body.version).toBe(4);
    expect((await call("GET", `/secrets/${secret.id}?reveal=true`, { token: admin.token })).body.value).toBe(fourth);
  });

  it("lists exactly the secrets due within the days asked for, marking the expired", async () => {
    const admin = await createUser();
    const { secret: soon } = await createSecret(admin, { expires_at: inDays(3) });
    await createSecret(admin, { expires_at: inDays(10) });
    const { secret: past } = await createSecret(admin, { expires_at: inDays(-1) });
    await createSecret(admin);

    const week = await call("GET", "/secrets/expiring?days=7", { token: admin.token });
    expect(week.status).toBe(200);
    expect(week.body.map((secret: { id: string; expired: boolean }) => [secret.id, secret.expired])).toEqual([
      [past.id, true],
      [soon.id, false],
    ]);
    expect(week.body.every((secret: { value: string }) => secret.value === MASK)).toBe(true);

    // 30 days unless told.
    expect((await call("GET", "/secrets/expiring", { token: admin.token })).body).toHaveLength(3);
    expect((await call("GET", "/secrets/expiring?days=3650", { token: admin.token })).body).toHaveLength(3);
    const list = await call("GET", "/secrets", { token: admin.token });
    expect(list.body.find((secret: { id: string }) => secret.id === past.id)).toMatchObject({ expired: true });
  });

  it("filters the list by category and pages it with the cursor", async () => {
    const admin = await createUser();
    const tokens: string[] = [];
    for (let i = 0; i < 3; i++) tokens.push((await createSecret(admin, { category: "token" })).secret.id);
    await createSecret(admin, { category: "certificate" });

    const onlyTokens = await call("GET", "/secrets?category=token", { token: admin.token });
    expect(onlyTokens.body.map((secret: { id: string }) => secret.id)).toEqual([...tokens].reverse());

    const first = await call("GET", "/secrets?limit=3", { token: admin.token });
    expect(first.body).toHaveLength(3);
    const cursor = first.headers.get("x-next-cursor");
    expect(cursor).toEqual(expect.any(String));
    const second = await call("GET", `/secrets?limit=3&cursor=${encodeURIComponent(cursor!)}`, { token: admin.token });
    expect(second.body).toHaveLength(1);
    expect(second.headers.get("x-next-cursor")).toBeNull();
    const ids = [...first.body, ...second.body].map((secret: { id: string }) => secret.id);
    expect(new Set(ids).size).toBe(4);

    // A cursor of the unfiltered list is not the category list's.
    const foreign = await call("GET", `/secrets?category=token&cursor=${encodeURIComponent(cursor!)}`, { token: admin.token });
    expect(foreign.status).toBe(400);
    expect(foreign.body.code).toBe("request.invalid_cursor");
  });

  it("never shows the plaintext in a list, a get without reveal or a create", async () => {
    const admin = await createUser();
    const values: string[] = [];
    for (const category of ["database", "api_key", "token", "password", "certificate", "other"]) {
      const { value } = await createSecret(admin, { category, expires_at: inDays(1) });
      values.push(value);
    }
    const answers = [await call("GET", "/secrets", { token: admin.token }), await call("GET", "/secrets/expiring?days=2", { token: admin.token })];
    for (const secret of answers[0]!.body as { id: string }[]) answers.push(await call("GET", `/secrets/${secret.id}`, { token: admin.token }));
    expect(answers).toHaveLength(8);
    const text = answers.map((reply) => new TextDecoder().decode(reply.bytes)).join("\n");
    for (const value of values) expect(text).not.toContain(value);
  });
});

describe("secrets vault access", () => {
  it("answers 404 secret.not_found to another tenant's admin on every route taking the id", async () => {
    const owner = await createUser();
    const other = await createUser();
    const { secret, value } = await createSecret(owner);
    const cases: [string, string, unknown?][] = [
      ["GET", `/secrets/${secret.id}`],
      ["GET", `/secrets/${secret.id}?reveal=true`],
      ["PUT", `/secrets/${secret.id}`, { name: "taken-over" }],
      ["DELETE", `/secrets/${secret.id}`],
      ["POST", `/secrets/${secret.id}/rotate`, { value: plaintext() }],
    ];
    for (const [method, path, body] of cases) {
      const reply = await call(method, path, { token: other.token, body });
      expect({ method, path, status: reply.status, code: reply.body?.code }).toEqual({ method, path, status: 404, code: "secret.not_found" });
    }
    expect((await call("GET", "/secrets", { token: other.token })).body).toEqual([]);
    const revealed = await call("GET", `/secrets/${secret.id}?reveal=true`, { token: owner.token });
    expect(revealed.body).toMatchObject({ name: secret.name, value, version: 1 });
  });

  it.each(["operator", "viewer"] as const)("answers 403 to a %s on every route", async (role) => {
    const admin = await createUser();
    const user = await createUser({ tenantId: admin.tenantId, role });
    const { secret } = await createSecret(admin);
    const routes: [string, string, unknown?][] = [
      ["GET", "/secrets"],
      ["POST", "/secrets", { name: uniqueName(), value: plaintext(), category: "token" }],
      ["GET", "/secrets/expiring"],
      ["GET", `/secrets/${secret.id}`],
      ["GET", `/secrets/${secret.id}?reveal=true`],
      ["PUT", `/secrets/${secret.id}`, { category: "other" }],
      ["POST", `/secrets/${secret.id}/rotate`, { value: plaintext() }],
      ["DELETE", `/secrets/${secret.id}`],
    ];
    for (const [method, path, body] of routes) {
      const reply = await call(method, path, { token: user.token, body });
      expect({ method, path, status: reply.status, code: reply.body?.code }).toEqual({ method, path, status: 403, code: "auth.forbidden" });
    }
    expect((await call("GET", `/secrets/${secret.id}`, { token: admin.token })).body).toMatchObject({ version: 1, category: "database" });
  });

  it("answers 401 without a token", async () => {
    expect((await call("GET", "/secrets")).status).toBe(401);
    expect((await call("POST", "/secrets", { body: {} })).status).toBe(401);
    expect((await call("GET", "/secrets/sec_01jz0000000000000000000000")).status).toBe(401);
  });
});

describe("secrets vault input", () => {
  const good = () => ({ name: uniqueName(), value: plaintext(), category: "token" });

  it.each([
    ["no value", () => ({ ...good(), value: undefined }), "value"],
    ["an empty value", () => ({ ...good(), value: "" }), "value"],
    ["an empty name", () => ({ ...good(), name: "" }), "name"],
    ["a blank name", () => ({ ...good(), name: "   " }), "name"],
    ["a name with a control character", () => ({ ...good(), name: "a\u0000b" }), "name"],
    ["an unknown category", () => ({ ...good(), category: "ssh_key" }), "category"],
    ["no category", () => ({ ...good(), category: undefined }), "category"],
    ["a value over 16384 characters", () => ({ ...good(), value: "v".repeat(16_385) }), "value"],
    ["an expires_at that is not a date-time", () => ({ ...good(), expires_at: "next tuesday" }), "expires_at"],
    ["an expires_at without a time", () => ({ ...good(), expires_at: "2030-01-01" }), "expires_at"],
    ["a number for a value", () => ({ ...good(), value: 42 }), "value"],
  ])("answers 400 to a create with %s", async (_label, make, field) => {
    const admin = await createUser();
    const body = make();
    const reply = await call("POST", "/secrets", { token: admin.token, body });
    expect(reply.status).toBe(400);
    expect(reply.body).toEqual({ error: expect.any(String), code: "request.invalid", details: expect.objectContaining({ issues: expect.any(Array) }) });
    expect(reply.body.details.issues.map((issue: { path: string }) => issue.path)).toContain(field);
    if (typeof body.value === "string" && body.value.length > 0) expect(JSON.stringify(reply.body)).not.toContain(body.value);
    expect((await call("GET", "/secrets", { token: admin.token })).body).toEqual([]);
  });

  it("takes a value of exactly 16384 characters", async () => {
    const admin = await createUser();
    const value = "é".repeat(16_384);
    const { secret } = await createSecret(admin, { value });
    expect((await call("GET", `/secrets/${secret.id}?reveal=true`, { token: admin.token })).body.value).toBe(value);
  });

  it.each(["abc", "-1", "0", "1.5", "3651", ""])("answers 400 to expiring?days=%s", async (days) => {
    const admin = await createUser();
    const reply = await call("GET", `/secrets/expiring?days=${days}`, { token: admin.token });
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ error: expect.any(String), code: "request.invalid", details: { issues: [expect.objectContaining({ path: "days" })] } });
  });

  it("answers 400 to bad updates and rotations", async () => {
    const admin = await createUser();
    const { secret } = await createSecret(admin);
    const cases: [string, string, unknown][] = [
      ["PUT", `/secrets/${secret.id}`, {}],
      ["PUT", `/secrets/${secret.id}`, { name: "" }],
      ["PUT", `/secrets/${secret.id}`, { category: "nope" }],
      ["PUT", `/secrets/${secret.id}`, { expires_at: "soon" }],
      ["PUT", `/secrets/${secret.id}`, { value: "" }],
      ["POST", `/secrets/${secret.id}/rotate`, {}],
      ["POST", `/secrets/${secret.id}/rotate`, { value: "x".repeat(16_385) }],
      ["GET", `/secrets/${secret.id}?reveal=yes`, undefined],
      ["GET", "/secrets?category=ssh_key", undefined],
      ["GET", "/secrets?cursor=not-a-cursor", undefined],
    ];
    for (const [method, path, body] of cases) {
      const reply = await call(method, path, { token: admin.token, body });
      expect({ method, path, status: reply.status }).toEqual({ method, path, status: 400 });
      expect(reply.body).toMatchObject({ error: expect.any(String), code: expect.stringMatching(/^request\./), details: expect.anything() });
    }
    expect((await call("GET", `/secrets/${secret.id}`, { token: admin.token })).body).toMatchObject({ version: 1, name: secret.name });
  });
});

describe("secret names", () => {
  it("answers 409 secret.name_taken to a second secret of the same name, whatever its case, and to a rename onto it", async () => {
    const admin = await createUser();
    const name = uniqueName("Broker");
    const { secret } = await createSecret(admin, { name });
    for (const taken of [name, name.toUpperCase(), ` ${name.toLowerCase()} `]) {
      const reply = await call("POST", "/secrets", { token: admin.token, body: { name: taken, value: plaintext(), category: "token" } });
      expect(reply.status).toBe(409);
      expect(reply.body).toMatchObject({ code: "secret.name_taken", details: expect.anything() });
    }
    const { secret: other } = await createSecret(admin);
    const rename = await call("PUT", `/secrets/${other.id}`, { token: admin.token, body: { name } });
    expect(rename.status).toBe(409);
    expect(rename.body.code).toBe("secret.name_taken");
    // Changing only the case of its own name is fine.
    const recased = await call("PUT", `/secrets/${secret.id}`, { token: admin.token, body: { name: name.toUpperCase() } });
    expect(recased.body.name).toBe(name.toUpperCase());
    // Another tenant may use the name.
    await createSecret(await createUser(), { name });
  });

  it("gives exactly one 201 for 10 concurrent creates of one name", async () => {
    const admin = await createUser();
    const name = uniqueName("race");
    const replies = await Promise.all(
      Array.from({ length: 10 }, () => call("POST", "/secrets", { token: admin.token, body: { name, value: plaintext(), category: "password" } })),
    );
    const statuses = replies.map((reply) => reply.status).sort();
    expect(statuses).toEqual([201, ...Array<number>(9).fill(409)]);
    expect(replies.filter((reply) => reply.status === 409).every((reply) => reply.body.code === "secret.name_taken")).toBe(true);
    const list = await call("GET", "/secrets", { token: admin.token });
    expect(list.body.map((secret: { name: string }) => secret.name)).toEqual([name]);
  });

  it("frees a name when its secret is deleted", async () => {
    const admin = await createUser();
    const { secret } = await createSecret(admin, { name: "reused" });
    expect((await call("DELETE", `/secrets/${secret.id}`, { token: admin.token })).status).toBe(204);
    await createSecret(admin, { name: "reused" });
  });
});

describe("Secrets for other core modules", () => {
  it("resolves the calling tenant's plaintext for a system actor, and nobody else's", async () => {
    const admin = await createUser();
    const other = await createUser();
    const { secret, value } = await createSecret(admin);
    // Async, so that input fn() refuses (thrown as it is called) arrives as a rejection too.
    const asSystem = <T>(tenantId: string, run: () => Promise<T>) => withActor({ type: "system", tenantId }, async () => run());

    await expect(asSystem(admin.tenantId, () => Secrets.resolve(secret.id))).resolves.toBe(value);
    await expect(asSystem(other.tenantId, () => Secrets.resolve(secret.id))).rejects.toMatchObject({ code: "secret.not_found" });

    const made = await asSystem(admin.tenantId, () => Secrets.create({ name: uniqueName("job"), value: "from-a-job", category: "other" }));
    expect(made).toMatchObject({ value: MASK, created_by: null, version: 1 });
    await expect(asSystem(admin.tenantId, () => Secrets.resolve(made.id))).resolves.toBe("from-a-job");
    await expect(asSystem(admin.tenantId, () => Secrets.create({ name: "", value: "", category: "other" }))).rejects.toMatchObject({ code: "request.invalid" });
    await asSystem(admin.tenantId, () => Secrets.remove(made.id));
    await expect(asSystem(admin.tenantId, () => Secrets.resolve(made.id))).rejects.toMatchObject({ code: "secret.not_found" });
  });
});
