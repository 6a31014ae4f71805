import { describe, expect, it } from "vitest";
import { Hyperparameters, train, type EpochEvent } from "../../core/ml";
import { DomainError } from "../../core/error";
import { generate, SMALL, weightsOf } from "../support/ml";

const data = generate({ rows: 4000, sensors: 4, period: 120, seed: 3, faults: 24 });

describe("trainer contract", () => {
  it("sentinel without a label column fails with training.labels_required", async () => {
    const { labels: _l, ...unlabelled } = data;
    const err = await train({ architecture: "sentinel", hyperparameters: SMALL, data: unlabelled }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).code).toBe("training.labels_required");
  });

  it("rejects too little data with training.insufficient_data", async () => {
    const tiny = generate({ rows: 60, sensors: 2, seed: 1, faults: 0 });
    const err = await train({ architecture: "lstm_autoencoder", hyperparameters: SMALL, data: tiny }).catch((e: unknown) => e);
    expect((err as DomainError).code).toBe("training.insufficient_data");
  });

  it("gaps (NaN) and constant sensors are handled: finite losses, sensible normalisation", async () => {
    const gappy = generate({ rows: 1200, sensors: 3, period: 60, seed: 9, faults: 2 });
    gappy.columns[0]!.fill(NaN, 0, 5); // leading gap
    gappy.columns[1]!.fill(NaN, 400, 420); // gap inside the training split
    gappy.columns.push(new Float32Array(1200).fill(3.5)); // constant sensor
    gappy.features.push("constant");
    const r = await train({ architecture: "lstm_autoencoder", hyperparameters: { ...SMALL, epochs: 1, sequence_length: 10 }, data: gappy });
    expect(Number.isFinite(r.history[0]!.train_loss)).toBe(true);
    expect(Number.isFinite(r.history[0]!.val_loss)).toBe(true);
    const norm = JSON.parse(r.metadata.normalisation!) as { mean: number[]; std: number[] };
    expect(norm.std[3]).toBe(1);
    expect(norm.mean[3]).toBeCloseTo(3.5, 5);
    expect(norm.mean.every((m) => Number.isFinite(m))).toBe(true);
  });

  it("hyperparameter schema applies defaults and validates ranges", () => {
    const hp = Hyperparameters.parse({});
    expect(hp).toMatchObject({ learning_rate: 0.001, batch_size: 64, epochs: 20, hidden_dim: 64, bottleneck_dim: 32, num_layers: 2, sequence_length: 60, optimizer: "adam", loss: "mse", patience: 10 });
    expect(() => Hyperparameters.parse({ num_layers: 5 })).toThrow();
    expect(() => Hyperparameters.parse({ epochs: 1001 })).toThrow();
    expect(() => Hyperparameters.parse({ sequence_length: 1 })).toThrow();
    expect(() => Hyperparameters.parse({ dropout: 0.95 })).toThrow();
    expect(() => Hyperparameters.parse({ optimizer: "rmsprop" })).toThrow();
  });

  it("same seed and data give identical weights; another seed does not", async () => {
    const hp = { ...SMALL, epochs: 2, optimizer: "adamw", weight_decay: 0.01 } as const;
    const a = await train({ architecture: "gru_predictor", hyperparameters: hp, data });
    const b = await train({ architecture: "gru_predictor", hyperparameters: hp, data });
    const c = await train({ architecture: "gru_predictor", hyperparameters: { ...hp, seed: 2 }, data });
    expect(Buffer.from(a.model).equals(Buffer.from(b.model))).toBe(true);
    expect(weightsOf(a.model).get("head.W")).toEqual(weightsOf(b.model).get("head.W"));
    expect(weightsOf(a.model).get("head.W")).not.toEqual(weightsOf(c.model).get("head.W"));
  });

  it("stop mid-epoch + resume from the checkpoint ends with the same weights as an uninterrupted run", async () => {
    const hp = { ...SMALL, epochs: 3, dropout: 0.2 };
    const full = await train({ architecture: "lstm_autoencoder", hyperparameters: hp, data });
    let batches = 0;
    let perEpoch = 0;
    let saved: Uint8Array | undefined;
    const checkpoints: number[] = [];
    const first = await train({
      architecture: "lstm_autoencoder",
      hyperparameters: hp,
      data,
      onEpoch: (e) => {
        if (e.epoch === 1) perEpoch = batches;
      },
      // stop in the middle of epoch 2
      shouldStop: () => ++batches > perEpoch * 1.5 && perEpoch > 0,
      onCheckpoint: async (state, epoch) => {
        saved = state;
        checkpoints.push(epoch);
      },
    });
    expect(first.stopped).toBe(true);
    expect(first.epochsRun).toBe(1);
    expect(checkpoints).toEqual([1, 1]); // after epoch 1, then on stop (mid-epoch 2)
    const resumed = await train({ architecture: "lstm_autoencoder", hyperparameters: hp, data, checkpoint: saved });
    expect(resumed.stopped).toBe(false);
    expect(resumed.epochsRun).toBe(3);
    expect(resumed.history).toEqual(full.history);
    expect(weightsOf(resumed.model)).toEqual(weightsOf(full.model));
    // a checkpoint is bound to its data
    const other = generate({ rows: 4000, sensors: 4, period: 120, seed: 4, faults: 24 });
    const err = await train({ architecture: "lstm_autoencoder", hyperparameters: hp, data: other, checkpoint: saved }).catch((e: unknown) => e);
    expect((err as DomainError).code).toBe("training.checkpoint_mismatch");
  });

  it("awaits async epoch callbacks with complete events; early stopping respects patience", async () => {
    const events: EpochEvent[] = [];
    const order: string[] = [];
    const r = await train({
      architecture: "sentinel",
      hyperparameters: { ...SMALL, epochs: 40, patience: 2, learning_rate: 0.01 },
      data,
      onEpoch: async (e) => {
        order.push(`start${e.epoch}`);
        await new Promise((res) => setTimeout(res, 5));
        events.push(e);
        order.push(`end${e.epoch}`);
      },
    });
    expect(order.slice(0, 4)).toEqual(["start1", "end1", "start2", "end2"]);
    expect(events.map((e) => e.epoch)).toEqual(r.history.map((h) => h.epoch));
    for (const e of events) {
      expect(e.total_epochs).toBe(40);
      expect(e.learning_rate).toBe(0.01);
      expect(e.best_val_loss).toBeLessThanOrEqual(e.val_loss);
      expect(e.elapsed_seconds).toBeGreaterThan(0);
      expect(e.estimated_remaining_seconds).toBeGreaterThanOrEqual(0);
    }
    expect(events.at(-1)!.estimated_remaining_seconds).toBe(0);
    if (r.epochsRun < 40) {
      // stopped early: the last `patience` epochs did not improve on the best
      const best = Math.min(...r.history.map((h) => h.val_loss));
      const tail = r.history.slice(-2);
      for (const h of tail) expect(h.val_loss).toBeGreaterThanOrEqual(best);
      expect(r.history.findIndex((h) => h.val_loss === best)).toBe(r.epochsRun - 3);
    }
  });
});

