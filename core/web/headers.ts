/**
 * The security and cache headers of every page the platform serves (the
 * dashboard and the API docs): one definition for the local runtime
 * (dev/web.ts) and for CloudFront and the StaticSite upload (stacks/Web.ts).
 */

/** The dashboard, or the API docs page (Swagger UI sets inline styles). */
export type Page = "dashboard" | "docs";

/** Where the API docs page lives; everything under it gets the docs policy. */
export const DOCS_PATH = "/docs";

/** Two years, the preload list's minimum is one. */
export const HSTS_MAX_AGE_SECONDS = 2 * 365 * 24 * 60 * 60;

/** The headers that do not depend on the page or the deployment. */
export const FIXED_HEADERS = {
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "strict-origin-when-cross-origin",
  "X-Frame-Options": "DENY",
  "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
  "Cross-Origin-Opener-Policy": "same-origin",
} as const;

/** The build's folder of content-hashed files (Vite's assetsDir): a changed file is a new name. */
export const HASHED_ASSETS_DIR = "assets";

/** Cache-Control of the built files: hashed ones forever, the rest (index.html, /docs) revalidated on each use. */
export const CACHE_CONTROL = {
  hashed: "public, max-age=31536000, immutable",
  other: "no-cache",
} as const;

export function pageOf(pathname: string): Page {
  return pathname === DOCS_PATH || pathname.startsWith(`${DOCS_PATH}/`) ? "docs" : "dashboard";
}

/**
 * The Content-Security-Policy of a page. `connectSources` are the origins the
 * page talks to besides its own: the live channel (ws://host:port locally,
 * the API Gateway wss:// URL on AWS; not every browser counts ws: as 'self')
 * and the file storage that presigned uploads go to (s3rver locally, the
 * bucket's regional host on AWS).
 * @example contentSecurityPolicy("dashboard", ["ws://127.0.0.1:3030", "http://127.0.0.1:4569"])
 */
export function contentSecurityPolicy(page: Page, connectSources: string[]): string {
  const directives: Record<string, string> = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": page === "docs" ? "'self' 'unsafe-inline'" : "'self'",
    "img-src": "'self' data: blob:",
    "font-src": "'self'",
    "connect-src": ["'self'", ...connectSources].join(" "),
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
  };
  return Object.entries(directives)
    .map(([name, value]) => `${name} ${value}`)
    .join("; ");
}

export function strictTransportSecurity(): string {
  return `max-age=${HSTS_MAX_AGE_SECONDS}; includeSubDomains`;
}

/**
 * Every security header of a page, by name. HSTS only over https: a browser
 * ignores it on http, and pinning localhost to https would break other
 * local servers.
 */
export function pageHeaders(page: Page, options: { connectSources: string[]; https: boolean }): Record<string, string> {
  return {
    "Content-Security-Policy": contentSecurityPolicy(page, options.connectSources),
    ...FIXED_HEADERS,
    ...(options.https ? { "Strict-Transport-Security": strictTransportSecurity() } : {}),
  };
}
