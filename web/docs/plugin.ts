/**
 * Puts the API docs page into the build as dist/docs/: this folder's page and
 * init script, plus Swagger UI from the installed swagger-ui-dist package
 * rather than a CDN, so the docs work offline and under the pages' CSP.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Plugin } from "vite";

const here = path.dirname(fileURLToPath(import.meta.url));
const PAGE_FILES = ["index.html", "init.js"];
const SWAGGER_UI_FILES = ["swagger-ui-bundle.js", "swagger-ui.css"];

export function swaggerDocs(): Plugin {
  return {
    name: "flint:swagger-docs",
    apply: "build",
    generateBundle() {
      const swaggerUiDir = path.dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
      const sources = [
        ...PAGE_FILES.map((file) => path.join(here, file)),
        ...SWAGGER_UI_FILES.map((file) => path.join(swaggerUiDir, file)),
      ];
      // Fixed names, not hashed: the page names them, and they are served with no-cache.
      for (const source of sources) {
        this.emitFile({ type: "asset", fileName: `docs/${path.basename(source)}`, source: readFileSync(source) });
      }
    },
  };
}
