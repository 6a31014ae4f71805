/**
 * The dashboard locally: a fresh Vite build of web/ into web/dist, served by
 * the runtime for every GET or HEAD that is no API route (on AWS the
 * StaticSite uploads the same build and CloudFront serves it, see stacks/Web.ts).
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CACHE_CONTROL, HASHED_ASSETS_DIR, pageHeaders, pageOf } from "../core/web/headers";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const WEB_DIR = path.join(root, "web");
const DIST_DIR = path.join(WEB_DIR, "dist");
/** What the build is made from: any of it newer than dist/index.html means a rebuild. */
const BUILD_INPUTS = ["src", "index.html", "vite.config.ts", "docs"].map((name) => path.join(WEB_DIR, name));

let pendingBuild: Promise<string> | undefined;

/**
 * Builds web/ into web/dist when dist/index.html is missing or older than any
 * build input; concurrent callers share one build. Returns the dist folder.
 * Throws the build's error.
 */
export function ensureWebBuild(): Promise<string> {
  pendingBuild ??= buildIfStale().finally(() => {
    pendingBuild = undefined;
  });
  return pendingBuild;
}

async function buildIfStale(): Promise<string> {
  const built = statSync(path.join(DIST_DIR, "index.html"), { throwIfNoEntry: false });
  if (built && Math.max(...BUILD_INPUTS.map(newestChange)) <= built.mtimeMs) return DIST_DIR;
  const { build } = await import("vite");
  // Vite sets NODE_ENV=production for the whole process; the runtime and the processes it forks keep their own.
  const nodeEnv = process.env.NODE_ENV;
  try {
    await build({ configFile: path.join(WEB_DIR, "vite.config.ts") });
  } finally {
    if (nodeEnv === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = nodeEnv;
  }
  return DIST_DIR;
}

/** The latest mtime of a file or of anything under a folder; 0 when it does not exist. */
function newestChange(file: string): number {
  const info = statSync(file, { throwIfNoEntry: false });
  if (!info) return 0;
  if (!info.isDirectory()) return info.mtimeMs;
  const entries = readdirSync(file).map((name) => newestChange(path.join(file, name)));
  return Math.max(info.mtimeMs, ...entries);
}

/**
 * The dist folder for the runtime to serve, or undefined after a warning when
 * web/ has no index.html or the build fails: the API runs without its
 * dashboard, and a stale build is never served.
 */
export async function webBuildToServe(): Promise<string | undefined> {
  if (!existsSync(path.join(WEB_DIR, "index.html"))) {
    process.stderr.write("warning: web/index.html is missing; the dashboard is not served.\n");
    return undefined;
  }
  try {
    return await ensureWebBuild();
  } catch (error) {
    process.stderr.write(`warning: the dashboard's build failed, so it is not served: ${(error as Error).message}\n`);
    return undefined;
  }
}

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".webmanifest": "application/manifest+json",
  ".txt": "text/plain; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".ttf": "font/ttf",
  ".wasm": "application/wasm",
};

type Found = { file: string } | { redirect: string };

/**
 * Where a request path leads in `dist`: the file itself; a folder's
 * index.html (`/docs/`; `/docs` redirects there); index.html for a path with
 * no file extension (the dashboard's own routes, e.g. /datasets/ds_123); or
 * nothing, for a missing file and for any path that resolves outside `dist`.
 */
async function find(dist: string, pathname: string): Promise<Found | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  if (decoded.includes("\0")) return undefined;
  const target = path.resolve(dist, `.${decoded}`);
  if (target !== dist && !target.startsWith(dist + path.sep)) return undefined;
  const info = await stat(target).catch(() => undefined);
  if (info?.isFile()) return { file: target };
  if (info?.isDirectory() && (await stat(path.join(target, "index.html")).catch(() => undefined))?.isFile()) {
    return pathname.endsWith("/") ? { file: path.join(target, "index.html") } : { redirect: `${pathname}/` };
  }
  if (path.posix.extname(decoded) === "") return { file: path.join(dist, "index.html") };
  return undefined;
}

/**
 * The answer from the built dashboard for a GET or HEAD, with the pages'
 * security headers; undefined when there is no such file (the caller answers 404).
 * `connectSources` (the live channel, the S3 endpoint) go in the CSP's connect-src.
 */
export async function serveWeb(dist: string, request: Request, connectSources: string[]): Promise<Response | undefined> {
  const url = new URL(request.url);
  const found = await find(dist, url.pathname);
  if (!found) return undefined;
  const headers = new Headers(pageHeaders(pageOf(url.pathname), { connectSources, https: false }));
  if ("redirect" in found) {
    headers.set("Location", found.redirect + url.search);
    return new Response(null, { status: 302, headers });
  }
  const content = await readFile(found.file);
  const hashed = path.relative(dist, found.file).split(path.sep)[0] === HASHED_ASSETS_DIR;
  headers.set("Content-Type", CONTENT_TYPES[path.extname(found.file).toLowerCase()] ?? "application/octet-stream");
  headers.set("Content-Length", String(content.byteLength));
  headers.set("Cache-Control", hashed ? CACHE_CONTROL.hashed : CACHE_CONTROL.other);
  return new Response(request.method === "HEAD" ? null : content, { status: 200, headers });
}
