import { describe, expect, it } from "vitest";
import { analyzeBuffer } from "../../core/dataset/analyze";
import type { TableColumn } from "../../core/dataset/columnar";
import { DatasetEntity } from "../../core/dataset/entity";
import { autocorrelation, features, recommend, strongestPeak } from "../../core/dataset/recommend";
import { cellValue, chunkKey, computeOrder, loadRows } from "../../core/dataset/table";
import { CsvAnalyzer } from "../../core/dataset/analyze";
import { concatChunks, decodeChunk } from "../../core/dataset/columnar";
import { putObject } from "../../core/storage";
import { Synthetic } from "../../core/synthetic";

function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
}

/** Reference: indices sorted with Array.sort, ties by row, missing last. */
function referenceOrder(values: ArrayLike<number>, descending: boolean): number[] {
  return Array.from({ length: values.length }, (_, i) => i).sort((a, b) => {
    const x = values[a]!;
    const y = values[b]!;
    if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) === Number.isNaN(y) ? a - b : Number.isNaN(x) ? 1 : -1;
    return (descending ? y - x : x - y) || a - b;
  });
}

describe("preview sort order", () => {
  const random = lcg(9);
  const raw = Array.from({ length: 5000 }, () => (random() < 0.05 ? NaN : Math.round((random() - 0.5) * 2e4) / 10));
  raw[10] = -0;
  raw[11] = 0;

  it.each([false, true])("sorts float32 values like a comparison sort, missing last (descending: %s)", (descending) => {
    const values = Float32Array.from(raw);
    const column: TableColumn = { name: "v", kind: "numeric", values, exceptions: new Map() };
    const order = Array.from(computeOrder(column, descending));
    const expected = referenceOrder(values, descending);
    expect(order.map((row) => values[row])).toEqual(expected.map((row) => values[row]));
    expect(new Set(order).size).toBe(values.length);
  });

  it.each([false, true])("sorts float64 timestamps, missing last (descending: %s)", (descending) => {
    const values = Float64Array.from(raw, (value) => (Number.isNaN(value) ? NaN : 1.7e12 + value * 1000));
    const column: TableColumn = { name: "t", kind: "time", values, exceptions: new Map() };
    expect(Array.from(computeOrder(column, descending))).toEqual(referenceOrder(values, descending));
  });

  it("sorts text by its dictionary, missing last", () => {
    const column: TableColumn = { name: "s", kind: "text", codes: Uint32Array.from([2, 0, 1, 3, 2]), dictionary: ["b", "a", "c"] };
    expect(Array.from(computeOrder(column, false))).toEqual([0, 4, 2, 3, 1]);
    expect(Array.from(computeOrder(column, true))).toEqual([3, 2, 0, 4, 1]);
  });
});

describe("chunked reads", () => {
  it("reads a page spanning chunk boundaries the same as the whole table", async () => {
    const csv = Synthetic.csvString({ equipment: "pump", rows: 1000, seed: 3 });
    const chunks: Buffer[] = [];
    const analyzer = new CsvAnalyzer({ chunkRows: 128, onChunk: async (index, bytes) => void (chunks[index] = bytes) });
    await analyzer.push(Buffer.from(csv));
    const profile = await analyzer.finish();
    const prefix = `test/chunked-${Date.now()}/`;
    await Promise.all(chunks.map((bytes, index) => putObject(chunkKey(prefix, index), bytes)));
    const whole = concatChunks(chunks.map(decodeChunk));
    const { table, offset } = await loadRows(prefix, profile.chunk_rows, profile.chunk_count, 250, 530);
    expect(offset).toBe(128);
    for (let row = 250; row < 530; row++) {
      expect(table.columns.map((column) => cellValue(column, row - offset))).toEqual(whole.columns.map((column) => cellValue(column, row)));
    }
  });
});

