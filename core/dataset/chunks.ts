/**
 * A dataset's columnar copy read one chunk at a time (training, evaluation):
 * nothing is held between reads, so memory does not grow with the dataset.
 */
import { conflict, notFound } from "../error";
import { getObjectBytes } from "../storage";
import type { Profile } from "./analyze";
import { decodeChunk } from "./columnar";
import { DatasetEntity } from "./entity";
import { chunkKey } from "./table";

export interface NumericChunks {
  /** numeric columns in file order (the label column included, if any) */
  columns: string[];
  /** a 0/1 column named anomaly/fault/label (also in `columns`) */
  labelColumn?: string;
  rows: number;
  /** rows of every chunk but the last */
  chunkRows: number;
  chunkCount: number;
  samplingIntervalSeconds?: number;
  /** The numeric columns of chunk `index` (NaN = missing). */
  read(index: number): Promise<Record<string, Float32Array>>;
}

/**
 * Opens a ready dataset's columnar copy for chunk-wise reading. Needs no actor: the tenant is explicit.
 * @throws dataset.not_found (404), dataset.not_ready (409)
 */
export async function openNumericChunks(tenantId: string, datasetId: string): Promise<NumericChunks> {
  const item = /^ds_[a-z0-9]+$/.test(datasetId) ? (await DatasetEntity.get({ tenantId, datasetId }).go({ consistent: true })).data : undefined;
  if (!item) throw notFound("dataset", datasetId);
  const { columnarPrefix: prefix, chunkCount } = item;
  const profile = item.profile as Profile | undefined;
  if (item.status !== "ready" || !profile || !prefix || chunkCount === undefined) {
    throw conflict("dataset.not_ready", `Dataset is ${item.status === "failed" ? "failed" : "not ready yet"} (status: ${item.status})`, { status: item.status });
  }
  const columns = profile.columns.filter((name) => profile.column_kinds[name] === "numeric");
  // In a pass over chunks in order, fetch the next one while this one is decoded and used.
  let ahead: { index: number; bytes: Promise<Uint8Array> } | undefined;
  let last = -1;
  const fetchChunk = (index: number) => {
    const bytes = ahead?.index === index ? ahead.bytes : getObjectBytes(chunkKey(prefix, index));
    const inOrder = index === last + 1;
    last = index;
    ahead = undefined;
    if (inOrder && index + 1 < chunkCount) {
      const next = getObjectBytes(chunkKey(prefix, index + 1));
      next.catch(() => undefined); // a failed read-ahead surfaces when (if) that chunk is read
      ahead = { index: index + 1, bytes: next };
    }
    return bytes;
  };
  return {
    columns,
    labelColumn: profile.label_column ?? undefined,
    rows: profile.row_count,
    chunkRows: profile.chunk_rows,
    chunkCount,
    samplingIntervalSeconds: profile.sampling_interval_seconds ?? undefined,
    read: async (index) => {
      const chunk = decodeChunk(await fetchChunk(index));
      const numeric: Record<string, Float32Array> = {};
      for (const column of chunk.columns) if (column.kind === "numeric") numeric[column.name] = column.values;
      return numeric;
    },
  };
}

/**
 * Rows [from, to) of the named numeric columns, reading only the chunks that hold them.
 * A name the dataset does not have as a numeric column is left out of the result.
 */
export async function readNumericRows(chunks: NumericChunks, names: string[], from: number, to: number): Promise<Record<string, Float32Array>> {
  const start = Math.max(0, from);
  const end = Math.min(chunks.rows, to);
  const wanted = names.filter((name) => chunks.columns.includes(name));
  const out: Record<string, Float32Array> = Object.fromEntries(wanted.map((name) => [name, new Float32Array(Math.max(0, end - start))]));
  for (let index = Math.floor(start / chunks.chunkRows); index * chunks.chunkRows < end; index++) {
    const first = index * chunks.chunkRows;
    const numeric = await chunks.read(index);
    for (const name of wanted) {
      const values = numeric[name]!;
      out[name]!.set(values.subarray(Math.max(0, start - first), Math.min(values.length, end - first)), Math.max(0, first - start));
    }
  }
  return out;
}
