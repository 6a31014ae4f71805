/**
 * What every HTTP endpoint group shares: the app factory with request ids,
 * structured request logs, path checks, body limits, the actor (from the
 * bearer token), 404/405 for unknown routes and the one mapping from domain
 * errors to `{ error, code, details }` responses.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context, Hono, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import { routePath } from "hono/route";
import { METHOD_NAME_ALL } from "hono/router";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ZodError } from "zod";
import { withActor, type Actor } from "../../core/actor";
import { Audit } from "../../core/audit";
import { Auth } from "../../core/auth";
import { DomainError, type ErrorKind } from "../../core/error";
import { issuesOf } from "../../core/fn";
import { logger } from "../../core/logger";

export const API_BASE = "/api/v1";
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

const STATUS: Record<ErrorKind, ContentfulStatusCode> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  rate_limited: 429,
  unavailable: 503,
  upstream: 502,
  timeout: 504,
};

export type Env = { Variables: { actor: Actor; requestId: string } };

export function errorBody(error: string, code: string, details?: unknown) {
  return { error, code, details: details ?? null };
}

/** Maps any thrown error to a JSON error response; unknown errors are logged and hidden. */
export function handleError(error: Error, c: Context): Response {
  if (error instanceof DomainError) {
    for (const [name, value] of Object.entries(headersFor(error))) c.header(name, value);
    return c.json(errorBody(error.message, error.code, error.details), STATUS[error.kind]);
  }
  if (error instanceof HTTPException) {
    const status = error.status as ContentfulStatusCode;
    const code = status === 413 ? "request.too_large" : status === 401 ? "auth.unauthorized" : "request.invalid";
    const message = error.message || (status === 413 ? "Request body too large" : "Bad request");
    return c.json(errorBody(message, code), status);
  }
  if (error instanceof ZodError) {
    // A safety net: core validates through fn(), so reaching here means a function that skips it.
    logger.warn("validation error outside fn()", { path: c.req.path, requestId: c.get("requestId"), issues: error.issues.length });
    return c.json(errorBody("Request validation failed", "request.invalid", { issues: issuesOf(error) }), 400);
  }
  logger.error("unhandled error", { error, path: c.req.path, requestId: c.get("requestId") });
  return c.json(errorBody("Internal server error", "internal"), 500);
}

function headersFor(error: DomainError): Record<string, string> {
  const details = error.details as { retry_after_seconds?: number; headers?: Record<string, string> } | undefined;
  const headers: Record<string, string> = { ...(details?.headers ?? {}) };
  if ((error.kind === "rate_limited" || error.kind === "unavailable") && details?.retry_after_seconds !== undefined) {
    headers["Retry-After"] = String(details.retry_after_seconds);
  }
  return headers;
}

/** Zod failures from route validators become one 400 shape. */
function validationHook(result: { success: boolean; error?: unknown; target?: string }) {
  if (result.success) return;
  const error = result.error as { issues?: { path: PropertyKey[]; message: string }[] };
  throw new DomainError("invalid", "request.invalid", "Request validation failed", {
    target: result.target,
    issues: issuesOf({ issues: error.issues ?? [] }),
  });
}

/** Resolves a credential of an extra Authorization scheme (e.g. `Device <credential>`) to its actor. */
export type CredentialScheme = (credential: string) => Promise<Actor>;

/**
 * Resolves the caller from `Authorization: Bearer <token>` (or one of the
 * app's extra `schemes`, keyed by lower-case scheme name) and runs the request as that actor.
 */
export function actorMiddlewareFor(schemes: Record<string, CredentialScheme> = {}): MiddlewareHandler<Env> {
  return async (c, next) => {
    const header = c.req.header("authorization");
    let actor: Actor = { type: "public" };
    if (header) {
      const match = /^(\w+)\s+(\S+)$/.exec(header);
      const scheme = match?.[1]?.toLowerCase() ?? "";
      const extra = Object.hasOwn(schemes, scheme) ? schemes[scheme] : undefined;
      if (!match?.[2] || (scheme !== "bearer" && !extra)) {
        throw new DomainError("unauthorized", "auth.unauthorized", "Malformed Authorization header");
      }
      actor = extra ? await extra(match[2]) : await Auth.authenticate(match[2]);
    }
    c.set("actor", actor);
    await withActor(actor, next);
  };
}

export const actorMiddleware: MiddlewareHandler<Env> = actorMiddlewareFor();

const requestLog: MiddlewareHandler<Env> = async (c, next) => {
  const started = performance.now();
  await next();
  const actor = c.get("actor");
  logger.info("request", {
    requestId: c.get("requestId"),
    method: c.req.method,
    path: c.req.path,
    status: c.res.status,
    durationMs: Math.round(performance.now() - started),
    tenantId: actor && "tenantId" in actor ? actor.tenantId : undefined,
  });
};

