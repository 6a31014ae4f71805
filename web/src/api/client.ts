/**
 * The typed API client: paths, parameters and bodies come from the API's own
 * OpenAPI document (schema.d.ts is generated from it by `npm run gen:api`),
 * so a renamed field fails the dashboard's type check instead of a user's
 * click. A request answered 401 is retried once after a token refresh.
 */
import createClient from "openapi-fetch";
import type { paths } from "./schema";
import { ApiError } from "./errors";
import { refresh, sessionState } from "./session";

function withToken(request: Request, token: string | null): Request {
  const next = new Request(request);
  if (token) next.headers.set("Authorization", `Bearer ${token}`);
  return next;
}

async function authorisedFetch(request: Request): Promise<Response> {
  const retry = request.clone();
  const response = await fetch(withToken(request, sessionState().token));
  if (response.status !== 401 || !sessionState().token) return response;
  const token = await refresh();
  return token ? fetch(withToken(retry, token)) : response;
}

export const api = createClient<paths>({ baseUrl: "", fetch: authorisedFetch });

interface Result<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The body of a successful call; otherwise throws the API's `{ error, code, details }` as an ApiError. */
export async function unwrap<T>(call: Promise<Result<T>>): Promise<T> {
  const { data, error, response } = await call;
  if (response.ok) return data as T;
  throw ApiError.fromBody(response.status, error);
}

/** A list page and the cursor of the next one (the API's `X-Next-Cursor` header). */
export async function unwrapPage<T>(call: Promise<Result<T[]>>): Promise<{ items: T[]; next: string | null }> {
  const result = await call;
  const items = await unwrap(Promise.resolve(result));
  return { items, next: result.response.headers.get("X-Next-Cursor") };
}

/** Authorised fetch for what the typed client cannot express (file downloads, uploads with progress). */
export function rawFetch(path: string, init: RequestInit = {}): Promise<Response> {
  return authorisedFetch(new Request(path, init));
}

/** Saves an authorised download: the token is a header, never in the URL, so an <a href> cannot fetch it. */
export async function saveDownload(path: string, fallbackName: string): Promise<void> {
  const response = await rawFetch(path);
  if (!response.ok) throw await ApiError.from(response);
  const name = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") ?? "")?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await response.blob());
  const link = Object.assign(document.createElement("a"), { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
