/**
 * The dashboard cannot drift from the API: its client's types are generated
 * from the OpenAPI document the API serves, the committed copy must be
 * exactly what the API generates today, and the dashboard must type-check
 * against it.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { apiTypesFile, generateApiTypes } from "../../dev/openapi";

describe("the dashboard's API client", () => {
  it("is generated from the API's current OpenAPI document (run `npm run gen:api` after changing a route)", async () => {
    expect(readFileSync(apiTypesFile, "utf8") === (await generateApiTypes()), "web/src/api/schema.d.ts is stale: run npm run gen:api").toBe(true);
  });

  it("type-checks the whole dashboard against it", async () => {
    const tsc = await promisify(execFile)("npx", ["tsc", "--noEmit", "-p", "web"], { encoding: "utf8" }).then(
      () => ({ code: 0, output: "" }),
      (error: { code: number; stdout: string }) => ({ code: error.code, output: error.stdout }),
    );
    expect(tsc.output).toBe("");
    expect(tsc.code).toBe(0);
  });
});
