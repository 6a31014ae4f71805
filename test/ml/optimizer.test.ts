import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { buildStepGraph, defineModel, forward, Graph, Hyperparameters } from "../../core/ml";
import { ADAM_BETA1, ADAM_BETA2, ADAM_EPS, CLIP_NORM, SGD_MOMENTUM } from "../../core/ml/engine";
import { Rng } from "../../core/ml/rng";

// One in-graph optimizer step vs a JavaScript reference update computed from the
// gradients of a separate loss+gradient graph (float64 graphs, tolerance 1e-9 relative).
describe("in-graph optimizer step", () => {
  for (const optimizer of ["adam", "adamw", "sgd"] as const) {
    it(`${optimizer}: new parameters and moments match the reference update (incl. global-norm clipping)`, async () => {
      const F = 3;
      const N = 5;
      const hp = Hyperparameters.parse({ sequence_length: 4, optimizer, weight_decay: 0.1, learning_rate: 0.05, dropout: 0 });
      const def = defineModel("sentinel", F, hp);
      const r = new Rng(5);
      const x = Float64Array.from({ length: N * 4 * F }, () => r.next() * 4 - 2);
      const label = Float64Array.from({ length: N }, (_, i) => i % 2);
      const weight = Float64Array.from({ length: N }, () => 40); // large loss scale so the global-norm clip is active
      const params = new Map(def.params.map((p) => [p.name, Float64Array.from({ length: p.shape.reduce((a, b) => a * b, 1) }, () => (r.next() - 0.5) * 2)]));
      const moments = new Map<string, Float64Array>();
      for (const p of def.params) for (const k of ["m", "v"]) moments.set(`${k}.${p.name}`, Float64Array.from(params.get(p.name)!, () => r.next() * 0.01));

      // gradients via a loss-only graph
      const g = new Graph("float64");
      const xt = g.input("x", ["N", 4, F]);
      const lt = g.input("label", ["N"]);
      const wt = g.input("weight", ["N"]);
      const pt = Object.fromEntries(def.params.map((p) => [p.name, g.input(p.name, p.shape, { grad: true })]));
      const loss = g.reduceMean(forward(def, g, xt, pt, undefined, { label: lt, weight: wt }).perSample, [0], false);
      g.output(loss, "loss");
      g.backward(loss, def.params.map((p) => pt[p.name]!)).forEach((gr, i) => g.output(gr, `grad.${def.params[i]!.name}`));
      const feeds: Record<string, ort.Tensor> = {
        x: new ort.Tensor("float64", x, [N, 4, F]),
        label: new ort.Tensor("float64", label, [N]),
        weight: new ort.Tensor("float64", weight, [N]),
      };
      for (const p of def.params) feeds[p.name] = new ort.Tensor("float64", params.get(p.name)!, p.shape);
      const gs = await ort.InferenceSession.create(g.toBytes());
      const gout = await gs.run(feeds);
      const grads = new Map(def.params.map((p) => [p.name, gout[`grad.${p.name}`]!.data as Float64Array]));

      // the step graph
      const step = buildStepGraph(def, "float64");
      const ss = await ort.InferenceSession.create(step.bytes);
      const t = 3;
      const stepFeeds: Record<string, ort.Tensor> = { ...feeds };
      for (const p of def.params) for (const k of step.stateKinds) stepFeeds[`${k}.${p.name}`] = new ort.Tensor("float64", moments.get(`${k}.${p.name}`)!, p.shape);
      stepFeeds.lr = new ort.Tensor("float64", Float64Array.of(hp.learning_rate), []);
      stepFeeds.c1 = new ort.Tensor("float64", Float64Array.of(1 / (1 - ADAM_BETA1 ** t)), []);
      stepFeeds.c2 = new ort.Tensor("float64", Float64Array.of(1 / (1 - ADAM_BETA2 ** t)), []);
      const out = await ss.run(stepFeeds);
      expect((out["loss"]!.data as Float64Array)[0]).toBeCloseTo((gout["loss"]!.data as Float64Array)[0]!, 12);

      let sq = 0;
      for (const gr of grads.values()) for (const v of gr) sq += v * v;
      const clip = Math.min(1, CLIP_NORM / (Math.sqrt(sq) + 1e-6));
      const wd = hp.weight_decay;
      const lr = hp.learning_rate;
      const close = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-9 * (1 + Math.abs(b)));
      for (const p of def.params) {
        const w = params.get(p.name)!;
        const gr = grads.get(p.name)!;
        const m = moments.get(`m.${p.name}`)!;
        const v = moments.get(`v.${p.name}`)!;
        const nw = out[`new.${p.name}`]!.data as Float64Array;
        const nm = out[`new.m.${p.name}`]!.data as Float64Array;
        for (let i = 0; i < w.length; i++) {
          let gi = gr[i]! * clip;
          if (optimizer !== "adamw") gi += wd * w[i]!;
          if (optimizer === "sgd") {
            const em = SGD_MOMENTUM * m[i]! + gi;
            close(nm[i]!, em);
            close(nw[i]!, w[i]! - lr * em);
          } else {
            const em = ADAM_BETA1 * m[i]! + (1 - ADAM_BETA1) * gi;
            const ev = ADAM_BETA2 * v[i]! + (1 - ADAM_BETA2) * gi * gi;
            let upd = (em / (1 - ADAM_BETA1 ** t)) / (Math.sqrt(ev / (1 - ADAM_BETA2 ** t)) + ADAM_EPS);
            if (optimizer === "adamw") upd += wd * w[i]!;
            close(nm[i]!, em);
            close((out[`new.v.${p.name}`]!.data as Float64Array)[i]!, ev);
            close(nw[i]!, w[i]! - lr * upd);
          }
        }
      }
      expect(clip).toBeLessThan(1);
      await gs.release();
      await ss.release();
    });
  }
});
