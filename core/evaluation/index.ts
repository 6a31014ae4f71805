/**
 * Evaluations: the test-split metrics recorded when a run finishes, and the
 * on-demand gradient evaluation (see ./gradient for what each metric means),
 * which runs asynchronously on the training queue.
 */
export * as Evaluation from "./index";

import { z } from "zod";
import { assertRole, useTenant } from "../actor";
import { Cursor } from "../cursor";
import { conflict, isConditionalFailure, notFound } from "../error";
import { logger } from "../logger";
import { enqueue } from "../queue";
import { EvaluationEntity, type EvaluationItem } from "./entity";
import { computeGradientEvaluation } from "./gradient";

export { EvaluationEntity, type EvaluationItem } from "./entity";
export { METRIC_DEFINITIONS } from "./gradient";

/** The training-queue message that computes a gradient evaluation. */
export const GradientMessage = z.object({
  kind: z.literal("gradient_evaluation"),
  evaluation_id: z.string().min(1),
  tenant_id: z.string().min(1),
});
export type GradientMessage = z.infer<typeof GradientMessage>;

export const Info = z.object({
  id: z.string(),
  model_id: z.string(),
  training_run_id: z.string(),
  dataset_id: z.string(),
  metrics: z.record(z.string(), z.unknown()),
  confusion_matrix: z.record(z.string(), z.number()).nullable(),
  training_curves: z.object({ epochs: z.array(z.number()), train_loss: z.array(z.number()), val_loss: z.array(z.number()) }),
  score_distribution: z.record(z.string(), z.number()).nullable(),
  threshold_rule: z.string().nullable(),
  /** how the model turns scores into alarms */
  postprocess: z.object({ smoothing_windows: z.number(), persistence_n: z.number(), persistence_m: z.number() }).nullable(),
  /** fault events of the test split (runs of labelled windows) found by the alarms, with the delay in windows */
  event_detection: z
    .object({ events: z.number(), detected: z.number(), event_recall: z.number().nullable(), mean_delay_windows: z.number().nullable(), max_delay_windows: z.number().nullable() })
    .nullable(),
  /** the test split downsampled for plots: per point the largest smoothed score, any alarm, any label */
  score_timeline: z.object({ bucket: z.number(), max_score: z.array(z.number()), alarm: z.array(z.number()), label: z.array(z.number()).nullable() }).nullable(),
  gradient_status: z.enum(["none", "running", "completed", "failed"]),
  gradient_evaluation: z.record(z.string(), z.unknown()).nullable(),
  gradient_error: z.string().nullable(),
  created_at: z.string(),
});
export type Info = z.infer<typeof Info>;

export function serialize(item: EvaluationItem): Info {
  const details = (item.details ?? {}) as Record<string, unknown>;
  return {
    id: item.evaluationId,
    model_id: item.modelId,
    training_run_id: item.trainingRunId,
    dataset_id: item.datasetId,
    metrics: (item.metrics ?? {}) as Record<string, unknown>,
    confusion_matrix: (item.confusionMatrix ?? null) as Record<string, number> | null,
    training_curves: item.trainingCurves as Info["training_curves"],
    score_distribution: (item.scoreDistribution ?? null) as Record<string, number> | null,
    threshold_rule: (details.threshold_rule as string | undefined) ?? null,
    postprocess: (details.postprocess as Info["postprocess"] | undefined) ?? null,
    event_detection: (details.event_detection as Info["event_detection"] | undefined) ?? null,
    score_timeline: (details.score_timeline as Info["score_timeline"] | undefined) ?? null,
    gradient_status: item.gradientStatus ?? "none",
    gradient_evaluation: (item.gradientEvaluation ?? null) as Record<string, unknown> | null,
    gradient_error: item.gradientError ?? null,
    created_at: item.createdAt,
  };
}

type NewEvaluation = Omit<EvaluationItem, "createdAt" | "updatedAt" | "gradientStatus">;

