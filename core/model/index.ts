/**
 * Trained models: reading, listing, downloading the ONNX files, deleting,
 * comparing two models and scoring sensor rows with one.
 */
export * as Model from "./index";

import { z } from "zod";
import { assertRole, useTenant } from "../actor";
import { Cursor } from "../cursor";
import { parse } from "../fn";
import { Billing } from "../billing";
import { invalid, isConditionalFailure, notFound } from "../error";
import { logger } from "../logger";
import { compareModels, score as scoreRows } from "../ml";
import { deletePrefix, getObjectBytes } from "../storage";
import { Table } from "../table";
import { EvaluationEntity } from "../evaluation/entity";
import { ModelEntity, type ModelItem } from "./entity";
import { countReservations } from "./quota";

export { ModelEntity, type ModelItem } from "./entity";
export { countReservations, RESERVING_STATUSES } from "./quota";

export const modelPrefix = (tenantId: string, modelId: string) => `tenants/${tenantId}/models/${modelId}/`;
export const modelKey = (tenantId: string, modelId: string, quantized = false) =>
  `${modelPrefix(tenantId, modelId)}${quantized ? "model.int8.onnx" : "model.onnx"}`;

/** Most rows one scoring request may send (JSON or CSV). */
export const MAX_SCORE_ROWS = 100_000;

export const Info = z.object({
  id: z.string(),
  name: z.string(),
  architecture: z.string(),
  dataset_id: z.string(),
  equipment_type: z.string().nullable(),
  parameters: z.number(),
  input_features: z.number(),
  feature_names: z.array(z.string()),
  hidden_dim: z.number().nullable(),
  bottleneck_dim: z.number().nullable(),
  num_layers: z.number().nullable(),
  sequence_length: z.number(),
  training_run_id: z.string(),
  evaluation_id: z.string().nullable(),
  hyperparameters: z.record(z.string(), z.unknown()),
  metrics: z.record(z.string(), z.unknown()),
  /** Where the ONNX file is served (the seed's file_path; storage keys are not exposed). */
  file_path: z.string(),
  file_size_bytes: z.number(),
  quantized: z.boolean(),
  quantized_size_bytes: z.number().nullable(),
  stopped_early: z.boolean(),
  epochs_trained: z.number().nullable(),
  status: z.string(),
  created_at: z.string(),
});
export type Info = z.infer<typeof Info>;

export function serialize(model: ModelItem): Info {
  return {
    id: model.modelId,
    name: model.name,
    architecture: model.architecture,
    dataset_id: model.datasetId,
    equipment_type: model.equipmentType ?? null,
    parameters: model.parameters,
    input_features: model.featureNames.length,
    feature_names: model.featureNames,
    hidden_dim: model.hiddenDim ?? null,
    bottleneck_dim: model.bottleneckDim ?? null,
    num_layers: model.numLayers ?? null,
    sequence_length: model.sequenceLength,
    training_run_id: model.trainingRunId,
    evaluation_id: model.evaluationId ?? null,
    hyperparameters: (model.hyperparameters ?? {}) as Record<string, unknown>,
    metrics: (model.metrics ?? {}) as Record<string, unknown>,
    file_path: `/api/v1/models/${model.modelId}/download`,
    file_size_bytes: model.fileSizeBytes,
    quantized: model.quantized ?? false,
    quantized_size_bytes: model.quantizedSizeBytes ?? null,
    stopped_early: model.stoppedEarly ?? false,
    epochs_trained: model.epochsTrained ?? null,
    status: model.status,
    created_at: model.createdAt,
  };
}

type NewModel = Omit<ModelItem, "createdAt" | "updatedAt" | "status">;

/**
 * Records a model (the worker calls it after uploading the ONNX files).
 * Creating the same model id twice is a no-op that returns the first record.
 */
export async function record(input: NewModel): Promise<ModelItem> {
  try {
    const created = await ModelEntity.create({ ...input, status: "ready" }).go();
    return created.data as ModelItem;
  } catch (error) {
    if (!isConditionalFailure(error)) throw error;
    const existing = await ModelEntity.get({ tenantId: input.tenantId, modelId: input.modelId }).go({ consistent: true });
    if (!existing.data) throw error;
    return existing.data;
  }
}

/** A model of the calling tenant; another tenant's id is not found. */
export async function get(modelId: string): Promise<ModelItem> {
  const result = await ModelEntity.get({ tenantId: useTenant(), modelId }).go();
  if (!result.data) throw notFound("model", modelId);
  return result.data;
}

export async function detail(modelId: string): Promise<Info> {
  return serialize(await get(modelId));
}

/** The calling tenant's models, newest first. @throws request.invalid_cursor */
export async function list(options: { limit?: number; cursor?: string | null } = {}): Promise<{ items: Info[]; cursor: string | null }> {
  const result = await Cursor.page(ModelEntity.query.byTenant({ tenantId: useTenant() }), {
    order: "desc",
    limit: options.limit ?? 50,
    cursor: options.cursor,
  });
  return { items: result.data.map(serialize), cursor: result.cursor ?? null };
}

