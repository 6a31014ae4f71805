/**
 * A tenant's model reservations against max_models: its models plus its runs
 * that may still produce one. The `models` usage counter (core/billing/usage)
 * takes one in the same transaction that creates a run, so concurrent starts
 * cannot overshoot the limit and a run never finishes over it; a run that
 * ends with a model keeps its reservation for the model, one that ends
 * without gives it back, and so does deleting a model, each in the
 * transaction of that change.
 */
import { TrainingRunEntity, type RunStatus } from "../training/entities/run";
import { ModelEntity } from "./entity";

/** Run statuses that still hold a reservation (they may produce a model). */
export const RESERVING_STATUSES: readonly RunStatus[] = ["queued", "running", "stopping"];

/**
 * Counts a tenant's reservations from its records, for a tenant that has no
 * counter yet: its models, and its unfinished runs whose model is not
 * recorded yet (a run records its model just before it finishes).
 * Reads the run entity's table item only; the training module owns runs.
 */
export async function countReservations(tenantId: string): Promise<number> {
  const [models, runs] = await Promise.all([
    ModelEntity.query.byTenant({ tenantId }).go({ pages: "all", attributes: ["trainingRunId"] }),
    TrainingRunEntity.query
      .byTenant({ tenantId })
      .where((a, op) => RESERVING_STATUSES.map((status) => op.eq(a.status, status)).join(" OR "))
      .go({ pages: "all", attributes: ["runId"] }),
  ]);
  const modelled = new Set(models.data.map((model) => model.trainingRunId));
  return models.data.length + runs.data.filter((run) => !modelled.has(run.runId)).length;
}
