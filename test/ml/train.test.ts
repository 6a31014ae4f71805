import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { buildEvalGraph, decodeModel, defineModel, Hyperparameters, readModelMetadata, score, train, type EpochEvent, type HyperparametersInput, type TrainResult } from "../../core/ml";
import { DomainError } from "../../core/error";
import { generate } from "./generator";

const SMALL: HyperparametersInput = { sequence_length: 20, hidden_dim: 16, bottleneck_dim: 8, num_layers: 1, epochs: 8, batch_size: 32, learning_rate: 0.005, stride: 2, seed: 1 };
const data = generate({ rows: 4000, sensors: 4, period: 120, seed: 3, faults: 24 });

function weightsOf(model: Uint8Array): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [k, v] of decodeModel(model).initializers) out.set(k, v.data as Float32Array);
  return out;
}

describe("detection quality on generated faults (stuck, drift, spikes, decorrelation)", () => {
  let ae: TrainResult;
  it("lstm_autoencoder: F1 ≥ 0.8 on the test split", async () => {
    ae = await train({ architecture: "lstm_autoencoder", hyperparameters: SMALL, data });
    const m = ae.evaluation.metrics!;
    expect(m.f1).toBeGreaterThanOrEqual(0.8);
    expect(m.auc_roc).toBeGreaterThanOrEqual(0.9);
    const cm = ae.evaluation.confusion_matrix!;
    expect(cm.true_positive + cm.false_positive + cm.true_negative + cm.false_negative).toBe(ae.evaluation.test_windows);
    expect(ae.history.length).toBe(ae.epochsRun);
    expect(ae.evaluation.training_curves.val_loss).toEqual(ae.history.map((h) => h.val_loss));
    expect(ae.bestValLoss).toBe(Math.min(...ae.history.map((h) => h.val_loss)));
    // training reduces the loss
    expect(ae.history.at(-1)!.train_loss).toBeLessThan(ae.history[0]!.train_loss);
  });

  it("gru_predictor: separates faults (AUC ≥ 0.85, F1 ≥ 0.6)", async () => {
    const r = await train({ architecture: "gru_predictor", hyperparameters: SMALL, data });
    expect(r.evaluation.metrics!.auc_roc).toBeGreaterThanOrEqual(0.85);
    expect(r.evaluation.metrics!.f1).toBeGreaterThanOrEqual(0.6);
  });

  it("sentinel: supervised health score separates faults (AUC ≥ 0.85, F1 ≥ 0.6)", async () => {
    const r = await train({ architecture: "sentinel", hyperparameters: { ...SMALL, epochs: 10 }, data });
    expect(r.threshold).toBe(0.5);
    expect(r.evaluation.metrics!.auc_roc).toBeGreaterThanOrEqual(0.85);
    expect(r.evaluation.metrics!.f1).toBeGreaterThanOrEqual(0.6);
  });

  it("unlabelled data: score distribution and expected alarm rate instead of metrics", async () => {
    const { labels: _l, ...unlabelled } = data;
    const r = await train({ architecture: "lstm_autoencoder", hyperparameters: { ...SMALL, epochs: 2 }, data: unlabelled });
    expect(r.evaluation.metrics).toBeNull();
    expect(r.evaluation.confusion_matrix).toBeNull();
    expect(r.evaluation.window_label_rule).toBeNull();
    const d = r.evaluation.score_distribution;
    expect(d.count).toBe(r.evaluation.test_windows);
    expect(d.min).toBeLessThanOrEqual(d.p50);
    expect(d.p50).toBeLessThanOrEqual(d.p99);
    expect(d.p99).toBeLessThanOrEqual(d.max);
    // threshold rule: p99 of the validation window scores
    expect(r.threshold).toBeCloseTo(r.evaluation.validation_score_distribution.p99, 5);
    // the expected alarm rate is the share of stride-1 test windows the exported model flags
    const start = Math.floor(4000 * 0.85);
    const s = await score(r.model, data.columns.map((c) => c.subarray(start)));
    expect(s.scores.length).toBe(r.evaluation.test_windows);
    const flagged = s.flags.reduce((a, b) => a + b, 0) / s.flags.length;
    expect(Math.abs(flagged - r.evaluation.expected_alarm_rate)).toBeLessThanOrEqual(2 / s.flags.length);
  });
});

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

