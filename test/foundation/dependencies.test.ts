import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

// The module rule of core/README.md, read from its "Layers" list and checked
// against every relative import (static, re-export and dynamic) in core/.

const CORE = path.resolve("core");
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?\sfrom\s+"(\.[^"]+)"|(?:^|\n)\s*import\s+"(\.[^"]+)"|import\(\s*"(\.[^"]+)"\s*\)/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith(".ts") ? [full] : [];
  });
}

/** The module a file of core/ belongs to: its top folder, or its own name at the top. */
function moduleOf(file: string): string {
  const [first, ...rest] = path.relative(CORE, file).split(path.sep);
  return rest.length > 0 ? first! : first!.replace(/\.ts$/, "");
}

function isEntityFile(file: string): boolean {
  const relative = path.relative(CORE, file).split(path.sep).join("/");
  return /(^|\/)(entity|entities)\.ts$|-entity\.ts$|\/entities\//.test(relative);
}

interface Import {
  from: string;
  to: string;
  line: string;
}

/** Imports from one module to another, leaving out reads of entity files (see core/README.md). */
function moduleImports(): Import[] {
  return sourceFiles(CORE).flatMap((file) => {
    const source = readFileSync(file, "utf8");
    return [...source.matchAll(IMPORT)].flatMap((match) => {
      const specifier = (match[1] ?? match[2] ?? match[3])!;
      const target = path.resolve(path.dirname(file), specifier);
      if (!target.startsWith(CORE + path.sep)) return [];
      const targetFile = target.endsWith(".ts") ? target : `${target}.ts`;
      if (isEntityFile(targetFile)) return [];
      const from = moduleOf(file);
      const to = moduleOf(targetFile);
      return from === to ? [] : [{ from, to, line: `${path.relative(CORE, file)}: "${specifier}"` }];
    });
  });
}

/** Module name → its line in core/README.md's layer list (0 = top). */
function documentedLayers(): Map<string, number> {
  const readme = readFileSync(path.join(CORE, "README.md"), "utf8");
  const section = readme.split(/^## Layers.*$/m)[1] ?? "";
  const layers = new Map<string, number>();
  section
    .split("\n")
    .filter((line) => line.startsWith("- "))
    .forEach((line, index) => {
      const names = line.split(":")[0]!.matchAll(/`([a-z-]+)`/g);
      for (const [, name] of names) layers.set(name!, index);
    });
  return layers;
}

function findCycle(imports: Import[]): string[] | undefined {
  const edges = new Map<string, Set<string>>();
  for (const { from, to } of imports) edges.set(from, (edges.get(from) ?? new Set()).add(to));
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    state.set(node, "open");
    stack.push(node);
    for (const next of edges.get(node) ?? []) {
      if (state.get(next) === "open") return [...stack.slice(stack.indexOf(next)), next];
      if (!state.has(next)) {
        const cycle = visit(next);
        if (cycle) return cycle;
      }
    }
    stack.pop();
    state.set(node, "done");
    return undefined;
  };
  for (const node of edges.keys()) {
    if (state.has(node)) continue;
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}

describe("core module dependencies", () => {
  const imports = moduleImports();
  const layers = documentedLayers();

  it("finds the imports it checks", () => {
    expect(imports.length).toBeGreaterThan(50);
    expect(layers.get("auth")).toBeLessThan(layers.get("user")!);
  });

  it("has every module of core/ on a line of core/README.md's layer list", () => {
    const modules = new Set(sourceFiles(CORE).map(moduleOf));
    expect([...modules].filter((name) => !layers.has(name)).sort()).toEqual([]);
  });

  it("imports only modules on the same layer or below", () => {
    const upward = imports.filter(({ from, to }) => layers.get(from)! > layers.get(to)!);
    expect(upward.map(({ from, to, line }) => `${from} → ${to} (${line})`)).toEqual([]);
  });

  it("has no cycle between modules", () => {
    expect(findCycle(imports)).toBeUndefined();
  });
});
