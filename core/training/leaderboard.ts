/**
 * The leaderboard of an `auto` run: every candidate's figures on the same
 * held-out rows, ranked, and keeping a candidate other than the winner as a
 * model of its own (counted against max_models like any model).
 */
export * as TrainingLeaderboard from "./leaderboard";

import { z } from "zod";
import { assertRole, useTenant } from "../actor";
import { Billing } from "../billing";
import { conflict, DomainError, isConditionalFailure, notFound } from "../error";
import { fn } from "../fn";
import { CandidateFigures, type TrainResult } from "../ml";
import { Model } from "../model";
import { countReservations } from "../model/quota";
import { getObjectBytes } from "../storage";
import { Table } from "../table";
import { TrainingRunEntity, type TrainingRunItem } from "./entities/run";
import { getRun } from "./slots";
import { candidateKey, evaluationIdFor, finiteOnly, modelIdFor, storeModel, type Leaderboard } from "./worker";

const Candidate = CandidateFigures.extend({
  /** the model this candidate became: the winner's, or one kept from the leaderboard */
  model_id: z.string().nullable(),
});

export const Info = z.object({
  run_id: z.string(),
  status: z.string(),
  winner: z.string().nullable(),
  ranking_rule: z.string().nullable(),
  candidates: z.array(Candidate),
});
export type Info = z.infer<typeof Info>;

async function autoRun(runId: string): Promise<TrainingRunItem> {
  const run = await getRun(useTenant(), runId);
  if (!run) throw notFound("training_run", runId);
  if (run.architecture !== "auto") throw new DomainError("not_found", "training.no_leaderboard", "Only runs with architecture auto have a leaderboard", { run_id: runId });
  return run;
}

function serialize(run: TrainingRunItem): Info {
  const board = (run.leaderboard ?? { winner: null, ranking_rule: null, candidates: [] }) as Leaderboard;
  return {
    run_id: run.runId,
    status: run.status,
    winner: board.winner ?? null,
    ranking_rule: board.ranking_rule ?? null,
    candidates: (board.candidates ?? []).map((candidate) => Candidate.parse({ model_id: null, ...candidate })),
  };
}

/** The leaderboard so far (it fills in as candidates finish). @throws training_run.not_found, training.no_leaderboard (404) */
export async function get(runId: string): Promise<Info> {
  return serialize(await autoRun(runId));
}

export const KeepInput = z.object({ run_id: z.string().min(1).max(64), candidate: z.string().min(1).max(64) });

/**
 * Turns a trained candidate of a finished auto run into a model (with its
 * evaluation), taking one of the tenant's max_models in the same transaction.
 *
 * @throws training_run.not_found, training.no_leaderboard, training.candidate_not_found (404)
 * @throws training.not_finished (409) while the run trains; training.candidate_kept (409) when it is a model already
 * @throws plan.model_limit_reached (403); auth.forbidden for viewers
 */
export const keep = fn(KeepInput, async ({ run_id, candidate }): Promise<Model.Info> => {
  assertRole("operator");
  const run = await autoRun(run_id);
  if (run.status !== "completed" && run.status !== "stopped") throw conflict("training.not_finished", "The run is still training; keep a candidate once it has finished", { status: run.status });
  const board = run.leaderboard as Leaderboard;
  const entry = board.candidates.find((c) => c.candidate === candidate && c.status === "trained");
  if (!entry) throw new DomainError("not_found", "training.candidate_not_found", `No trained candidate ${candidate} in this run`, { candidate, candidates: board.candidates.map((c) => c.candidate) });
  if (entry.model_id) throw conflict("training.candidate_kept", `Candidate ${candidate} is model ${entry.model_id} already`, { model_id: entry.model_id });

  const { tenantId } = run;
  const [model, quantizedModel, facts] = await Promise.all([
    getObjectBytes(candidateKey(tenantId, run.runId, candidate, "model.onnx")),
    getObjectBytes(candidateKey(tenantId, run.runId, candidate, "model.int8.onnx")),
    getObjectBytes(candidateKey(tenantId, run.runId, candidate, "result.json")),
  ]);
  const result = { ...(JSON.parse(new TextDecoder().decode(facts)) as Omit<TrainResult, "model" | "quantizedModel" | "checkpoint">), model, quantizedModel };
  const modelId = `${modelIdFor(run.runId)}_${candidate}`;
  const stored = await storeModel(run, { features: JSON.parse(result.metadata.features ?? "[]") as string[] }, result, candidate, {
    modelId,
    evaluationId: `${evaluationIdFor(run.runId)}_${candidate}`,
    record: (item) =>
      Billing.takeUnit(tenantId, "models", () => countReservations(tenantId), async (maxModels) => {
        const written = (await Table.transaction
          .write(({ model: models, usage }) => [Billing.takeOne(usage, tenantId, "models", maxModels), models.create({ ...item, status: "ready" }).commit()])
          .go()) as Billing.TransactionResult;
        const outcome = Billing.counterOutcome(written, 0);
        if (outcome === true) return (await Model.ModelEntity.get({ tenantId, modelId }).go({ consistent: true })).data!;
        if (outcome !== false) return outcome;
        // the model exists: a concurrent keep of the same candidate won
        throw conflict("training.candidate_kept", `Candidate ${candidate} is model ${modelId} already`, { model_id: modelId });
      }),
  });
  const candidates = board.candidates.map((c) => (c.candidate === candidate ? { ...c, model_id: modelId } : c));
  await TrainingRunEntity.patch({ tenantId, runId: run.runId })
    .set({ leaderboard: finiteOnly({ ...board, candidates }) })
    .go()
    .catch((error: unknown) => {
      if (!isConditionalFailure(error)) throw error;
    });
  return Model.detail(stored.modelId);
});