/**
 * Refuses a path whose percent-encoding does not decode (`%ff`, a lone `%`,
 * a cut-off UTF-8 sequence) before auth, audit or a route reads it.
 */
const pathCheck: MiddlewareHandler<Env> = async (c, next) => {
  const raw = new URL(c.req.url).pathname;
  if (raw.includes("%")) {
    try {
      decodeURIComponent(raw);
    } catch {
      throw new DomainError("invalid", "request.invalid_path", "The path is not valid percent-encoded UTF-8");
    }
  }
  await next();
};

const MUTATING_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * Makes the request's IP and user agent known to core (sessions, auth audit
 * events) and appends an audit entry for every mutating request, whatever
 * its outcome. Bodies are never recorded.
 */
export const auditMiddleware: MiddlewareHandler<Env> = async (c, next) => {
  const context = { ip: clientIp(c), userAgent: c.req.header("user-agent"), requestId: c.get("requestId") };
  await Audit.withRequest(context, next);
  if (!MUTATING_METHODS.has(c.req.method)) return;
  const actor = c.get("actor") ?? { type: "public" as const };
  await Audit.withRequest(context, () =>
    withActor(actor, () =>
      Audit.recordRequest({ method: c.req.method, path: c.req.path, route: routePath(c, -1), status: c.res.status }),
    ),
  );
};

const ROUTE_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;

/** The methods with a route (not only middleware) on `path`: what a 405 lists in Allow. */
function allowedMethods(app: Hono<Env, any, any>, path: string): string[] {
  return ROUTE_METHODS.filter((method) => app.router.match(method, path)[0].some(([[, route]]) => route.method !== METHOD_NAME_ALL));
}

export interface AppOptions {
  /** Mount under /api/v1 (default) or at the root (health, jwks). */
  basePath?: string;
  /** Largest request body accepted, in bytes. */
  maxBodyBytes?: number;
  /** Authorization schemes accepted besides Bearer, e.g. `{ device: Target.authenticateDevice }`. */
  schemes?: Record<string, CredentialScheme>;
}

/** A Hono app for one endpoint group, with every cross-cutting concern installed. */
export function createApp(options: AppOptions = {}) {
  const app = new OpenAPIHono<Env>({ defaultHook: validationHook }).basePath(options.basePath ?? API_BASE);
  app.use("*", requestId({ headerName: "X-Request-Id" }));
  app.use("*", requestLog);
  app.use("*", pathCheck);
  app.use("*", auditMiddleware);
  app.use(
    "*",
    bodyLimit({
      maxSize: options.maxBodyBytes ?? DEFAULT_BODY_LIMIT,
      onError: (c) => {
        // The rest of the body is never read, so the connection cannot carry another request.
        c.header("Connection", "close");
        return c.json(errorBody("Request body too large", "request.too_large", { max_bytes: options.maxBodyBytes ?? DEFAULT_BODY_LIMIT }), 413);
      },
    }),
  );
  app.use("*", options.schemes ? actorMiddlewareFor(options.schemes) : actorMiddleware);
  app.onError(handleError);
  app.notFound((c) => {
    const allowed = allowedMethods(app, c.req.path);
    if (allowed.length === 0) return c.json(errorBody("Route not found", "route.not_found", { method: c.req.method, path: c.req.path }), 404);
    c.header("Allow", allowed.join(", "));
    return c.json(errorBody(`${c.req.method} is not allowed here`, "route.method_not_allowed", { method: c.req.method, path: c.req.path, allowed }), 405);
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer", bearerFormat: "JWT" });
  return app;
}

/** The client's IP: API Gateway's source IP on AWS, the socket address locally. */
export function clientIp(c: Context): string {
  const lambdaEvent = (c.env as { event?: { requestContext?: { http?: { sourceIp?: string } } } } | undefined)?.event;
  const fromLambda = lambdaEvent?.requestContext?.http?.sourceIp;
  if (fromLambda) return fromLambda;
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  return incoming?.socket?.remoteAddress ?? "unknown";
}

/** Counts one hit against a per-IP limit per minute and puts the X-RateLimit-* headers on the response. */
export async function rateLimit(c: Context<Env>, name: string, limit: number, code = "auth.rate_limited"): Promise<void> {
  const state = await Auth.consumeRateLimit(`${name}:${clientIp(c)}`, { limit, windowSeconds: 60, code });
  for (const [header, value] of Object.entries(Auth.rateLimitHeaders(state))) c.header(header, value);
}
