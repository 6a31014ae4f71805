/**
 * Native npm packages cannot be bundled by esbuild (they load `.node`
 * binaries). SST's `nodejs.install` keeps a package external and installs it
 * into the function's bundle instead, but for every package listed, reached
 * or not. This finds which native packages a handler actually reaches, by
 * following its relative imports through the TypeScript sources, so each
 * function installs exactly those.
 */
import fs from "node:fs";
import path from "node:path";

/** Native packages the app uses (see ./shared.ts for how onnxruntime-node is slimmed). */
export const NATIVE_PACKAGES = ["@node-rs/argon2", "zstd-napi", "onnxruntime-node", "better-sqlite3"] as const;

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)["']([^"']+)["']/g;
const EXTENSIONS = [".ts", ".tsx", ".mts", ".js", ".mjs"];

function resolveRelative(fromFile: string, specifier: string): string | undefined {
  const base = path.resolve(path.dirname(fromFile), specifier);
  const candidates = [
    base,
    ...EXTENSIONS.map((ext) => base + ext),
    // "./x.js" written for a TypeScript source "./x.ts"
    ...(/\.(m?js)$/.test(base) ? [base.replace(/\.(m?js)$/, ".ts"), base.replace(/\.(m?js)$/, ".mts")] : []),
    ...EXTENSIONS.map((ext) => path.join(base, "index" + ext)),
  ];
  return candidates.find((file) => fs.existsSync(file) && fs.statSync(file).isFile());
}

function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}

/** Bare package names reachable from `entry` (a source file), following relative imports. */
export function reachablePackages(entry: string): Set<string> {
  const packages = new Set<string>();
  const seen = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    let source: string;
    try {
      source = fs.readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const match of source.matchAll(SPECIFIER)) {
      const specifier = match[1]!;
      if (specifier.startsWith(".")) {
        const resolved = resolveRelative(file, specifier);
        if (resolved) queue.push(resolved);
      } else if (!specifier.startsWith("node:")) {
        packages.add(packageName(specifier));
      }
    }
  }
  return packages;
}

/**
 * The source file of an SST handler ("functions/http/meta.handler"), or
 * undefined when it does not exist (yet).
 */
export function handlerSource(root: string, handler: string): string | undefined {
  const withoutExport = handler.slice(0, handler.lastIndexOf("."));
  return resolveRelative(path.join(root, "index.ts"), "./" + withoutExport);
}

/** The native packages to `nodejs.install` for a handler. */
export function nativeInstalls(root: string, handler: string): string[] {
  const source = handlerSource(root, handler);
  if (!source) return [];
  const reached = reachablePackages(source);
  return NATIVE_PACKAGES.filter((name) => reached.has(name));
}
