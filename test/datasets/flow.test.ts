import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { beforeAll, describe, expect, it } from "vitest";
import { withActor } from "../../core/actor";
import { s3 } from "../../core/aws";
import { Billing } from "../../core/billing";
import { Config } from "../../core/config";
import { Dataset } from "../../core/dataset";
import { Synthetic } from "../../core/synthetic";
import { call } from "../support/http";
import { createUser, type TestUser } from "../support/users";
import { getDataset, referenceStats, uploadMultipart, uploadPresigned, waitForIngest } from "./helpers";

async function keysUnder(prefix: string): Promise<string[]> {
  const page = await s3().send(new ListObjectsV2Command({ Bucket: Config.bucketName(), Prefix: prefix }));
  return (page.Contents ?? []).map((item) => item.Key!);
}

const ROWS = 3000;
const csv = Synthetic.csvString({ equipment: "air_handler", rows: ROWS, faults: true, seed: 11 });
const lines = csv.trim().split("\n");
const header = lines[0]!.split(",");
const cells = lines.slice(1).map((line) => line.split(","));
const column = (name: string) => cells.map((row) => Number(row[header.indexOf(name)]));

describe("dataset lifecycle over HTTP", () => {
  let alice: TestUser;
  let multipartId: string;
  let presignedId: string;

  beforeAll(async () => {
    alice = await createUser();
    await withActor({ type: "system" }, () => Billing.setPlan({ tenant_id: alice.tenantId, tier: "pro" }));
  });

  it("ingests a direct multipart upload before answering 201 with the seed's fields", async () => {
    const response = await uploadMultipart(alice, csv, { name: "Warren AHU-1", location: "Warren", unit: "AHU-1" });
    expect(response.status).toBe(201);
    const body = response.body;
    multipartId = body.id;
    expect(body).toMatchObject({
      id: expect.stringMatching(/^ds_/),
      name: "Warren AHU-1",
      equipment_type: "air_handler",
      location: "Warren",
      unit: "AHU-1",
      source: "csv_upload",
      status: "ready",
      row_count: ROWS,
      columns: header,
      file_size_bytes: Buffer.byteLength(csv),
      time_range: { start: "2026-01-01T00:00:00Z", end: lines[ROWS]!.split(",")[0] },
      sampling_interval_seconds: 60,
      label_column: "anomaly",
      is_validated: false,
      locked: false,
      created_by: alice.username,
    });
    expect(Object.keys(body.column_stats)).toEqual(header.slice(1));
    expect(body.storage.compressed).toBe(true);
    expect(body.storage.stored_bytes).toBeGreaterThan(0);
    expect(body.storage.stored_bytes).toBeLessThan(Buffer.byteLength(csv));
  });

  it("reports statistics equal to a straightforward computation", async () => {
    const { body } = await getDataset(alice, multipartId);
    for (const name of ["supply_temp", "damper_position", "filter_dp"]) {
      const expected = referenceStats(column(name));
      const stats = body.column_stats[name];
      expect(stats.min).toBe(expected.min);
      expect(stats.max).toBe(expected.max);
      expect(stats.mean).toBeCloseTo(expected.mean, 8);
      expect(stats.std).toBeCloseTo(expected.std, 8);
      expect(stats).toMatchObject({ count_numeric: ROWS, count_missing: 0, count_non_numeric: 0 });
    }
  });

  it("ingests a presigned upload once the object arrives", async () => {
    const { datasetId, put } = await uploadPresigned(alice, csv, { name: "Presigned AHU" });
    expect(put.status).toBe(200);
    presignedId = datasetId;
    const dataset = await waitForIngest(alice, datasetId);
    expect(dataset).toMatchObject({ status: "ready", row_count: ROWS, columns: header, failure: null });
    const direct = (await getDataset(alice, multipartId)).body;
    expect(dataset.column_stats).toEqual(direct.column_stats);
  });

  it("pages through the preview in file order", async () => {
    const response = await call("GET", `/datasets/${presignedId}/preview?page=3&page_size=7`, { token: alice.token });
    expect(response.status).toBe(200);
    const body = response.body;
    expect(body).toMatchObject({ headers: header, total_rows: ROWS, page: 3, page_size: 7, total_pages: Math.ceil(ROWS / 7) });
    // The first column is the timestamp (a string); every other column is numeric and comes back as numbers.
    expect(body.rows).toEqual(cells.slice(14, 21).map((row) => row.map((cell, index) => (index === 0 ? cell : Number(cell)))));
  });

  it.each(["asc", "desc"] as const)("sorts the preview by a numeric column (%s)", async (direction) => {
    const response = await call("GET", `/datasets/${presignedId}/preview?page=2&page_size=50&sort_col=supply_temp&sort_dir=${direction}`, {
      token: alice.token,
    });
    const body = response.body;
    const index = header.indexOf("supply_temp");
    const expected = column("supply_temp").sort((a, b) => (direction === "asc" ? a - b : b - a)).slice(50, 100);
    expect(body.rows.map((row: unknown[]) => row[index])).toEqual(expected);
    expect(body).toMatchObject({ sort_col: "supply_temp", sort_dir: direction });
  });

  it("answers an empty page past the end and 400 for a page size over 1000 or an unknown column", async () => {
    const past = (await call("GET", `/datasets/${presignedId}/preview?page=999&page_size=1000`, { token: alice.token })).body;
    expect(past.rows).toEqual([]);
    const big = await call("GET", `/datasets/${presignedId}/preview?page_size=1001`, { token: alice.token });
    expect(big.status).toBe(400);
    const unknown = await call("GET", `/datasets/${presignedId}/preview?sort_col=nope`, { token: alice.token });
    expect(unknown.status).toBe(400);
    expect((unknown.body).code).toBe("dataset.unknown_column");
  });

  it("recommends architectures from the data, the same way every time", async () => {
    const first = (await call("GET", `/datasets/${presignedId}/recommend`, { token: alice.token })).body;
    const second = (await call("GET", `/datasets/${presignedId}/recommend`, { token: alice.token })).body;
    expect(second).toEqual(first);
    expect(first.dataset_id).toBe(presignedId);
    expect(first.recommendations.map((item: { architecture: string }) => item.architecture).sort()).toEqual([
      "gru_predictor",
      "lstm_autoencoder",
      "sentinel",
    ]);
    for (const item of first.recommendations) {
      expect(item).toMatchObject({
        match_score: expect.any(Number),
        use_case: expect.any(String),
        description: expect.any(String),
        inputs: expect.stringContaining("8 sensor columns"),
        outputs: expect.any(String),
        inference_result: expect.any(String),
        hyperparameters: expect.any(Object),
      });
      expect(item.reasons.length).toBeGreaterThan(0);
    }
    const scores = first.recommendations.map((item: { match_score: number }) => item.match_score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    expect(first.analysis).toMatchObject({ label_column: "anomaly", regular: true, sampling_interval_seconds: 60 });
  });

  it("validates a clean dataset, which locks it, and unlocks it again", async () => {
    const validate = await call("POST", `/datasets/${presignedId}/validate`, { token: alice.token });
    expect(validate.status).toBe(200);
    expect(validate.body).toEqual({
      valid: true,
      issues: [],
      columns_checked: header.length,
      rows_checked: ROWS,
      is_validated: true,
      locked: true,
    });
    const locked = await withActor({ type: "system", tenantId: alice.tenantId }, () => Dataset.get(presignedId));
    expect(() => Dataset.assertTrainable(locked)).not.toThrow();

    const unlock = await call("POST", `/datasets/${presignedId}/unlock`, { token: alice.token });
    expect(unlock.status).toBe(200);
    expect(unlock.body).toEqual({ message: "Dataset unlocked", is_validated: false, locked: false });
    const unlocked = await withActor({ type: "system", tenantId: alice.tenantId }, () => Dataset.get(presignedId));
    expect(() => Dataset.assertTrainable(unlocked)).toThrow(expect.objectContaining({ code: "dataset.not_validated" }));
  });

  it("hands the training worker typed columns", async () => {
    const columns = await Dataset.loadColumns(alice.tenantId, presignedId);
    expect(columns.rowCount).toBe(ROWS);
    expect(columns.columns).toEqual(header.slice(1));
    expect(columns.labelColumn).toBe("anomaly");
    expect(columns.samplingIntervalSeconds).toBe(60);
    expect(columns.timestamps?.[1]! - columns.timestamps?.[0]!).toBe(60_000);
    expect(Array.from(columns.numeric.return_temp!.subarray(0, 5))).toEqual(column("return_temp").slice(0, 5).map(Math.fround));
  });

  it("lists datasets newest first with a cursor in X-Next-Cursor", async () => {
    const first = await call("GET", "/datasets?limit=1", { token: alice.token });
    expect(first.status).toBe(200);
    const cursor = first.headers.get("x-next-cursor");
    expect(cursor).toBeTruthy();
    expect((first.body).map((item: { id: string }) => item.id)).toEqual([presignedId]);
    const second = await call("GET", `/datasets?limit=1&cursor=${encodeURIComponent(cursor!)}`, { token: alice.token });
    expect((second.body).map((item: { id: string }) => item.id)).toEqual([multipartId]);
    const bad = await call("GET", "/datasets?cursor=not-a-cursor", { token: alice.token });
    expect(bad.status).toBe(400);
  });

  it("deletes a dataset with its stored objects", async () => {
    const prefix = `tenants/${alice.tenantId}/datasets/${multipartId}/`;
    expect((await keysUnder(prefix)).length).toBeGreaterThan(0);
    const response = await call("DELETE", `/datasets/${multipartId}`, { token: alice.token });
    expect(response.status).toBe(204);
    expect((await getDataset(alice, multipartId)).status).toBe(404);
    expect(await keysUnder(prefix)).toEqual([]);
    expect(await keysUnder(`uploads/${alice.tenantId}/${multipartId}/`)).toEqual([]);
    const again = await call("DELETE", `/datasets/${multipartId}`, { token: alice.token });
    expect(again.status).toBe(404);
  });
});

describe("validation issues", () => {
  it("words mixed types and missing values like the seed and does not lock", async () => {
    const user = await createUser();
    let text = "timestamp,supply_temp,damper_pos\n";
    for (let i = 0; i < 400; i++) {
      const temp = i % 50 === 0 ? "sensor fault" : (20 + (i % 7)).toString();
      const damper = i % 40 === 0 ? "" : String(i % 100);
      text += `${new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString()},${temp},${damper}\n`;
    }
    const response = await uploadMultipart(user, text);
    const { id } = response.body;
    const result = (await call("POST", `/datasets/${id}/validate`, { token: user.token })).body;
    expect(result).toEqual({
      valid: false,
      issues: [
        "Column 'supply_temp': mixed types detected (numeric: 392, string: 8)",
        "Column 'damper_pos': 10 missing values (2.50%)",
      ],
      columns_checked: 3,
      rows_checked: 400,
      is_validated: false,
      locked: false,
    });
    expect((await getDataset(user, id)).body).toMatchObject({ is_validated: false, locked: false });
  });

  it("reports ragged rows found at ingest", async () => {
    const user = await createUser();
    const rows = Array.from({ length: 30 }, (_, i) => (i === 12 ? `${i},1` : `${i},1,2`));
    const response = await uploadMultipart(user, `t,a,b\n${rows.join("\n")}\n`);
    expect(response.status).toBe(201);
    const { id, ragged_rows } = response.body;
    expect(ragged_rows).toBe(1);
    const result = (await call("POST", `/datasets/${id}/validate`, { token: user.token })).body;
    expect(result.valid).toBe(false);
    expect(result.issues).toContain("1 row has a different number of fields than the header (first at row 13)");
  });
});