describe("exported inference model", () => {
  for (const architecture of ["lstm_autoencoder", "gru_predictor", "sentinel"] as const) {
    it(`${architecture}: a fresh ORT session on the export reproduces the training graph's forward scores (|Δ| ≤ 1e-4·(1+|s|))`, async () => {
      const hp = { ...SMALL, epochs: 1, num_layers: 2 };
      const r = await train({ architecture, hyperparameters: hp, data });
      const meta = readModelMetadata(r.model);
      expect(meta.architecture).toBe(architecture);
      expect(JSON.parse(meta.features!)).toEqual(data.features);
      expect(Number(meta.threshold)).toBe(r.threshold);
      expect(meta.training_data_sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(JSON.parse(meta.hyperparameters!).hidden_dim).toBe(16);
      const norm = JSON.parse(meta.normalisation!) as { mean: number[]; std: number[] };
      const T = 20;
      const F = 4;
      // 40 raw windows from the start of the test split
      const start = Math.floor(4000 * 0.85);
      const Nw = 40;
      const raw = new Float32Array(Nw * T * F);
      const normd = new Float32Array(Nw * T * F);
      for (let w = 0; w < Nw; w++)
        for (let t = 0; t < T; t++)
          for (let f = 0; f < F; f++) {
            const v = data.columns[f]![start + w + t]!;
            raw[(w * T + t) * F + f] = v;
            normd[(w * T + t) * F + f] = (v - norm.mean[f]!) / norm.std[f]!;
          }
      // training-graph forward (unrolled cells) with the exported weights
      const def = defineModel(architecture, F, Hyperparameters.parse(hp));
      const evalSession = await ort.InferenceSession.create(buildEvalGraph(def));
      const feeds: Record<string, ort.Tensor> = { x: new ort.Tensor("float32", normd, [Nw, T, F]) };
      const weights = weightsOf(r.model);
      for (const p of def.params) feeds[p.name] = new ort.Tensor("float32", weights.get(p.name)!, p.shape);
      if (def.supervised) {
        feeds.label = new ort.Tensor("float32", new Float32Array(Nw), [Nw]);
        feeds.weight = new ort.Tensor("float32", new Float32Array(Nw).fill(1), [Nw]);
      }
      const expected = (await evalSession.run(feeds))["score"]!.data as Float32Array;
      const fresh = await ort.InferenceSession.create(r.model);
      expect(fresh.inputNames).toEqual(["input"]);
      const out = await fresh.run({ input: new ort.Tensor("float32", raw, [Nw, T, F]) });
      const got = out["score"]!.data as Float32Array;
      expect(got.length).toBe(Nw);
      for (let i = 0; i < Nw; i++) expect(Math.abs(got[i]! - expected[i]!)).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(expected[i]!)));
      if (architecture === "lstm_autoencoder") expect(out["reconstruction"]!.dims).toEqual([Nw, T, F]);
      if (architecture === "gru_predictor") expect(out["forecast"]!.dims).toEqual([Nw, F]);
      if (architecture === "sentinel") {
        const health = out["health"]!.data as Float32Array;
        for (let i = 0; i < Nw; i++) expect(health[i]! + got[i]!).toBeCloseTo(1, 5);
      }
      // score(): stride-1 windows over raw rows, same numbers, flags from the threshold
      const rows = data.columns.map((c) => c.subarray(start, start + Nw + T - 1));
      const s = await score(r.model, rows);
      expect(s.scores.length).toBe(Nw);
      for (let i = 0; i < Nw; i++) expect(Math.abs(s.scores[i]! - got[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(got[i]!)));
      for (let i = 0; i < Nw; i++) expect(s.flags[i]).toBe(s.scores[i]! > r.threshold ? 1 : 0);
      expect(s.threshold).toBe(r.threshold);
      await evalSession.release();
      await fresh.release();
    });
  }
});
