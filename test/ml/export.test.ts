import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { buildEvalGraph, defineModel, Hyperparameters, readModelMetadata, score, train } from "../../core/ml";
import { generate, SMALL, weightsOf } from "../support/ml";

const data = generate({ rows: 4000, sensors: 4, period: 120, seed: 3, faults: 24 });

describe("exported inference model", () => {
  const cases = [
    ["lstm_autoencoder", {}],
    ["gru_predictor", {}],
    ["gru_predictor", { loss: "bce" }],
    ["sentinel", {}],
  ] as const;
  for (const [architecture, extra] of cases) {
    it(`${architecture} ${JSON.stringify(extra)}: a fresh ORT session on the export reproduces the training graph's forward scores (|Δ| ≤ 1e-4·(1+|s|))`, async () => {
      const hp = { ...SMALL, epochs: 1, num_layers: 2, sequence_length: 12, ...extra };
      const r = await train({ architecture, hyperparameters: hp, data });
      const meta = readModelMetadata(r.model);
      expect(meta.architecture).toBe(architecture);
      expect(JSON.parse(meta.features!)).toEqual(data.features);
      expect(Number(meta.threshold)).toBe(r.threshold);
      expect(meta.training_data_sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(JSON.parse(meta.hyperparameters!).hidden_dim).toBe(16);
      const norm = JSON.parse(meta.normalisation!) as { mean: number[]; std: number[] };
      const T = 12;
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
      if (architecture === "gru_predictor" && !def.supervised) expect(out["forecast"]!.dims).toEqual([Nw, F]);
      if (def.supervised) {
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
      // gaps are forward-filled instead of poisoning windows with NaN
      const gappy = rows.map((c) => Float32Array.from(c));
      gappy[0]![5] = NaN;
      const sg = await score(r.model, gappy);
      for (const v of sg.scores) expect(Number.isFinite(v)).toBe(true);
      expect((await score(r.model, rows.map((c) => c.subarray(0, T - 1)))).scores.length).toBe(0);
      await evalSession.release();
      await fresh.release();
    });
  }
});
