/**
 * Fitting the classic detectors (pca, kmeans) on the training windows. Every
 * numeric step is an ONNX Runtime graph run over batches of windows: sums for
 * the feature statistics, the covariance, power iteration for the principal
 * directions, Lloyd's assignment and update for the clusters. JavaScript only
 * loops over batches and decides when to stop.
 */
import * as ort from "onnxruntime-node";
import { Graph, type Tensor } from "./graph";
import { createSession } from "./io";
import { averagePathLength, defineModel, ISOLATION_DEPTH, ISOLATION_SAMPLE, windowStatistics, type ModelDef } from "./models";
import { Rng } from "./rng";
import { DataType } from "./onnx";
import type { HyperparametersT } from "./schema";
import type { StreamingWindows, WindowSpec } from "./stream";

const BATCH = 512;
/** Power-iteration steps per graph run, and runs per principal direction. */
const POWER_STEPS = 64;
const POWER_RUNS = 3;
/** Lloyd iterations of kmeans (each a pass over the training windows). */
const LLOYD_ITERATIONS = 15;
/** Training windows (evenly spaced) the isolation trees draw their samples from. */
const ISOLATION_POOL = 4_096;

const f32 = (data: Float32Array, dims: number[]) => new ort.Tensor("float32", data, dims);

/** A session used for many batches. */
async function withSession<T>(bytes: Uint8Array, use: (session: ort.InferenceSession) => Promise<T>): Promise<T> {
  const session = await createSession(bytes);
  try {
    return await use(session);
  } finally {
    await session.release();
  }
}

/** One run of a graph, its outputs as float arrays. */
function run(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Record<string, Float32Array>> {
  return withSession(bytes, async (session) => {
    const out = await session.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([name, tensor]) => [name, tensor.data as Float32Array]));
  });
}

/** Running sums of the window statistics and of their squares, and each batch's statistics. */
function statisticsGraph(T: number, F: number): Uint8Array {
  const d = 3 * F;
  const g = new Graph("float32");
  const x = g.input("x", ["N", T, F]);
  const sum = g.input("sum", [d]);
  const sumsq = g.input("sumsq", [d]);
  const feat = windowStatistics(g, x, T, F);
  g.output(g.add(sum, g.reduceSum(feat, [0], false)), "new_sum");
  g.output(g.add(sumsq, g.reduceSum(g.mul(feat, feat), [0], false)), "new_sumsq");
  g.output(feat, "features");
  return g.toBytes({ name: "baseline_statistics" });
}

/** mean and 1/std of the features from the sums over n windows (std floored so a constant feature stays finite). */
function standardiseGraph(d: number): Uint8Array {
  const g = new Graph("float32");
  const sum = g.input("sum", [d]);
  const sumsq = g.input("sumsq", [d]);
  const n = g.input("n", []);
  const mean = g.div(sum, n);
  const variance = g.relu(g.sub(g.div(sumsq, n), g.mul(mean, mean)));
  g.output(mean, "mean");
  g.output(g.div(g.scalar(1), g.sqrt(g.add(variance, g.scalar(1e-6)))), "inv_std");
  return g.toBytes({ name: "baseline_standardise" });
}

function standardised(g: Graph, x: Tensor, T: number, F: number): Tensor {
  const mean = g.input("mean", [3 * F]);
  const invStd = g.input("inv_std", [3 * F]);
  return g.mul(g.sub(windowStatistics(g, x, T, F), mean), invStd);
}

/** Running zᵀz of the standardised features. */
function covarianceGraph(T: number, F: number): Uint8Array {
  const d = 3 * F;
  const g = new Graph("float32");
  const x = g.input("x", ["N", T, F]);
  const acc = g.input("acc", [d, d]);
  const z = standardised(g, x, T, F);
  g.output(g.add(acc, g.gemmRaw(z, z, undefined, true, false)), "new_acc");
  return g.toBytes({ name: "baseline_covariance" });
}

/**
 * POWER_STEPS steps of v ← normalise(C·v − B·(Bᵀ·C·v)) over the directions B already found,
 * and the Rayleigh quotient λ = vᵀ·C·v; `trace` is C's trace (for the explained share).
 */
