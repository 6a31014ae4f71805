import { describe, expect, it } from "vitest";
import { decodeModel, score, train, type TrainResult } from "../../core/ml";
import { generate, SMALL, weightsOf } from "../support/ml";

const data = generate({ rows: 4000, sensors: 4, period: 120, seed: 3, faults: 24 });

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

  it("gru_predictor with loss bce: supervised failure probability (AUC ≥ 0.85)", async () => {
    const r = await train({ architecture: "gru_predictor", hyperparameters: { ...SMALL, loss: "bce", epochs: 10 }, data });
    expect(r.threshold).toBe(0.5);
    expect(r.metadata.outputs).toBe(JSON.stringify(["score", "health"]));
    expect(r.metadata.task).toBe("classification");
    expect(decodeModel(r.model).initializers.get("head.W")!.dims).toEqual([16, 1]);
    expect(r.evaluation.metrics!.auc_roc).toBeGreaterThanOrEqual(0.85);
    const { labels: _l, ...unlabelled } = data;
    const err = await train({ architecture: "gru_predictor", hyperparameters: { ...SMALL, loss: "bce" }, data: unlabelled }).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe("training.labels_required");
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
    // threshold rule: a tail fit to the (smoothed) validation scores, never below the largest of them
    expect(r.threshold).toBeGreaterThanOrEqual(r.evaluation.validation_score_distribution.p99);
    expect(r.evaluation.threshold_rule).toContain("peaks over threshold");
    // the expected alarm rate is the share of stride-1 test windows the exported model flags
    const start = Math.floor(4000 * 0.85);
    const s = await score(r.model, data.columns.map((c) => c.subarray(start)));
    expect(s.scores.length).toBe(r.evaluation.test_windows);
    const flagged = s.flags.reduce((a, b) => a + b, 0) / s.flags.length;
    expect(Math.abs(flagged - r.evaluation.expected_alarm_rate)).toBeLessThanOrEqual(2 / s.flags.length);
  });
});

