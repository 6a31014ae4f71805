/**
 * The dashboard's build: Preact through esbuild's automatic JSX (no plugin
 * needed), hashed assets under /assets, output in web/dist which the local
 * runtime serves at / and the StaticSite uploads on AWS.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import { swaggerDocs } from "./docs/plugin";

const here = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: here,
  base: "/",
  logLevel: "warn",
  plugins: [swaggerDocs()],
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  resolve: {
    alias: { react: "preact/compat", "react-dom": "preact/compat" },
  },
  build: {
    outDir: path.join(here, "dist"),
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    // Pages load their charts on demand; the first page must stay small.
    chunkSizeWarningLimit: 300,
  },
});