function powerGraph(d: number): Uint8Array {
  const g = new Graph("float32");
  const C = g.input("C", [d, d]);
  const B = g.input("B", [d, "J"]);
  let v = g.input("v", [d, 1]);
  const normalise = (t: Tensor) => g.div(t, g.sqrt(g.add(g.reduceSum(g.mul(t, t), [0, 1], true), g.scalar(1e-30))));
  for (let i = 0; i < POWER_STEPS; i++) {
    const cv = g.matmul(C, v);
    v = normalise(g.sub(cv, g.matmul(B, g.gemmRaw(B, cv, undefined, true, false))));
  }
  g.output(v, "v_out");
  g.output(g.reduceSum(g.mul(v, g.matmul(C, v)), [0, 1], false), "lambda");
  const eye = g.initializer("eye", [d, d], Float32Array.from({ length: d * d }, (_, i) => (i % (d + 1) === 0 ? 1 : 0)));
  g.output(g.reduceSum(g.mul(C, eye), [0, 1], false), "trace");
  return g.toBytes({ name: "pca_power_iteration" });
}

/** Adds a batch to the per-cluster sums and counts of the windows nearest each centroid. */
function assignGraph(T: number, F: number, K: number): Uint8Array {
  const d = 3 * F;
  const g = new Graph("float32");
  const x = g.input("x", ["N", T, F]);
  const centroids = g.input("centroids", [d, K]);
  const sums = g.input("sums", [K, d]);
  const counts = g.input("counts", [K]);
  const z = standardised(g, x, T, F);
  const sq = g.reduceSum(g.mul(centroids, centroids), [0], false);
  const distances = g.add(g.mul(g.matmul(z, centroids), g.scalar(-2)), sq); // ‖z‖² does not change the nearest
  const nearest = g.raw("ArgMin", [distances], ["N"], { axis: 1, keepdims: 0 }, DataType.INT64);
  const onehot = g.raw("OneHot", [nearest, g.ints([K]), g.initializer("onehot_values", [2], Float32Array.of(0, 1))], ["N", K], { axis: -1 });
  g.output(g.add(sums, g.gemmRaw(onehot, z, undefined, true, false)), "new_sums");
  g.output(g.add(counts, g.reduceSum(onehot, [0], false)), "new_counts");
  return g.toBytes({ name: "kmeans_assign" });
}

/** New centroids (an empty cluster keeps its old centroid), as [d, K] columns. */
function updateGraph(d: number, K: number): Uint8Array {
  const g = new Graph("float32");
  const sums = g.input("sums", [K, d]);
  const counts = g.input("counts", [K]);
  const old = g.input("centroids", [d, K]);
  const countsCol = g.reshape(counts, [K, 1]);
  const means = g.div(sums, g.raw("Max", [countsCol, g.scalar(1)], [K, 1]));
  const empty = g.raw("Equal", [countsCol, g.scalar(0)], [K, 1], {}, DataType.BOOL);
  const next = g.raw("Where", [empty, g.transpose(old, [1, 0]), means], [K, d]);
  g.output(g.transpose(next, [1, 0]), "new_centroids");
  g.output(g.reduceSum(g.mul(next, next), [1], false), "sq_norms");
  return g.toBytes({ name: "kmeans_update" });
}

/** (features − mean) · inv_std for a few feature rows. */
function standardiseRowsGraph(d: number): Uint8Array {
  const g = new Graph("float32");
  const rows = g.input("rows", ["N", d]);
  const mean = g.input("mean", [d]);
  const invStd = g.input("inv_std", [d]);
  g.output(g.mul(g.sub(rows, mean), invStd), "z");
  return g.toBytes({ name: "baseline_standardise_rows" });
}

export interface FittedBaseline {
  def: ModelDef;
  params: Map<string, Float32Array>;
}

/**
 * Fits a pca or kmeans model on the training windows of `spec`. The score
 * weights are set afterwards from the training scores (see setScoreScale).
 */