describe("recommendations", () => {
  it("finds a daily cycle by autocorrelation", () => {
    const series = Float64Array.from({ length: 24 * 20 }, (_, hour) => Math.sin((2 * Math.PI * hour) / 24));
    const peak = strongestPeak(autocorrelation(series)!);
    expect(peak?.lag).toBe(24);
    expect(peak!.value).toBeGreaterThan(0.8);
  });

  it("reports no cycle for a flat series", () => {
    expect(autocorrelation(new Float64Array(100).fill(3))).toBeUndefined();
  });

  it("favours sentinel for a small irregular labelled file and the sequence models for long regular data", async () => {
    let small = "timestamp,a,b,fault\n";
    const random = lcg(5);
    let t = Date.UTC(2026, 0, 1);
    for (let i = 0; i < 300; i++) {
      t += Math.floor(random() * 600_000) + 1000;
      small += `${new Date(t).toISOString()},${random().toFixed(3)},${random().toFixed(3)},${i % 50 === 0 ? 1 : 0}\n`;
    }
    const smallProfile = await analyzeBuffer(Buffer.from(small), { columnar: false });
    const smallTable = { rows: 0, columns: [], bytes: 0 };
    const smallRanking = recommend(features(smallProfile, smallTable));
    expect(smallRanking[0]!.architecture).toBe("sentinel");
    expect(smallRanking[0]!.reasons.join(" ")).toContain("'fault'");

    const long = Synthetic.csvString({ equipment: "chiller", rows: 20_000, seed: 2 });
    const longProfile = await analyzeBuffer(Buffer.from(long), { columnar: false });
    const longRanking = recommend(features(longProfile, { rows: 0, columns: [], bytes: 0 }));
    expect(longRanking[0]!.architecture).toBe("lstm_autoencoder");
    expect(longRanking[0]!.inputs).toBe("8 sensor columns, 60-step sequences");
    expect(recommend(features(longProfile, { rows: 0, columns: [], bytes: 0 }))).toEqual(longRanking);
  });
});

describe("synthetic sensor data", () => {
  it.each(Synthetic.EQUIPMENT_TYPES)("writes the %s sensors after a timestamp column", (equipment) => {
    const csv = Synthetic.csvString({ equipment, rows: 3 });
    const [header, ...rows] = csv.trim().split("\n");
    expect(header!.split(",")).toEqual(["timestamp", ...Synthetic.sensorsOf(equipment)]);
    expect(rows).toHaveLength(3);
    expect(Synthetic.sensorsOf(equipment).length).toBeGreaterThanOrEqual(7);
  });

  it("is deterministic for a seed and differs across seeds", () => {
    const options = { equipment: "pump" as const, rows: 200, faults: true };
    expect(Synthetic.csvString({ ...options, seed: 4 })).toBe(Synthetic.csvString({ ...options, seed: 4 }));
    expect(Synthetic.csvString({ ...options, seed: 4 })).not.toBe(Synthetic.csvString({ ...options, seed: 5 }));
  });

  it("labels a small share of rows as anomalies when faults are injected", async () => {
    const csv = Synthetic.csvString({ equipment: "air_handler", rows: 50_000, faults: true, seed: 8 });
    const profile = await analyzeBuffer(Buffer.from(csv), { columnar: false });
    expect(profile.label_column).toBe("anomaly");
    const share = profile.column_stats.anomaly!.mean!;
    expect(share).toBeGreaterThan(0.005);
    expect(share).toBeLessThan(0.1);
    expect(profile.sampling_interval_seconds).toBe(60);
  });

  it("follows a daily cycle in outside air temperature", async () => {
    const csv = Synthetic.csvString({ equipment: "air_handler", rows: 60 * 24 * 7, seed: 1 });
    const values = csv
      .trim()
      .split("\n")
      .slice(1)
      .map((line) => Number(line.split(",")[3]));
    const hourly = Float64Array.from({ length: values.length / 60 }, (_, hour) => values[hour * 60]!);
    expect(strongestPeak(autocorrelation(hourly)!)?.lag).toBe(24);
  });
});

describe("dataset keys", () => {
  it("puts the tenant in the partition key of a lookup", () => {
    const params = DatasetEntity.get({ tenantId: "tnt_a", datasetId: "ds_1" }).params() as { Key: { pk: string } };
    expect(params.Key.pk).toContain("tnt_a");
    expect(params.Key.pk).toContain("ds_1");
  });

  it("lists a tenant's datasets from gsi1, newest first", () => {
    const params = DatasetEntity.query.byTenant({ tenantId: "tnt_a" }).params({ order: "desc" }) as {
      IndexName: string;
      ScanIndexForward: boolean;
      ExpressionAttributeValues: Record<string, string>;
    };
    expect(params.IndexName).toBe("gsi1");
    expect(params.ScanIndexForward).toBe(false);
    expect(Object.values(params.ExpressionAttributeValues).join(" ")).toContain("tnt_a");
  });
});
