/**
 * ML engine benchmark: training-step throughput of the large lstm_autoencoder
 * (hidden 64, bottleneck 32, 2 layers, sequence 60, 8 sensors, 86,400 rows; the defaults before they came from the data) at batch
 * 64 and 256, compared with ONNX Runtime's own MatMul peak on this machine, plus
 * inference throughput of the exported model.
 *
 *   npx tsx bench/ml.ts        (or import { benchMl } and await it)
 *
 * Epoch time is extrapolated from a limited number of measured training steps
 * (forward + backward + Adam update, one session.run each, including batch gathering),
 * excluding the per-epoch validation pass.
 */
import * as ort from "onnxruntime-node";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { prepare, windowStarts, gather } from "../core/ml/data";
import { buildInferenceModel, buildStepGraph, ADAM_BETA1, ADAM_BETA2 } from "../core/ml/engine";
import { createSession, ML_THREADS, SEQUENTIAL_GRAPH_BYTES, TRAIN_EXECUTION } from "../core/ml/io";
import { defineModel } from "../core/ml/models";
import { Rng } from "../core/ml/rng";
import { effectiveStride, Hyperparameters } from "../core/ml/schema";
import { initialParams } from "../core/ml/train";

const ROWS = 86_400;
const SENSORS = 8;
const MEASURED_STEPS = Number(process.env.BENCH_ML_STEPS) || 6;

async function matmulPeak(): Promise<number> {
  // 1024×1024 · 1024×1024 in ORT with the same thread settings as training
  const { Graph } = await import("../core/ml/graph");
  const g = new Graph("float32");
  const a = g.input("a", [1024, 1024]);
  const b = g.input("b", [1024, 1024]);
  g.output(g.matmul(a, b), "y");
  const s = await createSession(g.toBytes());
  const r = new Rng(1);
  const A = new ort.Tensor("float32", Float32Array.from({ length: 1024 * 1024 }, () => r.next()), [1024, 1024]);
  const B = new ort.Tensor("float32", Float32Array.from({ length: 1024 * 1024 }, () => r.next()), [1024, 1024]);
  for (let i = 0; i < 2; i++) await s.run({ a: A, b: B });
  let best = Infinity;
  for (let i = 0; i < 8; i++) {
    const t = performance.now();
    await s.run({ a: A, b: B });
    best = Math.min(best, (performance.now() - t) / 1000);
  }
  await s.release();
  return (2 * 1024 ** 3) / best / 1e9;
}

function syntheticColumns(): Float32Array[] {
  const r = new Rng(3);
  return Array.from({ length: SENSORS }, (_, f) => {
    const c = new Float32Array(ROWS);
    for (let t = 0; t < ROWS; t++) c[t] = 20 + f + 5 * Math.sin((2 * Math.PI * t) / 1440 + f) + 0.3 * (r.next() - 0.5);
    return c;
  });
}