/** Records an evaluation; recording the same id twice keeps the first. */
export async function record(input: NewEvaluation): Promise<EvaluationItem> {
  try {
    return (await EvaluationEntity.create(input).go()).data as EvaluationItem;
  } catch (error) {
    if (!isConditionalFailure(error)) throw error;
    const existing = await EvaluationEntity.get({ tenantId: input.tenantId, evaluationId: input.evaluationId }).go({ consistent: true });
    if (!existing.data) throw error;
    return existing.data;
  }
}

/** An evaluation of the calling tenant; another tenant's id is not found. */
export async function get(evaluationId: string): Promise<EvaluationItem> {
  const result = await EvaluationEntity.get({ tenantId: useTenant(), evaluationId }).go({ consistent: true });
  if (!result.data) throw notFound("evaluation", evaluationId);
  return result.data;
}

export async function detail(evaluationId: string): Promise<Info> {
  return serialize(await get(evaluationId));
}

export async function list(options: { limit?: number; cursor?: string | null; modelId?: string } = {}): Promise<{ items: Info[]; cursor: string | null }> {
  const query = EvaluationEntity.query.byTenant({ tenantId: useTenant() });
  const result = options.modelId
    ? await query.where((a, op) => op.eq(a.modelId, options.modelId!)).go({ order: "desc", pages: "all" })
    : await Cursor.page(query, { order: "desc", limit: options.limit ?? 50, cursor: options.cursor });
  return { items: result.data.map(serialize), cursor: options.modelId ? null : (result.cursor ?? null) };
}

/** Deletes the evaluations of a deleted model. */
export async function removeForModel(tenantId: string, modelId: string): Promise<void> {
  const result = await EvaluationEntity.query.byTenant({ tenantId }).where((a, op) => op.eq(a.modelId, modelId)).go({ pages: "all" });
  for (const item of result.data) await EvaluationEntity.delete({ tenantId, evaluationId: item.evaluationId }).go();
}

/**
 * Starts the gradient evaluation of one of the tenant's evaluations: marks it
 * `running` (once; a second request while running is a 409) and queues the
 * work. Poll GET /evaluations/:id for the result.
 */
export async function startGradient(evaluationId: string): Promise<{ status: "running"; message: string }> {
  assertRole("operator");
  const item = await get(evaluationId);
  try {
    await EvaluationEntity.patch({ tenantId: item.tenantId, evaluationId })
      .set({ gradientStatus: "running", gradientRequestedAt: new Date().toISOString() })
      .remove(["gradientError"])
      .where((a, op) => op.ne(a.gradientStatus, "running"))
      .go();
  } catch (error) {
    if (isConditionalFailure(error)) throw conflict("evaluation.gradient_running", "A gradient evaluation is already running", { id: evaluationId }, error);
    throw error;
  }
  await enqueue("training", { kind: "gradient_evaluation", evaluation_id: evaluationId, tenant_id: item.tenantId } satisfies GradientMessage);
  return { status: "running", message: "Gradient evaluation started" };
}

/**
 * Computes and stores a gradient evaluation (the worker side). Idempotent: a
 * finished one is not recomputed; a failure is recorded with its reason.
 */
export async function runGradient(message: GradientMessage): Promise<void> {
  const { tenant_id: tenantId, evaluation_id: evaluationId } = message;
  const found = await EvaluationEntity.get({ tenantId, evaluationId }).go({ consistent: true });
  const item = found.data;
  if (!item || item.gradientStatus !== "running") return;
  try {
    const result = await computeGradientEvaluation(item);
    await EvaluationEntity.patch({ tenantId, evaluationId }).set({ gradientStatus: "completed", gradientEvaluation: result }).go();
  } catch (error) {
    logger.warn("gradient evaluation failed", { evaluationId, error: error as Error });
    await markGradientFailed(tenantId, evaluationId, error instanceof Error ? error.message : "Gradient evaluation failed");
  }
}

export async function markGradientFailed(tenantId: string, evaluationId: string, reason: string): Promise<void> {
  await EvaluationEntity.patch({ tenantId, evaluationId })
    .set({ gradientStatus: "failed", gradientError: reason.slice(0, 500) })
    .where((a, op) => op.eq(a.gradientStatus, "running"))
    .go()
    .catch(() => undefined);
}
