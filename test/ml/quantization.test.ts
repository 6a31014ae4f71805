import { describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { decodeModel, readModelMetadata, score, train } from "../../core/ml";
import { quantizePerColumn } from "../../core/ml/engine";
import { generate } from "../support/ml";

describe("int8 quantization", () => {
  it("per-column symmetric int8 round-trips within half a step", () => {
    const w = Float32Array.from({ length: 12 }, (_, i) => Math.sin(i) * (1 + (i % 3)));
    const { q, scale } = quantizePerColumn(w, 4, 3);
    for (let i = 0; i < 12; i++) expect(Math.abs(q[i]! * scale[i % 3]! - w[i]!)).toBeLessThanOrEqual(scale[i % 3]! / 2 + 1e-7);
    for (let c = 0; c < 3; c++) expect(Math.max(...[0, 1, 2, 3].map((r) => Math.abs(q[r * 3 + c]!)))).toBe(127);
  });

  it("exported int8 model is ≤ 35% of float32, scores stay close, weights are real int8 initializers", async () => {
    const data = generate({ rows: 1500, sensors: 4, period: 80, seed: 5, faults: 4 });
    const r = await train({
      architecture: "lstm_autoencoder",
      hyperparameters: { sequence_length: 12, hidden_dim: 32, bottleneck_dim: 8, num_layers: 2, epochs: 1, stride: 4, batch_size: 64 },
      data,
    });
    expect(r.quantization.float_bytes).toBe(r.model.length);
    expect(r.quantization.int8_bytes).toBe(r.quantizedModel.length);
    expect(r.quantization.ratio).toBeLessThanOrEqual(0.35);
    // deviation: reported on validation windows, small relative to the score scale
    const p50 = r.evaluation.validation_score_distribution.p50;
    expect(r.quantization.mean_abs_score_deviation).toBeLessThan(0.05 * p50);
    expect(r.quantization.max_abs_score_deviation).toBeGreaterThan(0); // it really is quantized
    const { initializers, metadata } = decodeModel(r.quantizedModel);
    expect(metadata.weights).toBe("int8_per_channel");
    const enc = initializers.get("lstm.enc.0.W")!;
    expect(enc.data).toBeInstanceOf(Int8Array);
    expect(enc.dims).toEqual([4 + 32, 4 * 32]);
    expect(enc.scale!.length).toBe(4 * 32);
    const fl = decodeModel(r.model).initializers.get("lstm.enc.0.W")!;
    expect(fl.data).toBeInstanceOf(Float32Array);
    for (let i = 0; i < fl.data.length; i += 97) expect(Math.abs(enc.data[i]! * enc.scale![i % 128]! - fl.data[i]!)).toBeLessThanOrEqual(enc.scale![i % 128]! / 2 + 1e-6);
    expect(initializers.get("norm.mean")!.data).toBeInstanceOf(Float32Array);
    // stock ORT runs the int8 model; score() works on it and metadata is preserved
    const s = await ort.InferenceSession.create(r.quantizedModel);
    expect(s.outputNames).toContain("score");
    await s.release();
    expect(readModelMetadata(r.quantizedModel).threshold).toBe(String(r.threshold));
    const rows = data.columns.map((c) => c.subarray(0, 40));
    const [a, b] = [await score(r.model, rows), await score(r.quantizedModel, rows)];
    for (let i = 0; i < a.scores.length; i++) expect(Math.abs(a.scores[i]! - b.scores[i]!)).toBeLessThan(0.1 * (a.scores[i]! + 0.01));
  });
});