export async function benchMl(): Promise<void> {
  const hp = Hyperparameters.parse({});
  const columns = syntheticColumns();
  const prep = prepare({ features: columns.map((_, i) => `s${i}`), columns }, hp.sequence_length);
  const stride = effectiveStride(hp);
  const T = hp.sequence_length;
  const F = SENSORS;
  const trainStarts = windowStarts(prep.bounds.train[0], prep.bounds.train[1], T, stride);
  const def = defineModel("lstm_autoencoder", F, hp);

  console.log(`ml bench: lstm_autoencoder, schema defaults (H=${hp.hidden_dim}, Z=${hp.bottleneck_dim}, L=${hp.num_layers}, T=${T}), ${ROWS} rows × ${F} sensors, stride ${stride} → ${trainStarts.length} training windows/epoch; ORT ${ML_THREADS} threads, ${TRAIN_EXECUTION} executor for training`);
  const load0 = os.loadavg()[0]!;
  let peak = await matmulPeak();
  console.log(`ORT MatMul peak (1024³, best of 8): ${peak.toFixed(1)} GFLOP/s (1-min load average ${load0.toFixed(1)} on ${os.availableParallelism?.() ?? "?"} CPUs)`);

  let t = performance.now();
  const step = buildStepGraph(def);
  const buildS = (performance.now() - t) / 1000;
  // the throughput below is the sequential executor's (the faster steps); the parallel one is created for comparison
  t = performance.now();
  const parallel = await ort.InferenceSession.create(step.bytes, { graphOptimizationLevel: "all", intraOpNumThreads: 1, interOpNumThreads: ML_THREADS, executionMode: "parallel" });
  const parallelS = (performance.now() - t) / 1000;
  await parallel.release();
  t = performance.now();
  const session = await createSession(step.bytes);
  const createS = (performance.now() - t) / 1000;
  console.log(
    `training graph: ${(step.bytes.length / 1024).toFixed(0)} KiB, built in ${buildS.toFixed(2)} s, session created in ${createS.toFixed(1)} s (sequential executor) / ${parallelS.toFixed(1)} s (parallel; the "${TRAIN_EXECUTION}" setting takes ${step.bytes.length > SEQUENTIAL_GRAPH_BYTES ? "parallel" : "sequential"} for this graph)`,
  );

  const params = initialParams(def, new Rng(1));
  const moments = new Map<string, Float32Array>();
  for (const p of def.params) for (const k of step.stateKinds) moments.set(`${k}.${p.name}`, new Float32Array(params.get(p.name)!.length));
  const rows: string[][] = [["batch", "s/step best", "s/step median", "s/epoch (extrap., median)", "windows/s (median)", "GFLOP/s best", "GFLOP/s median", "% MatMul peak best", "% peak median"]];
  const rng = new Rng(2);
  let stepNo = 0;
  for (const B of [64, 256]) {
    const runStep = async () => {
      const starts = Uint32Array.from({ length: B }, () => trainStarts[rng.int(trainStarts.length)]!);
      const feeds: Record<string, ort.Tensor> = { x: new ort.Tensor("float32", gather(prep.norm, F, T, starts, 0, B), [B, T, F]) };
      for (const m of def.masks) {
        const mask = new Float32Array(B * m.dim);
        for (let i = 0; i < mask.length; i++) mask[i] = rng.next() < hp.dropout ? 0 : 1 / (1 - hp.dropout);
        feeds[m.name] = new ort.Tensor("float32", mask, [B, m.dim]);
      }
      for (const p of def.params) {
        feeds[p.name] = new ort.Tensor("float32", params.get(p.name)!, p.shape);
        for (const k of step.stateKinds) feeds[`${k}.${p.name}`] = new ort.Tensor("float32", moments.get(`${k}.${p.name}`)!, p.shape);
      }
      stepNo++;
      feeds.lr = new ort.Tensor("float32", Float32Array.of(hp.learning_rate), []);
      feeds.c1 = new ort.Tensor("float32", Float32Array.of(1 / (1 - ADAM_BETA1 ** stepNo)), []);
      feeds.c2 = new ort.Tensor("float32", Float32Array.of(1 / (1 - ADAM_BETA2 ** stepNo)), []);
      const out = await session.run(feeds);
      for (const p of def.params) {
        params.set(p.name, out[`new.${p.name}`]!.data as Float32Array);
        for (const k of step.stateKinds) moments.set(`${k}.${p.name}`, out[`new.${k}.${p.name}`]!.data as Float32Array);
      }
    };
    await runStep(); // warm-up
    peak = Math.max(peak, await matmulPeak()); // re-measure next to the steps (shared machines are noisy)
    const times: number[] = [];
    for (let i = 0; i < MEASURED_STEPS; i++) {
      const t0 = performance.now();
      await runStep();
      times.push((performance.now() - t0) / 1000);
    }
    times.sort((a, b) => a - b);
    const best = times[0]!;
    const med = times[Math.floor(times.length / 2)]!;
    const steps = Math.ceil(trainStarts.length / B);
    const gBest = step.flops(B) / best / 1e9;
    const gMed = step.flops(B) / med / 1e9;
    rows.push([String(B), best.toFixed(3), med.toFixed(3), (med * steps).toFixed(1), (B / med).toFixed(0), gBest.toFixed(2), gMed.toFixed(2), ((100 * gBest) / peak).toFixed(1), ((100 * gMed) / peak).toFixed(1)]);
  }
  await session.release();
  console.log(`(${MEASURED_STEPS} measured steps per batch size after 1 warm-up; epoch = ${Math.ceil(trainStarts.length / 64)} / ${Math.ceil(trainStarts.length / 256)} steps extrapolated from the median; useful FLOPs = MatMul/Gemm FLOPs of forward + backward = ${(step.flops(1) / 1e6).toFixed(1)} MFLOP per window; peak = best MatMul measurement of the run)`);
  printTable(rows);
  console.log(`1-min load average at the end: ${os.loadavg()[0]!.toFixed(1)}`);

  // inference throughput of the exported float32 model
  const model = buildInferenceModel(def, params, { mean: prep.mean, std: prep.std }, { sequence_length: String(T) }, false);
  const inf = await createSession(model);
  const B = 256;
  const starts = Uint32Array.from({ length: B }, (_, i) => prep.bounds.val[0] + i);
  const x = new ort.Tensor("float32", gather(prep.raw, F, T, starts, 0, B), [B, T, F]);
  await inf.run({ input: x });
  const t1 = performance.now();
  const reps = 5;
  for (let i = 0; i < reps; i++) await inf.run({ input: x });
  const sInf = (performance.now() - t1) / 1000 / reps;
  await inf.release();
  console.log(`inference (exported ONNX, native LSTM ops, batch ${B}): ${(B / sInf).toFixed(0)} windows/s, ${(step.forwardFlops(B) / sInf / 1e9).toFixed(2)} GFLOP/s useful`);
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows) console.log(r.map((v, c) => v.padStart(widths[c]!)).join("  "));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  benchMl().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