export async function fitBaseline(architecture: "pca" | "kmeans" | "iforest", windows: StreamingWindows, spec: WindowSpec, hp: HyperparametersT): Promise<FittedBaseline> {
  const T = hp.sequence_length;
  const F = windows.F;
  const d = 3 * F;
  // pass 1: feature statistics, and the features of evenly spaced windows (kmeans' first centroids)
  // windows whose features pass 1 keeps: kmeans' first centroids, or the pool isolation trees sample from
  const K = architecture === "iforest" ? Math.min(ISOLATION_POOL, spec.count) : Math.min(hp.clusters, spec.count);
  const picks = new Map(Array.from({ length: K }, (_, i) => [Math.floor(((i + 0.5) * spec.count) / K), i]));
  const seeds = new Float32Array(K * d);
  let sum: Float32Array = new Float32Array(d);
  let sumsq: Float32Array = new Float32Array(d);
  await withSession(statisticsGraph(T, F), async (session) => {
    let at = 0;
    for await (const batch of windows.batches(spec, BATCH)) {
      const out = await session.run({ x: f32(batch.x, [batch.count, T, F]), sum: f32(sum, [d]), sumsq: f32(sumsq, [d]) });
      sum = out["new_sum"]!.data as Float32Array;
      sumsq = out["new_sumsq"]!.data as Float32Array;
      const features = out["features"]!.data as Float32Array;
      for (let i = 0; i < batch.count; i++) {
        const pick = picks.get(at + i);
        if (pick !== undefined) seeds.set(features.subarray(i * d, (i + 1) * d), pick * d);
      }
      at += batch.count;
    }
  });
  const moments = await run(standardiseGraph(d), { sum: f32(sum, [d]), sumsq: f32(sumsq, [d]), n: f32(Float32Array.of(spec.count), []) });
  const mean = moments["mean"]!;
  const invStd = moments["inv_std"]!;
  const standardisation = { mean: f32(mean, [d]), inv_std: f32(invStd, [d]) };

  if (architecture === "pca") {
    let acc: Float32Array = new Float32Array(d * d);
    await withSession(covarianceGraph(T, F), async (session) => {
      for await (const batch of windows.batches(spec, BATCH)) {
        acc = (await session.run({ x: f32(batch.x, [batch.count, T, F]), acc: f32(acc, [d, d]), ...standardisation }))["new_acc"]!.data as Float32Array;
      }
    });
    const covariance = Float32Array.from(acc, (v) => v / spec.count);
    const directions: Float32Array[] = [];
    const eigenvalues: number[] = [];
    let explained = 0;
    await withSession(powerGraph(d), async (session) => {
      while (directions.length < d - 1 || directions.length === 0) {
        const basis = new Float32Array(d * Math.max(1, directions.length));
        directions.forEach((v, j) => v.forEach((value, i) => (basis[i * directions.length + j] = value)));
        // a start not orthogonal to any direction: all ones, tilted per component
        let v: Float32Array = Float32Array.from({ length: d }, (_, i) => 1 + ((i * (directions.length + 1)) % 7) / 7);
        let lambda = 0;
        let trace = 0;
        for (let r = 0; r < POWER_RUNS; r++) {
          const out = await session.run({ C: f32(covariance, [d, d]), B: f32(basis, [d, Math.max(1, directions.length)]), v: f32(v, [d, 1]) });
          v = out["v_out"]!.data as Float32Array;
          lambda = (out["lambda"]!.data as Float32Array)[0]!;
          trace = (out["trace"]!.data as Float32Array)[0]!;
        }
        directions.push(v);
        eigenvalues.push(Math.max(lambda, 1e-6 * trace, 1e-12));
        explained += lambda;
        if (explained >= hp.explained_variance * trace) break;
      }
    });
    const components = directions.length;
    const def = defineModel("pca", F, hp, { components });
    const project = new Float32Array(d * components);
    const reconstruct = new Float32Array(components * d);
    directions.forEach((v, j) =>
      v.forEach((value, i) => {
        project[i * components + j] = value;
        reconstruct[j * d + i] = value;
      }),
    );
    return {
      def,
      params: new Map([
        ["baseline.mean", mean],
        ["baseline.inv_std", invStd],
        ["pca.project.W", project],
        ["pca.reconstruct.W", reconstruct],
        ["pca.inv_eigenvalues", Float32Array.from(eigenvalues, (l) => 1 / l)],
        ["pca.weights", Float32Array.of(1 / components, 1)],
      ]),
    };
  }

  const seeded = (await run(standardiseRowsGraph(d), { rows: f32(seeds, [K, d]), ...standardisation }))["z"]!;
  if (architecture === "iforest") {
    const forest = growForest(seeded, K, d, hp.trees, hp.seed);
    return {
      def: defineModel("iforest", F, hp),
      params: new Map([
        ["baseline.mean", mean],
        ["baseline.inv_std", invStd],
        ["iforest.feature", forest.feature],
        ["iforest.threshold", forest.threshold],
        ["iforest.path_length", forest.pathLength],
      ]),
    };
  }
  let centroids: Float32Array = new Float32Array(d * K);
  for (let k = 0; k < K; k++) for (let i = 0; i < d; i++) centroids[i * K + k] = seeded[k * d + i]!;
  let sqNorms: Float32Array = new Float32Array(K);
  const update = await createSession(updateGraph(d, K));
  try {
    await withSession(assignGraph(T, F, K), async (session) => {
      for (let iteration = 0; iteration < LLOYD_ITERATIONS; iteration++) {
        let sums: Float32Array = new Float32Array(K * d);
        let counts: Float32Array = new Float32Array(K);
        for await (const batch of windows.batches(spec, BATCH)) {
          const out = await session.run({ x: f32(batch.x, [batch.count, T, F]), centroids: f32(centroids, [d, K]), sums: f32(sums, [K, d]), counts: f32(counts, [K]), ...standardisation });
          sums = out["new_sums"]!.data as Float32Array;
          counts = out["new_counts"]!.data as Float32Array;
        }
        const next = await update.run({ sums: f32(sums, [K, d]), counts: f32(counts, [K]), centroids: f32(centroids, [d, K]) });
        centroids = next["new_centroids"]!.data as Float32Array;
        sqNorms = next["sq_norms"]!.data as Float32Array;
      }
    });
  } finally {
    await update.release();
  }
  const def = defineModel("kmeans", F, { ...hp, clusters: K });
  const nearest = new Float32Array(K * d);
  for (let k = 0; k < K; k++) for (let i = 0; i < d; i++) nearest[k * d + i] = centroids[i * K + k]!;
  return {
    def,
    params: new Map([
      ["baseline.mean", mean],
      ["baseline.inv_std", invStd],
      ["kmeans.centroids.W", centroids],
      ["kmeans.nearest.W", nearest],
      ["kmeans.sq_norms", sqNorms],
      ["kmeans.inverse_mean", Float32Array.of(1)],
    ]),
  };
}

