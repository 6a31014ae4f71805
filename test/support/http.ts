/**
 * The tests' one HTTP client: a request to the test runtime, answered as
 * `{ status, headers, body, bytes }`. A path is under `/api/v1`; an absolute
 * URL (a presigned upload, `/health`, another runtime) goes as it is.
 *
 * @example
 * const reply = await call("POST", "/datasets/uploads", { token: alice.token, body: { name: "AHU" } });
 * expect(reply.status).toBe(201);
 */
import http from "node:http";
import { inject } from "vitest";

export const baseUrl = inject("baseUrl");

export interface Reply {
  status: number;
  headers: Headers;
  /** The body parsed as JSON; the text when it is not JSON, null when empty. Untyped: tests assert its shape. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  /** The body as sent, for downloads. */
  bytes: Uint8Array;
}

export interface CallOptions {
  /** A bearer token (`Authorization: Bearer …`). */
  token?: string;
  /** An edge device's credential (`Authorization: Device …`). */
  device?: string;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as it is: malformed JSON, a form, CSV bytes, a multipart form. */
  rawBody?: string | Uint8Array | FormData;
  /** The body's content type: JSON for `body` or a string unless said; bytes go without one, a multipart form sets its own. */
  contentType?: string;
  /** More request headers; they win over the ones above. */
  headers?: Record<string, string>;
  /** Sends from this loopback address (see `uniqueLoopback`). */
  from?: string;
}

export async function call(method: string, path: string, options: CallOptions = {}): Promise<Reply> {
  const url = /^https?:\/\//.test(path) ? path : `${baseUrl}/api/v1${path}`;
  const payload = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.device) headers.authorization = `Device ${options.device}`;
  if (options.contentType) headers["content-type"] = options.contentType;
  else if (typeof payload === "string") headers["content-type"] = "application/json";
  Object.assign(headers, options.headers);
  if (options.from) {
    if (payload instanceof FormData) throw new Error("call: a multipart form cannot be sent with `from`");
    return callFrom(options.from, method, url, headers, payload);
  }
  const response = await fetch(url, { method, headers, body: payload });
  const bytes = new Uint8Array(await response.arrayBuffer());
  return { status: response.status, headers: response.headers, body: parse(bytes), bytes };
}

function parse(bytes: Uint8Array): unknown {
  const text = new TextDecoder().decode(bytes);
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return text;
  }
}

/** The same request sent from `localAddress` (any 127.x.y.z works on Linux loopback). */
function callFrom(localAddress: string, method: string, target: string, headers: Record<string, string>, payload?: string | Uint8Array): Promise<Reply> {
  const url = new URL(target);
  return send({ host: url.hostname, port: url.port, path: url.pathname + url.search, method, headers, localAddress }, payload);
}

/**
 * A request for `rawPath` on the test runtime exactly as written: fetch and URL
 * would resolve `..` and `%2e%2e` segments before sending (path traversal tests).
 */
export function callRawPath(method: string, rawPath: string): Promise<Reply> {
  const url = new URL(baseUrl);
  return send({ host: url.hostname, port: url.port, path: rawPath, method });
}

function send(options: http.RequestOptions, payload?: string | Uint8Array): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const request = http.request(options, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => {
        const responseHeaders = new Headers();
        for (const [name, value] of Object.entries(response.headers)) {
          // Set-Cookie comes as a list, one entry per cookie.
          for (const item of Array.isArray(value) ? value : value === undefined ? [] : [value]) responseHeaders.append(name, item);
        }
        const bytes = new Uint8Array(Buffer.concat(chunks));
        resolve({ status: response.statusCode ?? 0, headers: responseHeaders, body: parse(bytes), bytes });
      });
    });
    request.on("error", reject);
    if (payload !== undefined) request.write(payload);
    request.end();
  });
}

/** A loopback address no other test uses, so per-IP rate limits stay per test. */
export function uniqueLoopback(): string {
  const n = () => 1 + Math.floor(Math.random() * 250);
  return `127.${n()}.${n()}.${n()}`;
}
