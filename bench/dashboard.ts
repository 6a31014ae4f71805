/**
 * The dashboard's weight and first load: gzipped JavaScript the first page
 * loads (goal < 300 KB), and the time until the login form is usable in
 * headless Chromium with a cold cache, unthrottled and on a throttled mobile
 * link, next to the Swagger UI docs page served by the same platform.
 */
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import type { Browser } from "playwright-core";
import { launchBrowser } from "../test/web/browser";
import { startPlatform, stopPlatform } from "./platform";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const dist = path.join(root, "web/dist");

/** Lighthouse's mobile profile ("slow 4G"): 1.6 Mbit/s down, 750 kbit/s up, 150 ms round trip. */
const SLOW_4G = { offline: false, latency: 150, downloadThroughput: (1.6 * 1024 * 1024) / 8, uploadThroughput: (750 * 1024) / 8 };

interface PageLoad {
  page: string;
  jsFiles: number;
  jsBytes: number;
  jsGzipBytes: number;
  cssGzipBytes: number;
  medianMs: number;
  medianSlow4gMs: number;
}

function gzipSize(file: string): number {
  return gzipSync(readFileSync(file), { level: 9 }).length;
}

async function measure(browser: Browser, url: string, ready: string, throttle: boolean): Promise<{ ms: number; js: string[]; css: string[] }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  if (throttle) {
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", SLOW_4G);
  }
  const js: string[] = [];
  const css: string[] = [];
  page.on("response", (response) => {
    const pathname = new URL(response.url()).pathname;
    if (pathname.endsWith(".js")) js.push(pathname);
    if (pathname.endsWith(".css")) css.push(pathname);
  });
  const started = performance.now();
  await page.goto(url);
  await page.getByText(ready).first().waitFor({ timeout: 60_000 });
  const ms = performance.now() - started;
  await context.close();
  return { ms, js, css };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export async function benchDashboard(runs = 5): Promise<PageLoad[]> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "flint-bench-web-"));
  const { ready, child } = await startPlatform(dataDir);
  const browser = await launchBrowser();
  try {
    const pages = [
      { page: "dashboard: first page (log in)", url: `${ready.url}/login`, ready: "Log in to Flint" },
      { page: "Swagger UI docs page (/docs/)", url: `${ready.url}/docs/`, ready: "Flint API" },
    ];
    const results: PageLoad[] = [];
    for (const entry of pages) {
      await measure(browser, entry.url, entry.ready, false); // the server's first answer warms its file cache
      const fast: number[] = [];
      const slow: number[] = [];
      let files: { js: string[]; css: string[] } = { js: [], css: [] };
      for (let run = 0; run < runs; run++) {
        const load = await measure(browser, entry.url, entry.ready, false);
        fast.push(load.ms);
        files = load;
        slow.push((await measure(browser, entry.url, entry.ready, true)).ms);
      }
      const local = (pathname: string) => path.join(dist, pathname);
      const js = [...new Set(files.js)];
      results.push({
        page: entry.page,
        jsFiles: js.length,
        jsBytes: js.reduce((sum, file) => sum + readFileSync(local(file)).length, 0),
        jsGzipBytes: js.reduce((sum, file) => sum + gzipSize(local(file)), 0),
        cssGzipBytes: [...new Set(files.css)].reduce((sum, file) => sum + gzipSize(local(file)), 0),
        medianMs: median(fast),
        medianSlow4gMs: median(slow),
      });
    }
    return results;
  } finally {
    await browser.close();
    await stopPlatform(child);
    await rm(dataDir, { recursive: true, force: true });
  }
}

export function printDashboard(results: PageLoad[]): void {
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
  console.log("page                                  JS files   JS raw      JS gzip     CSS gzip   load (median)   slow 4G (median)");
  for (const result of results) {
    console.log(
      `${result.page.padEnd(38)}${String(result.jsFiles).padStart(8)}   ${kb(result.jsBytes).padStart(9)}   ${kb(result.jsGzipBytes).padStart(9)}   ${kb(result.cssGzipBytes).padStart(8)}   ${`${result.medianMs.toFixed(0)} ms`.padStart(13)}   ${`${result.medianSlow4gMs.toFixed(0)} ms`.padStart(16)}`,
    );
  }
  const first = results[0]!;
  console.log(`goal: first page under 300 KB of gzipped JavaScript: ${kb(first.jsGzipBytes)} (${first.jsGzipBytes < 300 * 1024 ? "met" : "missed"})`);
}
