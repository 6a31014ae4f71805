import { describe, expect, it } from "vitest";
import { aucRoc, chooseThreshold, compareModels, distribution } from "../../core/ml";
import { alarmsOf, averagePrecision, eventDetection, scoreTimeline, classificationMetrics, FALSE_ALARM_BUDGET, metricsOf, persist, quantile, smooth } from "../../core/ml/evaluate";
import { Rng } from "../../core/ml/rng";

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

  it("threshold rule p99: the empirical quantile of normal validation scores, labelled anomalies excluded; sentinel uses 0.5", () => {
    const scores = Array.from({ length: 1000 }, (_, i) => i / 1000);
    const labels = scores.map((_, i) => (i >= 900 ? 1 : 0));
    expect(chooseThreshold("lstm_autoencoder", scores, undefined, "p99").threshold).toBeCloseTo(quantile(scores, 0.99), 10);
    expect(chooseThreshold("gru_predictor", scores, labels, "p99").threshold).toBeCloseTo(quantile(scores.slice(0, 900), 0.99), 10);
    expect(chooseThreshold("sentinel", scores, labels).threshold).toBe(0.5);
  });

  it("default threshold rule (peaks over threshold) extrapolates the tail to the false-alarm budget", () => {
    // exponential scores: the 1 − budget quantile is −ln(budget) (6.9 for 0.001); p99 of the same sample is 4.6
    const rng = new Rng(5);
    const sample = (n: number) => Array.from({ length: n }, () => -Math.log(1 - rng.next()));
    const large = chooseThreshold("lstm_autoencoder", sample(5000)).threshold;
    expect(large).toBeGreaterThan(-Math.log(FALSE_ALARM_BUDGET) * 0.8);
    expect(large).toBeLessThan(-Math.log(FALSE_ALARM_BUDGET) * 1.25);
    // with 50 validation windows (fewer than 1 / budget) it still lands beyond every one of them
    const small = sample(50);
    expect(chooseThreshold("lstm_autoencoder", small).threshold).toBeGreaterThanOrEqual(Math.max(...small));
    // labelled windows are left out of the calibration
    const labelled = [...sample(200), 100, 100];
    expect(chooseThreshold("lstm_autoencoder", labelled, labelled.map((v) => (v === 100 ? 1 : 0))).threshold).toBeLessThan(100);
  });

  it("alarms: a trailing mean over k windows, then n of the last m over the threshold", () => {
    expect(Array.from(smooth([0, 3, 3, 0, 6], 3))).toEqual([0, 1.5, 2, 2, 3]);
    expect(Array.from(persist([2, 0, 2, 2, 0, 0, 2], 1, 2, 3))).toEqual([0, 0, 1, 1, 1, 0, 0]);
    // one noisy window never raises an alarm, a persisting condition does
    const { alarms } = alarmsOf([0, 0, 5, 0, 0, 0, 5, 5, 5, 5, 0, 0], 2, { smoothing_windows: 3, persistence_n: 2, persistence_m: 3 });
    expect(Array.from(alarms)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1]);
  });

  it("event detection: runs of labelled windows, found when an alarm falls inside, with the delay to it", () => {
    const labels = [0, 1, 1, 1, 0, 0, 1, 1, 0, 1];
    const alarms = [1, 0, 0, 1, 0, 0, 0, 0, 0, 1];
    expect(eventDetection(alarms, labels)).toEqual({ events: 3, detected: 2, event_recall: 2 / 3, mean_delay_windows: 1, max_delay_windows: 2 });
    expect(eventDetection([1, 0], [0, 0])).toEqual({ events: 0, detected: 0, event_recall: null, mean_delay_windows: null, max_delay_windows: null });
    const timeline = scoreTimeline([1, 5, 2, 2, 9], [0, 1, 0, 0, 0], [0, 0, 0, 1, 1], 2);
    expect(timeline).toEqual({ bucket: 3, max_score: [5, 9], alarm: [1, 0], label: [0, 1] });
  });

  it("FAR, MAR and average precision of alarms against labels", () => {
    const { metrics } = metricsOf([1, 0, 1, 0, 0, 1], [1, 1, 0, 0, 0, 1], [0.9, 0.3, 0.8, 0.1, 0.2, 0.7]);
    expect(metrics.false_alarm_rate).toBeCloseTo(1 / 3, 10);
    expect(metrics.missed_alarm_rate).toBeCloseTo(1 / 3, 10);
    // ranking 0.9(+) 0.8(−) 0.7(+) 0.3(+): AP = (1 + 2/3 + 3/4) / 3
    expect(averagePrecision([0.9, 0.3, 0.8, 0.1, 0.2, 0.7], [1, 1, 0, 0, 0, 1])).toBeCloseTo((1 + 2 / 3 + 3 / 4) / 3, 10);
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
