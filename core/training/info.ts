/**
 * A run as the API answers it (GET /training/:id), from its record alone: light
 * enough for the WebSocket functions' snapshots, which must not load the ML engine.
 */
import { z } from "zod";
import type { TrainingRunItem } from "./entities/run";

export const Info = z.object({
  id: z.string(),
  dataset_id: z.string(),
  model_id: z.string().nullable(),
  evaluation_id: z.string().nullable(),
  architecture: z.string(),
  hyperparameters: z.record(z.string(), z.unknown()),
  /** Why each hyperparameter the user left out has its value. */
  chosen_because: z.record(z.string(), z.string()),
  status: z.enum(["queued", "running", "stopping", "completed", "failed", "stopped"]),
  current_epoch: z.number(),
  total_epochs: z.number(),
  best_val_loss: z.number().nullable(),
  current_train_loss: z.number().nullable(),
  current_val_loss: z.number().nullable(),
  learning_rate: z.number().nullable(),
  training_time_seconds: z.number(),
  setup_seconds: z.number().nullable(),
  estimated_remaining_seconds: z.number().nullable(),
  checkpoint_epoch: z.number(),
  stop_requested: z.boolean(),
  error: z.string().nullable(),
  queued_at: z.string().nullable(),
  started_at: z.string().nullable(),
  completed_at: z.string().nullable(),
  created_at: z.string(),
});
export type Info = z.infer<typeof Info>;

export function serialize(run: TrainingRunItem): Info {
  return {
    id: run.runId,
    dataset_id: run.datasetId,
    model_id: run.modelId ?? null,
    evaluation_id: run.evaluationId ?? null,
    architecture: run.architecture,
    hyperparameters: (run.hyperparameters ?? {}) as Record<string, unknown>,
    chosen_because: (run.chosenBecause ?? {}) as Record<string, string>,
    status: run.status,
    current_epoch: run.currentEpoch ?? 0,
    total_epochs: run.totalEpochs,
    best_val_loss: run.bestValLoss ?? null,
    current_train_loss: run.currentTrainLoss ?? null,
    current_val_loss: run.currentValLoss ?? null,
    learning_rate: run.learningRate ?? null,
    training_time_seconds: Math.round((run.trainingTimeSeconds ?? 0) * 10) / 10,
    setup_seconds: run.setupSeconds === undefined ? null : Math.round(run.setupSeconds * 10) / 10,
    estimated_remaining_seconds: run.status === "running" ? (run.estimatedRemainingSeconds ?? null) : run.status === "queued" ? null : 0,
    checkpoint_epoch: run.checkpointEpoch ?? 0,
    stop_requested: run.stopRequested ?? false,
    error: run.error ?? null,
    queued_at: run.queuedAt ?? null,
    started_at: run.startedAt ?? run.queuedAt ?? null,
    completed_at: run.completedAt ?? null,
    created_at: run.createdAt,
  };
}