/** How many models a tenant has (for the max_models plan limit). */
export async function count(tenantId: string): Promise<number> {
  const result = await ModelEntity.query.byTenant({ tenantId }).go({ pages: "all", attributes: ["modelId"] });
  return result.data.length;
}

/** The ONNX bytes of a model: float32 by default, int8 with `quantized`. */
export async function download(modelId: string, options: { quantized?: boolean } = {}): Promise<{ bytes: Uint8Array; fileName: string }> {
  const model = await get(modelId);
  if (options.quantized && !model.quantized) throw notFound("quantized_model", modelId);
  const bytes = await getObjectBytes(modelKey(model.tenantId, model.modelId, options.quantized));
  return { bytes, fileName: `${model.modelId}${options.quantized ? ".int8" : ""}.onnx` };
}

/**
 * Deletes a model, its ONNX files and its evaluation. The record goes in one
 * transaction with its max_models reservation, so the slot frees exactly once
 * even when two deletes race.
 * @throws model.not_found, auth.forbidden for viewers
 */
export async function remove(modelId: string): Promise<void> {
  assertRole("operator");
  const model = await get(modelId);
  const { tenantId } = model;
  await Billing.withCounter(tenantId, "models", () => countReservations(tenantId), async () => {
    const result = await Table.transaction
      .write(({ model: models, usage }) => [
        models
          .delete({ tenantId, modelId })
          .where((a, op) => op.exists(a.modelId))
          .commit(),
        Billing.giveOne(usage, tenantId, "models"),
      ])
      .go();
    const refused = Billing.refusedItem(result);
    if (refused === 0) throw notFound("model", modelId);
    if (refused === 1) return Billing.COUNTER_REFUSED;
    return refused ?? "deleted";
  });
  const results = await Promise.allSettled([
    deletePrefix(modelPrefix(tenantId, modelId)),
    model.evaluationId ? EvaluationEntity.delete({ tenantId, evaluationId: model.evaluationId }).go() : undefined,
  ]);
  for (const result of results) {
    if (result.status === "rejected") logger.warn("model files not removed", { modelId, error: result.reason as Error });
  }
  logger.info("model deleted", { modelId, tenantId });
}

function numericMetrics(metrics: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries((metrics ?? {}) as Record<string, unknown>)) {
    if (typeof value === "number" && Number.isFinite(value)) out[key] = value;
  }
  return out;
}

export const CompareInput = z.object({ compare_with: z.string().min(1).max(100) });

export const Comparison = z.object({
  models: z.array(z.object({ id: z.string(), name: z.string(), architecture: z.string(), metrics: z.record(z.string(), z.number()) })),
  winner: z.string(),
  advantage: z.record(z.string(), z.number()),
});

/**
 * Compares two of the tenant's models on their shared metrics (f1 first, then
 * auc_roc, recall, precision, accuracy, val_loss). A positive advantage means
 * the winner is better on that metric.
 */
export async function compare(modelId: string, input: z.input<typeof CompareInput>): Promise<z.infer<typeof Comparison>> {
  const { compare_with } = parse(CompareInput, input);
  if (compare_with === modelId) throw invalid("model.compare_self", "Compare a model with a different model");
  const [a, b] = await Promise.all([get(modelId), get(compare_with)]);
  const left = { id: a.modelId, metrics: numericMetrics(a.metrics) };
  const right = { id: b.modelId, metrics: numericMetrics(b.metrics) };
  const { winner, advantage } = compareModels(left, right);
  return {
    models: [a, b].map((m) => ({ id: m.modelId, name: m.name, architecture: m.architecture, metrics: numericMetrics(m.metrics) })),
    winner,
    advantage,
  };
}

export const ScoreResult = z.object({
  model_id: z.string(),
  threshold: z.number(),
  sequence_length: z.number(),
  feature_names: z.array(z.string()),
  rows: z.number(),
  windows: z.number(),
  anomalies: z.number(),
  /** scores[i] belongs to the window of rows i .. i + sequence_length − 1, i.e. to row i + sequence_length − 1 (earlier rows have none). */
  scores: z.array(z.number()),
  /** scores after the model's smoothing (a trailing mean over `postprocess.smoothing_windows` windows) */
  smoothed_scores: z.array(z.number()),
  /** true where the model raises an alarm: smoothed score over the threshold in at least persistence_n of the last persistence_m windows */
  flags: z.array(z.boolean()),
  postprocess: z.object({ smoothing_windows: z.number(), persistence_n: z.number(), persistence_m: z.number() }),
  /** per window, the sensor with the largest share of the score (null for failure-probability models) */
  top_sensors: z.array(z.string().nullable()),
  /** per window, each sensor's share of the score in feature_names order (sums to the score); null for failure-probability models */
  contributions: z.array(z.array(z.number())).nullable(),
});
export type ScoreResult = z.infer<typeof ScoreResult>;

/** Rows in the model's feature order, as JSON arrays or as CSV text. */
export type ScoreInput = { rows: number[][] } | { csv: string };

/**
 * The files of recently scored models, newest last. A model's file never
 * changes once written, and core/ml keeps one ONNX Runtime session per byte
 * array, so a model scored again reuses its session instead of downloading
 * the file and building a session per request.
 */
