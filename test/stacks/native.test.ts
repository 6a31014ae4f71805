/**
 * The import scan that decides which native packages a function's bundle
 * installs (stacks/lib/native.ts), on a throw-away source tree.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handlerSource, nativeInstalls, reachablePackages } from "../../stacks/lib/native";

let root: string;

function write(file: string, text: string) {
  const full = path.join(root, file);
  fs.mkdirSync(path.dirname(full), { recursive: true });
  fs.writeFileSync(full, text);
}

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "flint-native-"));
  write("core/auth/index.ts", `export * as Auth from "./index";\nimport { verify } from "./password";\nexport const x = verify;\n`);
  write("core/auth/password.ts", `import { hash, verify } from "@node-rs/argon2";\nexport { hash, verify };\n`);
  write("core/dataset/columnar.ts", `import { compress } from "zstd-napi";\nimport type { Foo } from "@scope/types/sub";\nexport const c = compress;\n`);
  write("core/ml/train.ts", `export async function train() { const ort = await import("onnxruntime-node"); return ort; }\n`);
  write("functions/http/common.ts", `import { Auth } from "../../core/auth";\nimport { Hono } from "hono";\nimport fs from "node:fs";\nexport { Auth, Hono, fs };\n`);
  write("functions/http/meta.ts", `import { Auth } from "./common";\nexport const handler = () => Auth;\n`);
  write("functions/http/datasets.ts", `import "./common.js";\nexport * from "../../core/dataset/columnar";\nexport const handler = 1;\n`);
  write("functions/jobs/training.ts", `import { train } from "../../core/ml/train";\nexport const handler = train;\n`);
  write("functions/jobs/plain.ts", `import { z } from "zod";\nexport const handler = z;\n`);
});

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe("native package scan", () => {
  it("follows relative imports (extensionless, .js-for-.ts, index files, re-exports)", () => {
    const reached = reachablePackages(path.join(root, "functions/http/datasets.ts"));
    expect([...reached].sort()).toEqual(["@node-rs/argon2", "@scope/types", "hono", "zstd-napi"]);
  });

  it("picks exactly the native packages a handler reaches", () => {
    expect(nativeInstalls(root, "functions/http/meta.handler")).toEqual(["@node-rs/argon2"]);
    expect(nativeInstalls(root, "functions/http/datasets.handler")).toEqual(["@node-rs/argon2", "zstd-napi"]);
    expect(nativeInstalls(root, "functions/jobs/training.handler")).toEqual(["onnxruntime-node"]);
    expect(nativeInstalls(root, "functions/jobs/plain.handler")).toEqual([]);
  });

  it("installs nothing for a handler whose file does not exist yet", () => {
    expect(handlerSource(root, "functions/http/missing.handler")).toBeUndefined();
    expect(nativeInstalls(root, "functions/http/missing.handler")).toEqual([]);
  });
});
