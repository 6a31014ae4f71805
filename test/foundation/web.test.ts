/**
 * The dashboard on the local runtime: the fresh build of web/ at /, its
 * routes, its hashed assets, the pages' security headers, and nothing
 * outside web/dist.
 */
import { describe, expect, inject, it } from "vitest";
import { contentSecurityPolicy, pageHeaders, pageOf } from "../../core/web/headers";
import { baseUrl, call, callRawPath } from "../support/http";

const wsOrigin = baseUrl.replace(/^http/, "ws");
/** The live channel and the S3 endpoint that presigned uploads go to. */
const connectSources = [wsOrigin, new URL(inject("runtimeEnv").FLINT_S3_ENDPOINT!).origin];

describe("the dashboard on the local runtime", () => {
  it("serves / as HTML with the CSP and the other security headers, and no HSTS over http", async () => {
    const page = await call("GET", `${baseUrl}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.body).toContain('<div id="app"></div>');
    expect(page.headers.get("cache-control")).toBe("no-cache");
    const csp = page.headers.get("content-security-policy");
    expect(csp).toBe(contentSecurityPolicy("dashboard", connectSources));
    for (const directive of [
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self';",
      "img-src 'self' data: blob:",
      "font-src 'self'",
      `connect-src 'self' ${connectSources.join(" ")}`,
      "object-src 'none'",
      "base-uri 'self'",
      "form-action 'self'",
      "frame-ancestors 'none'",
    ]) {
      expect(csp).toContain(directive);
    }
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    expect(page.headers.get("referrer-policy")).toBe("strict-origin-when-cross-origin");
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    expect(page.headers.get("permissions-policy")).toBe("camera=(), microphone=(), geolocation=()");
    expect(page.headers.get("cross-origin-opener-policy")).toBe("same-origin");
    expect(page.headers.get("strict-transport-security")).toBeNull();
  });

  it("answers HEAD / with the page's headers and no body", async () => {
    const head = await call("HEAD", `${baseUrl}/`);
    expect(head.status).toBe(200);
    expect(head.bytes.byteLength).toBe(0);
    expect(head.headers.get("content-security-policy")).toBe(contentSecurityPolicy("dashboard", connectSources));
  });

  it.each(["/datasets/ds_x", "/training/run_123/epochs", "/login"])("serves index.html for the dashboard route %s", async (route) => {
    const index = await call("GET", `${baseUrl}/`);
    const page = await call("GET", `${baseUrl}${route}`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.body).toBe(index.body);
    expect(page.headers.get("content-security-policy")).toBe(contentSecurityPolicy("dashboard", connectSources));
  });

  it("serves a hashed asset as immutable with its content type", async () => {
    const index = (await call("GET", `${baseUrl}/`)).body as string;
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(index)?.[1];
    expect(script).toBeDefined();
    const asset = await call("GET", `${baseUrl}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(asset.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(asset.headers.get("x-content-type-options")).toBe("nosniff");
  });

  it("answers a missing asset with 404 in the error shape, not the dashboard", async () => {
    const missing = await call("GET", `${baseUrl}/assets/index-nothere1.js`);
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: "Route not found", code: "route.not_found", details: { method: "GET", path: "/assets/index-nothere1.js" } });
  });

  it.each([
    "/..%2f..%2fpackage.json",
    "/..%2F..%2Fpackage.json",
    "/../../package.json",
    "/%2e%2e/%2e%2e/package.json",
    "/assets/..%2f..%2f..%2fpackage.json",
    "/docs/..%2f..%2fvite.config.ts",
    "/..%2f..%2fcore%2fconfig",
    "/..%5c..%5cpackage.json",
    "/%2e%2e%2f%2e%2e%2fpackage.json%00.html",
  ])("gives no file outside web/dist for %s", async (rawPath) => {
    const reply = await callRawPath("GET", rawPath);
    expect(reply.status).toBe(404);
    expect(reply.headers.get("content-type")).toContain("application/json");
    expect(reply.body.code).toBe("route.not_found");
    const text = new TextDecoder().decode(reply.bytes);
    expect(text).not.toContain('"flint"');
    expect(text).not.toContain("defineConfig");
  });

  it("still answers an unknown API path with the API's JSON 404", async () => {
    const reply = await call("GET", "/nope");
    expect(reply.status).toBe(404);
    expect(reply.headers.get("content-type")).toContain("application/json");
    expect(reply.body).toEqual({ error: "Route not found", code: "route.not_found", details: { method: "GET", path: "/api/v1/nope" } });
  });

  it("serves pages to GET and HEAD only", async () => {
    const reply = await call("POST", `${baseUrl}/datasets/ds_x`, { body: {} });
    expect(reply.status).toBe(404);
    expect(reply.body.code).toBe("route.not_found");
  });

  it("gives the docs page its own policy, which allows Swagger UI's inline styles and nothing more", async () => {
    const docs = await call("GET", `${baseUrl}/docs/`);
    expect(docs.status).toBe(200);
    const csp = docs.headers.get("content-security-policy")!;
    expect(csp).toBe(contentSecurityPolicy("docs", connectSources));
    expect(csp).toContain("style-src 'self' 'unsafe-inline'");
    expect(csp).toContain("script-src 'self';");
    expect(docs.headers.get("x-frame-options")).toBe("DENY");
  });
});

describe("page security headers", () => {
  it("adds HSTS over https only", () => {
    const https = pageHeaders("dashboard", { connectSources: ["wss://ws.example.com"], https: true });
    expect(https["Strict-Transport-Security"]).toMatch(/^max-age=\d{8,}; includeSubDomains$/);
    expect(pageHeaders("dashboard", { connectSources: ["ws://localhost:3030"], https: false })).not.toHaveProperty("Strict-Transport-Security");
  });

  it("relaxes style-src on the docs page only", () => {
    expect(contentSecurityPolicy("dashboard", ["wss://ws.example.com"])).not.toContain("unsafe-inline");
    expect(contentSecurityPolicy("docs", ["wss://ws.example.com"])).toContain("style-src 'self' 'unsafe-inline'");
  });

  it.each([
    ["/docs", "docs"],
    ["/docs/", "docs"],
    ["/docs/init.js", "docs"],
    ["/docsearch", "dashboard"],
    ["/", "dashboard"],
    ["/datasets/ds_1", "dashboard"],
  ] as const)("puts %s under the %s policy", (pathname, page) => {
    expect(pageOf(pathname)).toBe(page);
  });
});
