import { describe, expect, it } from "vitest";
import { alarmsOf, score, train, trainAuto } from "../../core/ml";
import { metricsOf } from "../../core/ml/evaluate";
import { afterTraining, head, pumpRecording } from "../../core/synthetic/recording";

/**
 * A user's first real recording: 8 correlated pump sensors at 1 Hz, the first 400
 * rows (normal) uploaded to train on, faults later. Judged row by row on everything
 * after the training part, with the alarms the model raises (smoothing and persistence included).
 */
describe("a first recording: 400 normal rows to train on, faults later", () => {
  it("the default lstm_autoencoder alarms on the faults and stays quiet on normal running (F1 ≥ 0.8, FAR ≤ 20 %)", async () => {
    let falseAlarms = 0;
    let normalRows = 0;
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const recording = pumpRecording({ seed });
      let firstEpochSeconds = Infinity;
      const result = await train({
        architecture: "lstm_autoencoder",
        data: head(recording),
        onEpoch: (event) => {
          if (event.epoch === 1) firstEpochSeconds = event.elapsed_seconds;
        },
      });
      expect(result.evaluation.val_windows).toBeGreaterThanOrEqual(50);
      expect(firstEpochSeconds).toBeLessThan(5);
      const seq = result.hyperparameters.sequence_length;
      const later = afterTraining(recording, seq);
      const scored = await score(result.model, later.columns);
      expect(scored.flags.length).toBe(later.labels.length);
      const { metrics, cm } = metricsOf(scored.flags, later.labels, scored.smoothed);
      expect(metrics.f1, `seed ${seed}`).toBeGreaterThanOrEqual(0.8);
      expect(metrics.false_alarm_rate, `seed ${seed}`).toBeLessThanOrEqual(0.25);
      // the int8 build alarms like the float one, so it can be the edge default
      const int8 = await score(result.quantizedModel, later.columns);
      expect(Math.abs(metricsOf(int8.flags, later.labels, int8.smoothed).metrics.f1 - metrics.f1), `seed ${seed}`).toBeLessThanOrEqual(0.01);
      falseAlarms += cm.false_positive;
      normalRows += cm.false_positive + cm.true_negative;
    }
    expect(falseAlarms / normalRows).toBeLessThanOrEqual(0.2);
  }, 180_000); // one training per seed: slow while the edge tests' qemu runs beside it

  it.each(["pca", "kmeans"] as const)("the %s baseline fits in well under a second and detects the faults too (mean F1 ≥ 0.8)", async (architecture) => {
    const f1s: number[] = [];
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const recording = pumpRecording({ seed });
      const started = performance.now();
      const result = await train({ architecture, data: head(recording) });
      expect((performance.now() - started) / 1000).toBeLessThan(5);
      expect(result.epochsRun).toBe(1);
      expect(result.metadata.task).toBe("distance");
      const later = afterTraining(recording, result.hyperparameters.sequence_length);
      const scored = await score(result.model, later.columns);
      const f1 = metricsOf(scored.flags, later.labels, scored.smoothed).metrics.f1;
      const int8 = await score(result.quantizedModel, later.columns);
      expect(Math.abs(metricsOf(int8.flags, later.labels, int8.smoothed).metrics.f1 - f1), `seed ${seed}`).toBeLessThanOrEqual(0.01);
      f1s.push(f1);
    }
    expect(f1s.reduce((a, b) => a + b, 0) / f1s.length).toBeGreaterThanOrEqual(0.8);
  });

  it("auto picks, without labels, a model that alarms on the faults and stays quiet (mean F1 ≥ 0.8, FAR ≤ 20 %)", async () => {
    const f1s: number[] = [];
    let falseAlarms = 0;
    let normalRows = 0;
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const recording = pumpRecording({ seed });
      const auto = await trainAuto({ data: head(recording) });
      expect(auto.leaderboard.filter((c) => c.status === "trained")).toHaveLength(5);
      expect(auto.leaderboard[0]!.candidate).toBe(auto.winner);
      const later = afterTraining(recording, auto.result.hyperparameters.sequence_length);
      const scored = await score(auto.result.model, later.columns);
      const { metrics, cm } = metricsOf(scored.flags, later.labels, scored.smoothed);
      f1s.push(metrics.f1);
      falseAlarms += cm.false_positive;
      normalRows += cm.false_positive + cm.true_negative;
    }
    expect(f1s.reduce((a, b) => a + b, 0) / f1s.length).toBeGreaterThanOrEqual(0.8);
    expect(Math.min(...f1s)).toBeGreaterThanOrEqual(0.7);
    expect(falseAlarms / normalRows).toBeLessThanOrEqual(0.2);
  }, 240_000); // six auto searches of five candidates each: slow while the edge tests' qemu runs beside them

  it.each(["lstm_autoencoder", "gru_predictor", "pca", "kmeans"] as const)("%s names the sensor behind an alarm; the shares sum to the score", async (architecture) => {
    const recording = pumpRecording({ seed: 2 });
    const result = await train({ architecture, data: head(recording) });
    // the normal start again, with the pressure sensor stepping up by 6 × its spread from row 200
    const columns = head(recording).columns.map((column) => Float32Array.from(column));
    const pressure = recording.features.indexOf("pressure");
    const spread = (JSON.parse(result.metadata.normalisation!) as { std: number[] }).std[pressure]!;
    for (let i = 200; i < 300; i++) columns[pressure]![i] = columns[pressure]![i]! + 6 * spread;
    const scored = await score(result.model, columns);
    const F = recording.features.length;
    const shares = scored.contributions!;
    for (let w = 0; w < scored.scores.length; w++) {
      const sum = shares.subarray(w * F, (w + 1) * F).reduce((a, b) => a + b, 0);
      expect(Math.abs(sum - scored.scores[w]!)).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(scored.scores[w]!)));
    }
    const seq = result.hyperparameters.sequence_length;
    const alarmed = Array.from(scored.flags.keys()).filter((w) => scored.flags[w] && w + seq - 1 >= 200 && w + seq - 1 < 300);
    expect(alarmed.length).toBeGreaterThan(50);
    const top = alarmed.map((w) => recording.features[Array.from(shares.subarray(w * F, (w + 1) * F)).reduce((best, v, f, all) => (v > all[best]! ? f : best), 0)]);
    expect(top.filter((name) => name === "pressure").length / top.length).toBeGreaterThanOrEqual(0.8);
  });

  it("the iforest baseline fits in well under a second and scores fault rows above normal ones", async () => {
    for (const seed of [1, 2, 3]) {
      const recording = pumpRecording({ seed });
      const started = performance.now();
      const result = await train({ architecture: "iforest", data: head(recording) });
      expect((performance.now() - started) / 1000).toBeLessThan(5);
      const later = afterTraining(recording, result.hyperparameters.sequence_length);
      const scored = await score(result.model, later.columns);
      expect(scored.contributions).toBeNull();
      const mean = (label: number) => {
        const values = Array.from(scored.smoothed).filter((_, i) => later.labels[i] === label);
        return values.reduce((a, b) => a + b, 0) / values.length;
      };
      expect(mean(1), `seed ${seed}`).toBeGreaterThan(mean(0));
      // an isolation score is in (0, 1)
      expect(Math.max(...scored.scores)).toBeLessThan(1);
      expect(Math.min(...scored.scores)).toBeGreaterThan(0);
    }
  });

  it("records every chosen hyperparameter and why; the values the user gave are kept", async () => {
    const recording = pumpRecording({ seed: 7 });
    const result = await train({ architecture: "lstm_autoencoder", hyperparameters: { hidden_dim: 24, epochs: 4 }, data: head(recording) });
    expect(result.hyperparameters).toMatchObject({ hidden_dim: 24, epochs: 4, sequence_length: 20, stride: 1 });
    expect(result.chosenBecause).not.toHaveProperty("hidden_dim");
    expect(result.chosenBecause).not.toHaveProperty("epochs");
    for (const key of ["sequence_length", "stride", "batch_size", "smoothing_windows", "persistence_n"]) expect(result.chosenBecause[key]).toEqual(expect.any(String));
    expect(result.chosenBecause.sequence_length).toContain("windows of 20 rows (20 s)");
    // the exported model carries its post-processing, and scoring applies it
    expect(JSON.parse(result.metadata.postprocess!)).toEqual(result.evaluation.postprocess);
    const later = afterTraining(recording, 20);
    const scored = await score(result.model, later.columns);
    expect(Array.from(scored.flags)).toEqual(Array.from(alarmsOf(scored.scores, result.threshold, result.evaluation.postprocess).alarms));
  });

  it("refuses too little data with the rows it needs instead of calibrating on a window or two", async () => {
    const recording = pumpRecording({ seed: 1 });
    const error = await train({ architecture: "lstm_autoencoder", hyperparameters: { sequence_length: 20 }, data: head(recording, 150) }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "training.insufficient_data", details: { rows: 150, sequence_length: 20, rows_needed: expect.any(Number) } });
    const needed = (error as { details: { rows_needed: number } }).details.rows_needed;
    const enough = await train({ architecture: "lstm_autoencoder", hyperparameters: { sequence_length: 20, epochs: 1 }, data: head(pumpRecording({ seed: 1, rows: needed + 200 }), needed) });
    expect(enough.evaluation.val_windows).toBeGreaterThanOrEqual(50);
    expect(enough.evaluation.test_windows).toBeGreaterThanOrEqual(50);
  });
});
