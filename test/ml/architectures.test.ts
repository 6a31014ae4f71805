import { describe, expect, it } from "vitest";
import { defineModel, forward, Hyperparameters, type ArchitectureT } from "../../core/ml";
import { Rng } from "../../core/ml/rng";
import { gradCheck, type GradInput } from "./gradcheck";

// Full-model gradients (every parameter tensor, sampled entries) vs central differences, float64.
const TOL = 1e-5;

function check(arch: ArchitectureT, hpIn: Parameters<typeof Hyperparameters.parse>[0], F: number, N: number) {
  const hp = Hyperparameters.parse(hpIn);
  const def = defineModel(arch, F, hp);
  const r = new Rng(11);
  const T = hp.sequence_length;
  const inputs: GradInput[] = [
    { name: "x", shape: [N, T, F], graphShape: ["N", T, F], grad: false, data: Float64Array.from({ length: N * T * F }, () => r.next() * 2 - 1) },
  ];
  for (const p of def.params) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    inputs.push({ name: p.name, shape: p.shape, data: Float64Array.from({ length: n }, () => (r.next() * 2 - 1) * 0.6) });
  }
  for (const m of def.masks) {
    inputs.push({ name: m.name, shape: [N, m.dim], graphShape: ["N", m.dim], grad: false, data: Float64Array.from({ length: N * m.dim }, () => (r.next() < 0.25 ? 0 : 1 / 0.75)) });
  }
  if (def.supervised) {
    inputs.push({ name: "label", shape: [N], graphShape: ["N"], grad: false, data: Float64Array.from({ length: N }, (_, i) => i % 2) });
    inputs.push({ name: "weight", shape: [N], graphShape: ["N"], grad: false, data: Float64Array.from({ length: N }, (_, i) => 0.5 + i / N) });
  }
  return gradCheck(
    inputs,
    (g, t) => {
      const params = Object.fromEntries(def.params.map((p) => [p.name, t[p.name]!]));
      const masks = Object.fromEntries(def.masks.map((m) => [m.name, t[m.name]!]));
      const out = forward(def, g, t.x!, params, masks, def.supervised ? { label: t.label!, weight: t.weight! } : undefined);
      return g.reduceMean(out.perSample, [0], false);
    },
    6,
  );
}

describe("architecture gradients vs finite differences (float64)", () => {
  it("lstm_autoencoder (2 layers, mse, dropout on bottleneck)", async () => {
    const err = await check("lstm_autoencoder", { sequence_length: 5, hidden_dim: 4, bottleneck_dim: 3, num_layers: 2, dropout: 0.25 }, 3, 2);
    expect(err).toBeLessThan(TOL);
  });
  it("lstm_autoencoder (huber loss)", async () => {
    const err = await check("lstm_autoencoder", { sequence_length: 4, hidden_dim: 3, bottleneck_dim: 2, num_layers: 1, loss: "huber", dropout: 0 }, 2, 3);
    expect(err).toBeLessThan(TOL);
  });
  it("gru_predictor (2 layers, mae)", async () => {
    const err = await check("gru_predictor", { sequence_length: 5, hidden_dim: 4, num_layers: 2, loss: "mae", dropout: 0.25 }, 3, 2);
    expect(err).toBeLessThan(TOL);
  });
  it("gru_predictor with loss bce (failure-probability head)", async () => {
    const err = await check("gru_predictor", { sequence_length: 4, hidden_dim: 3, num_layers: 1, loss: "bce", dropout: 0.25 }, 2, 4);
    expect(err).toBeLessThan(TOL);
  });
  it("sentinel (weighted BCE)", async () => {
    const err = await check("sentinel", { sequence_length: 4, dropout: 0.25 }, 3, 4);
    expect(err).toBeLessThan(TOL);
  });
});
