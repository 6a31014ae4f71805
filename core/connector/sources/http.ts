/** What the HTTP sources share: a checked request, its failures in the connector's terms, and bounded JSON reading. */
import { DomainError, invalid } from "../../error";
import { Outbound } from "../../net/outbound";
import { connectionFailed, type OpenOptions } from "./common";

/** The largest non-streamed JSON answer read (a streamed one is bounded by the import's byte cap). */
export const MAX_JSON_BYTES = 256 * 1024 * 1024;

/**
 * A request to a user's HTTP source. Non-2xx answers become connector errors:
 * 401/403 cannot_connect (authentication failed), 404 cannot_connect (not
 * found), 400/422 query_failed with the source's message, others cannot_connect.
 */
export async function request(url: string, init: RequestInit, options: OpenOptions): Promise<Response> {
  const response = await Outbound.checkedFetch(url, { ...init, timeoutMs: options.statementTimeoutMs });
  if (response.ok) return response;
  const host = new URL(url).host;
  const text = (await response.text().catch(() => "")).slice(0, 500);
  const message = messageOf(text);
  if (response.status === 401 || response.status === 403) throw connectionFailed(host, "authentication failed");
  if (response.status === 404) throw connectionFailed(host, `not found (${message || "404"})`);
  if (response.status === 400 || response.status === 422) throw invalid("connector.query_failed", `The query failed: ${message || response.statusText}`, { host, status: response.status });
  if (response.status === 504 || response.status === 408) throw new DomainError("timeout", "connector.timeout", `${host} did not answer in time`, { host });
  throw connectionFailed(host, `answered ${response.status}`);
}

function messageOf(text: string): string {
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    const found = body.error ?? body.message ?? (body.results as { error?: string }[] | undefined)?.[0]?.error;
    if (typeof found === "string") return found;
  } catch {
    // Not JSON: the text itself.
  }
  return text.trim();
}

/** The body as JSON, refusing answers larger than `maxBytes`. */
export async function jsonOf(response: Response, host: string, maxBytes = MAX_JSON_BYTES): Promise<unknown> {
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > maxBytes) throw tooLarge(host, maxBytes);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body ?? []) {
    size += chunk.byteLength;
    if (size > maxBytes) {
      await response.body?.cancel().catch(() => undefined);
      throw tooLarge(host, maxBytes);
    }
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw connectionFailed(host, "the answer is not JSON");
  }
}

const tooLarge = (host: string, maxBytes: number) =>
  invalid("connector.response_too_large", `${host} answered with more than ${Math.round(maxBytes / 1024 / 1024)} MB; narrow the query`, { host, max_bytes: maxBytes });

/** Newline-delimited JSON values of a streamed body, one at a time. */
export async function* jsonLines(response: Response, host: string): AsyncGenerator<unknown> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of response.body ?? []) {
    pending += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = pending.indexOf("\n")) !== -1) {
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (line) yield parseLine(line, host);
    }
  }
  const rest = (pending + decoder.decode()).trim();
  if (rest) yield parseLine(rest, host);
}

function parseLine(line: string, host: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw connectionFailed(host, "the answer is not JSON lines");
  }
}