/** Scales the score so its mean over the training windows is about 1 (pca: T²/K plus Q over its training mean). */
export function withScoreScale(fitted: FittedBaseline, meanTrainingScore: { q?: number; score: number }): Map<string, Float32Array> {
  const params = new Map(fitted.params);
  if (fitted.def.architecture === "iforest") return params;
  if (fitted.def.architecture === "pca") {
    const K = fitted.def.params.find((p) => p.name === "pca.inv_eigenvalues")!.shape[0]!;
    params.set("pca.weights", Float32Array.of(1 / K, 1 / Math.max(meanTrainingScore.q ?? 1, 1e-12)));
  } else {
    params.set("kmeans.inverse_mean", Float32Array.of(1 / Math.max(meanTrainingScore.score, 1e-12)));
  }
  return params;
}

/**
 * Grows isolation trees (Liu, Ting and Zhou 2008) on samples of the pooled windows:
 * each node splits a random feature at a uniform point between the sample's min and
 * max there, until one window is left or the depth limit. The trees are stored
 * complete, in heap order: a node that is a leaf passes everything left (threshold
 * +max float) to the slot that holds its path length, depth + c(size).
 * Index bookkeeping over at most 256 windows per tree; scoring runs in ONNX Runtime.
 */
function growForest(pool: Float32Array, count: number, d: number, trees: number, seed: number) {
  const internal = 2 ** ISOLATION_DEPTH - 1;
  const feature = new Float32Array(trees * internal);
  const threshold = new Float32Array(trees * internal).fill(3.4e38);
  const pathLength = new Float32Array(trees * (internal + 1));
  const rng = new Rng((seed ^ 0x1f0e57) >>> 0);
  const sample = Math.min(ISOLATION_SAMPLE, count);
  for (let tree = 0; tree < trees; tree++) {
    // a sample without replacement: a partial Fisher–Yates shuffle of the pool's indices
    const order = Uint32Array.from({ length: count }, (_, i) => i);
    for (let i = 0; i < sample; i++) {
      const j = i + rng.int(count - i);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const grow = (node: number, depth: number, members: Uint32Array) => {
      const leaf = () => {
        let slot = node;
        for (let level = depth; level < ISOLATION_DEPTH; level++) slot = 2 * slot + 1; // always left from here
        pathLength[tree * (internal + 1) + slot - internal] = depth + averagePathLength(members.length);
      };
      if (depth === ISOLATION_DEPTH || members.length <= 1) return leaf();
      // a feature that still varies within the node, tried at random
      for (let attempt = 0; attempt < d; attempt++) {
        const q = rng.int(d);
        let lo = Infinity;
        let hi = -Infinity;
        for (const m of members) {
          const v = pool[m * d + q]!;
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
        if (!(hi > lo)) continue;
        const split = Math.fround(lo + rng.next() * (hi - lo));
        feature[tree * internal + node] = q;
        threshold[tree * internal + node] = split;
        const left = members.filter((m) => !(pool[m * d + q]! > split));
        const right = members.filter((m) => pool[m * d + q]! > split);
        grow(2 * node + 1, depth + 1, left);
        grow(2 * node + 2, depth + 1, right);
        return;
      }
      leaf();
    };
    grow(0, 0, order.slice(0, sample));
  }
  return { feature, threshold, pathLength };
}