const recentlyScored = new Map<string, Uint8Array>();
const RECENTLY_SCORED_MAX = 8;

async function scoringBytes(key: string): Promise<Uint8Array> {
  const cached = recentlyScored.get(key);
  if (cached) {
    recentlyScored.delete(key);
    recentlyScored.set(key, cached);
    return cached;
  }
  const bytes = await getObjectBytes(key);
  recentlyScored.set(key, bytes);
  if (recentlyScored.size > RECENTLY_SCORED_MAX) recentlyScored.delete(recentlyScored.keys().next().value!);
  return bytes;
}

/**
 * Scores sensor rows with a model through ONNX Runtime: one anomaly score per
 * window of `sequence_length` consecutive rows, flagged above the model's
 * threshold. A CSV may carry a header row: named columns are then matched to
 * the model's features by name, otherwise columns are taken in feature order.
 *
 * @throws scoring.invalid_rows (400) for ragged or non-numeric rows, scoring.too_few_rows, scoring.too_many_rows
 */
export async function score(modelId: string, input: ScoreInput): Promise<ScoreResult> {
  const model = await get(modelId);
  const features = model.featureNames;
  const rows = "rows" in input ? input.rows : parseCsv(input.csv, features);
  if (rows.length > MAX_SCORE_ROWS) throw invalid("scoring.too_many_rows", `At most ${MAX_SCORE_ROWS} rows per request`, { rows: rows.length });
  if (rows.length < model.sequenceLength) {
    throw invalid("scoring.too_few_rows", `Scoring needs at least sequence_length (${model.sequenceLength}) rows`, {
      rows: rows.length,
      sequence_length: model.sequenceLength,
    });
  }
  const columns = features.map(() => new Float32Array(rows.length));
  rows.forEach((row, r) => {
    if (!Array.isArray(row) || row.length !== features.length) {
      throw invalid("scoring.invalid_rows", `Row ${r + 1} has ${Array.isArray(row) ? row.length : 0} values; the model expects ${features.length}`, {
        row: r + 1,
        expected: features.length,
        feature_names: features,
      });
    }
    row.forEach((value, f) => {
      if (typeof value !== "number" || !Number.isFinite(value)) {
        throw invalid("scoring.invalid_rows", `Row ${r + 1}, column ${f + 1} is not a finite number`, { row: r + 1, column: f + 1 });
      }
      columns[f]![r] = value;
    });
  });
  const result = await scoreRows(await scoringBytes(modelKey(model.tenantId, model.modelId)), columns);
  const scores = Array.from(result.scores, (value) => Math.round(value * 1e6) / 1e6);
  const smoothed = Array.from(result.smoothed, (value) => Math.round(value * 1e6) / 1e6);
  const F = features.length;
  const contributions = result.contributions
    ? Array.from({ length: scores.length }, (_, w) => Array.from(result.contributions!.subarray(w * F, (w + 1) * F), (value) => Math.round(value * 1e6) / 1e6))
    : null;
  const topSensors = contributions ? contributions.map((row) => features[row.indexOf(Math.max(...row))] ?? null) : scores.map(() => null);
  const flags = Array.from(result.flags, (flag) => flag === 1);
  await Billing.consumeTokens(model.tenantId, Billing.scoringTokens({ windows: scores.length }), {
    reason: "scoring",
    resource_id: model.modelId,
  }).catch((error: unknown) => logger.warn("scoring tokens not recorded", { modelId, error: error as Error }));
  return {
    model_id: model.modelId,
    threshold: result.threshold,
    sequence_length: model.sequenceLength,
    feature_names: features,
    rows: rows.length,
    windows: scores.length,
    anomalies: flags.filter(Boolean).length,
    scores,
    smoothed_scores: smoothed,
    flags,
    postprocess: result.postprocess,
    top_sensors: topSensors,
    contributions,
  };
}

/** CSV text to rows in feature order; a header row (any non-numeric cell) maps columns by name. */
export function parseCsv(text: string, features: string[]): number[][] {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== "");
  if (lines.length === 0) return [];
  const split = (line: string) => line.split(",").map((cell) => cell.trim().replace(/^"(.*)"$/, "$1"));
  const first = split(lines[0]!);
  const isHeader = first.some((cell) => cell === "" || !Number.isFinite(Number(cell)));
  let order = features.map((_, index) => index);
  if (isHeader) {
    order = features.map((name) => first.indexOf(name));
    const missing = features.filter((_, index) => order[index] === -1);
    if (missing.length > 0) {
      throw invalid("scoring.missing_columns", "The CSV header lacks some of the model's features", { missing, feature_names: features });
    }
  }
  return lines.slice(isHeader ? 1 : 0).map((line, index) => {
    const cells = split(line);
    if (!isHeader && cells.length !== features.length) {
      throw invalid("scoring.invalid_rows", `CSV line ${index + 1} has ${cells.length} values; the model expects ${features.length}`, {
        line: index + 1,
        expected: features.length,
      });
    }
    return order.map((column) => {
      const cell = cells[column];
      return cell === undefined || cell === "" ? Number.NaN : Number(cell);
    });
  });
}
