/**
 * Import throughput from a real PostgreSQL: 1,000,000 sensor rows through
 * POST /datasets/connect (probe, import job streaming through a server-side
 * cursor, ingest), side by side with what a user does without a connector:
 * `psql \copy` to a CSV file, then the presigned upload and its ingest.
 *
 *   npx tsx bench/connectors.ts [--rows 1000000]
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import { startPostgres } from "../test/support/servers";
import { json, startPlatform, stopPlatform } from "./platform";

const run = promisify(execFile);

async function waitReady(baseUrl: string, token: string, datasetId: string): Promise<any> {
  for (;;) {
    const dataset = await json(await fetch(`${baseUrl}/api/v1/datasets/${datasetId}`, { headers: { authorization: `Bearer ${token}` } }));
    if (dataset.status === "ready") return dataset;
    if (dataset.status === "failed") throw new Error(`dataset failed: ${JSON.stringify(dataset.failure ?? dataset)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export async function benchConnectors(options: { rows?: number } = {}) {
  const rows = options.rows ?? 1_000_000;
  const database = await startPostgres();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "flint-bench-connectors-"));
  const { ready, child } = await startPlatform(dataDir);
  try {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await client.query("CREATE TABLE sensor_readings (timestamp timestamptz NOT NULL, supply_temp double precision, return_temp double precision, fan_speed double precision, damper_pos integer)");
    await client.query(
      `INSERT INTO sensor_readings SELECT timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second', round((55 + 3 * sin(i / 400.0))::numeric, 2), round((72 + 2 * cos(i / 300.0))::numeric, 2), 60 + i % 13, (i * 7) % 100 FROM generate_series(0, $1 - 1) AS i`,
      [rows],
    );
    await client.end();

    Object.assign(process.env, ready.env);
    const { User } = await import("../core/user");
    const { Auth } = await import("../core/auth");
    const { Billing } = await import("../core/billing");
    const username = `bench_${Math.random().toString(36).slice(2, 8)}`;
    const password = `bench-${username}-password`;
    const user = await User.create({ username, email: `${username}@bench.flint.local`, password, role: "admin", emailVerified: true });
    await Billing.SubscriptionEntity.put({ tenantId: user.tenantId, tier: "enterprise", status: "active" }).go();
    const login = await Auth.login({ username, password });
    if (login.mfaRequired) throw new Error("a fresh bench user never has MFA");
    const auth = { authorization: `Bearer ${login.token}` };
    const query = "SELECT timestamp, supply_temp, return_temp, fan_speed, damper_pos FROM sensor_readings ORDER BY timestamp";

    // Flint: one request, then the import job and the ingest.
    const connectStarted = performance.now();
    const connected = await json(
      await fetch(`${ready.url}/api/v1/datasets/connect`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ source_type: "postgresql", name: "Bench import", equipment_type: "air_handler", connection_string: database.url, query }),
      }),
    );
    const probeSeconds = (performance.now() - connectStarted) / 1000;
    const imported = await waitReady(ready.url, login.token, connected.id);
    const connectSeconds = (performance.now() - connectStarted) / 1000;

    // The alternative: psql \copy to CSV, then the presigned upload.
    const file = path.join(dataDir, "export.csv");
    const copyStarted = performance.now();
    await run("psql", [database.url, "-v", "ON_ERROR_STOP=1", "-c", `\\copy (${query}) TO '${file}' CSV HEADER`]);
    const copySeconds = (performance.now() - copyStarted) / 1000;
    const size = statSync(file).size;
    const upload = await json(
      await fetch(`${ready.url}/api/v1/datasets/uploads`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ name: "Bench copy", equipment_type: "air_handler", file_size_bytes: size }),
      }),
    );
    const put = await fetch(upload.upload_url, { method: "PUT", headers: upload.headers, body: readFileSync(file) });
    if (!put.ok) throw new Error(`PUT answered ${put.status}`);
    const copied = await waitReady(ready.url, login.token, upload.dataset_id);
    const copyTotalSeconds = (performance.now() - copyStarted) / 1000;
    if (copied.row_count !== imported.row_count) throw new Error(`row counts differ: ${imported.row_count} vs ${copied.row_count}`);

    return {
      rows: imported.row_count as number,
      csv_bytes: size,
      connect: { seconds: connectSeconds, rows_per_second: rows / connectSeconds, probe_seconds: probeSeconds },
      psql_copy_and_upload: { seconds: copyTotalSeconds, rows_per_second: rows / copyTotalSeconds, copy_seconds: copySeconds },
    };
  } finally {
    await stopPlatform(child);
    await database.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export function printConnectors(result: Awaited<ReturnType<typeof benchConnectors>>): void {
  console.log(`${result.rows.toLocaleString("en")} rows from PostgreSQL (${(result.csv_bytes / 1024 / 1024).toFixed(0)} MB as CSV), until the dataset is ready:`);
  console.table([
    { path: "POST /datasets/connect", seconds: +result.connect.seconds.toFixed(1), "rows/s": Math.round(result.connect.rows_per_second), note: `probe answered in ${result.connect.probe_seconds.toFixed(2)} s` },
    {
      path: "psql \\copy + presigned upload",
      seconds: +result.psql_copy_and_upload.seconds.toFixed(1),
      "rows/s": Math.round(result.psql_copy_and_upload.rows_per_second),
      note: `\\copy took ${result.psql_copy_and_upload.copy_seconds.toFixed(1)} s`,
    },
  ]);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const index = process.argv.indexOf("--rows");
  benchConnectors({ rows: index === -1 ? undefined : Number(process.argv[index + 1]) })
    .then((result) => {
      printConnectors(result);
      process.exit(0);
    })
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
}
