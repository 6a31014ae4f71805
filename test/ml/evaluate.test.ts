import { describe, expect, it } from "vitest";
import { aucRoc, chooseThreshold, compareModels, distribution } from "../../core/ml";
import { classificationMetrics, quantile } from "../../core/ml/evaluate";

describe("metrics", () => {
  it("AUC-ROC matches hand-computed values, with ties", () => {
    expect(aucRoc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(0.75, 10);
    expect(aucRoc([1, 2, 3, 4], [0, 0, 1, 1])).toBe(1);
    expect(aucRoc([1, 2, 3, 4], [1, 1, 0, 0])).toBe(0);
    expect(aucRoc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1])).toBe(0.5);
    expect(aucRoc([1, 2], [0, 0])).toBeNaN();
  });

  it("confusion matrix and derived metrics (score > threshold ⇒ anomaly)", () => {
    const { cm, metrics } = classificationMetrics([0.1, 0.9, 0.6, 0.2, 0.7, 0.5], [0, 1, 0, 1, 1, 0], 0.5);
    expect(cm).toEqual({ true_positive: 2, false_positive: 1, true_negative: 2, false_negative: 1 });
    expect(metrics.precision).toBeCloseTo(2 / 3);
    expect(metrics.recall).toBeCloseTo(2 / 3);
    expect(metrics.f1).toBeCloseTo(2 / 3);
    expect(metrics.accuracy).toBeCloseTo(4 / 6);
  });

  it("quantiles and distribution", () => {
    expect(quantile([0, 10], 0.5)).toBe(5);
    const d = distribution(Float32Array.from({ length: 101 }, (_, i) => i));
    expect(d).toMatchObject({ count: 101, min: 0, p50: 50, p90: 90, p99: 99, max: 100, mean: 50 });
  });

  it("threshold: p99 of normal validation scores, labelled anomalies excluded; sentinel uses 0.5", () => {
    const scores = Array.from({ length: 1000 }, (_, i) => i / 1000);
    const labels = scores.map((_, i) => (i >= 900 ? 1 : 0));
    expect(chooseThreshold("lstm_autoencoder", scores).threshold).toBeCloseTo(quantile(scores, 0.99), 10);
    expect(chooseThreshold("gru_predictor", scores, labels).threshold).toBeCloseTo(quantile(scores.slice(0, 900), 0.99), 10);
    expect(chooseThreshold("sentinel", scores, labels).threshold).toBe(0.5);
  });
});

describe("compareModels", () => {
  it("decides on the primary metric and reports the winner's per-metric margin", () => {
    const a = { id: "a", metrics: { f1: 0.8, auc_roc: 0.95, val_loss: 0.1 } };
    const b = { id: "b", metrics: { f1: 0.9, auc_roc: 0.9, val_loss: 0.2, extra: 1 } };
    const r = compareModels(a, b);
    expect(r.winner).toBe("b");
    expect(r.advantage.f1).toBeCloseTo(0.1);
    expect(r.advantage.auc_roc).toBeCloseTo(-0.05);
    expect(r.advantage.val_loss).toBeCloseTo(-0.1); // b's loss is higher: a disadvantage for the winner
    expect(r.advantage).not.toHaveProperty("extra");
  });
  it("lower-is-better metrics and ties", () => {
    expect(compareModels({ id: "a", metrics: { val_loss: 0.3 } }, { id: "b", metrics: { val_loss: 0.2 } }).winner).toBe("b");
    expect(compareModels({ id: "a", metrics: { f1: 0.5 } }, { id: "b", metrics: { f1: 0.5 } }).winner).toBe("a");
    expect(compareModels({ id: "a", metrics: { throughput: 1 } }, { id: "b", metrics: { throughput: 2 } }).winner).toBe("b");
  });
});
