/**
 * Architectures as graph-building functions over the autodiff builder.
 *
 * Parameter names and layouts (the same names are used as ONNX initializers in
 * the exported inference model; see README.md):
 *
 * lstm_autoencoder
 *   lstm.enc.{l}.W  [in+H, 4H]  rows 0..in-1 multiply the layer input x_t, rows in..in+H-1 multiply h_{t-1};
 *                               columns are the four gates in order i, f, g, o (H columns each)
 *   lstm.enc.{l}.b  [4H]        gate bias (forget-gate slice initialised to 1)
 *   bottleneck.W    [H, Z], bottleneck.b [Z]   z = h_T(last encoder layer) · W + b (linear)
 *   lstm.dec.{l}.W  [in+H, 4H], lstm.dec.{l}.b [4H]   decoder layer 0 receives z at every time step (in = Z)
 *   output.W        [H, F], output.b [F]       reconstruction_t = h_t(last decoder layer) · W + b
 *   LSTM cell: i=σ(.), f=σ(.), g=tanh(.), o=σ(.); c_t = f⊙c_{t-1} + i⊙g; h_t = o⊙tanh(c_t); h_0 = c_0 = 0.
 *
 * gru_predictor
 *   gru.{l}.W   [in+H, 3H]  gate columns r, z, n; gru.{l}.b [3H] input bias; gru.{l}.bh [3H] recurrent bias
 *   GRU cell: [a_r a_z a_n] = x_t·W_x + b, [u_r u_z u_n] = h·W_h + bh; r=σ(a_r+u_r); z=σ(a_z+u_z);
 *             n = tanh(a_n + r⊙u_n); h_t = (1−z)⊙n + z⊙h_{t-1}
 *   head.W [H, F], head.b [F]: forecast of the last window row = h_last · W + b (normalised units)
 *   With loss "bce" (needs labels) the GRU reads all T rows and head.W [H, 1] gives a failure
 *   logit instead: score = σ(logit), output `health` = 1 − score.
 *   The GRU reads steps 0..T-2 of the window and forecasts step T-1.
 *
 * pca and kmeans (baselines, fitted in closed form; d = 3F window statistics as for sentinel)
 *   baseline.mean [d], baseline.inv_std [d]: z = (stats − mean) · inv_std over the training windows
 *   pca.project.W [d,K] (orthonormal principal directions), pca.reconstruct.W [K,d] (its transpose),
 *   pca.inv_eigenvalues [K], pca.weights [2]: t = z·P, T² = Σ t²/λ, Q = ‖z − t·Pᵀ‖²,
 *   score = w0·T² + w1·Q (w0 = 1/K, w1 = 1/mean training Q: both terms near 1 on normal windows)
 *   kmeans.centroids.W [d,K] (one column per cluster), kmeans.nearest.W [K,d] (its transpose, to read the nearest
 *   centroid back for the per-sensor contribution), kmeans.sq_norms [K] (‖c_k‖²), kmeans.inverse_mean [1]:
 *   score = min_k ‖z − c_k‖² · scale (scale = 1/mean training distance)
 *
 * sentinel
 *   mlp.0.W [3F,128], mlp.0.b; mlp.1.W [128,64], mlp.1.b; mlp.2.W [64,1], mlp.2.b [1]
 *   input features (n = 3F) = concat(last row, window mean, window std (√(var+1e-6))) of the
 *   normalised window; ReLU hidden layers;
 *   score = σ(logit) = failure probability (health = 1 − score).
 */
import { mulDim, type Graph, type Tensor } from "./graph";
import { DataType } from "./onnx";
import type { HyperparametersT, ArchitectureT } from "./schema";

export interface ParamSpec {
  name: string;
  shape: number[];
  init: "glorot" | "zeros" | "lstm_bias";
  fanIn: number;
  fanOut: number;
}
export interface MaskSpec {
  name: string;
  dim: number;
}
export interface ModelDef {
  architecture: ArchitectureT;
  features: number;
  seq: number;
  hp: HyperparametersT;
  params: ParamSpec[];
  masks: MaskSpec[];
  /** sentinel only: per-sample label and weight inputs */
  supervised: boolean;
}
export interface ForwardOut {
  /** per-sample training loss [N] */
  perSample: Tensor;
  /** anomaly score [N] */
  score: Tensor;
  /** normalised reconstruction [N,T,F] / forecast [N,F] / health [N] / baseline statistics [N,2] (pca: T², Q; kmeans: distance, cluster) */
  output: Tensor;
  outputName: "reconstruction" | "forecast" | "health" | "statistics";
  /** per-sensor share of the score [N,F] (sums to the score); none for failure-probability models */
  contribution?: Tensor;
}

/**
 * The parameters of an architecture. `components` is the number of principal
 * directions a fitted pca model keeps (known only after the fit; at most 3F).
 */
export function defineModel(architecture: ArchitectureT, features: number, hp: HyperparametersT, fitted: { components?: number } = {}): ModelDef {
  const F = features;
  const H = hp.hidden_dim;
  const params: ParamSpec[] = [];
  const masks: MaskSpec[] = [];
  const dense = (name: string, i: number, o: number) => {
    params.push({ name: `${name}.W`, shape: [i, o], init: "glorot", fanIn: i, fanOut: o });
    params.push({ name: `${name}.b`, shape: [o], init: "zeros", fanIn: i, fanOut: o });
  };
  if (architecture === "lstm_autoencoder") {
    const Z = hp.bottleneck_dim;
    for (let l = 0; l < hp.num_layers; l++) {
      const inDim = l === 0 ? F : H;
      params.push({ name: `lstm.enc.${l}.W`, shape: [inDim + H, 4 * H], init: "glorot", fanIn: inDim + H, fanOut: 4 * H });
      params.push({ name: `lstm.enc.${l}.b`, shape: [4 * H], init: "lstm_bias", fanIn: 0, fanOut: H });
    }
    dense("bottleneck", H, Z);
    for (let l = 0; l < hp.num_layers; l++) {
      const inDim = l === 0 ? Z : H;
      params.push({ name: `lstm.dec.${l}.W`, shape: [inDim + H, 4 * H], init: "glorot", fanIn: inDim + H, fanOut: 4 * H });
      params.push({ name: `lstm.dec.${l}.b`, shape: [4 * H], init: "lstm_bias", fanIn: 0, fanOut: H });
    }
    dense("output", H, F);
    if (hp.dropout > 0) masks.push({ name: "mask.bottleneck", dim: Z });
  } else if (architecture === "gru_predictor") {
    for (let l = 0; l < hp.num_layers; l++) {
      const inDim = l === 0 ? F : H;
      params.push({ name: `gru.${l}.W`, shape: [inDim + H, 3 * H], init: "glorot", fanIn: inDim + H, fanOut: 3 * H });
      params.push({ name: `gru.${l}.b`, shape: [3 * H], init: "zeros", fanIn: 0, fanOut: 0 });
      params.push({ name: `gru.${l}.bh`, shape: [3 * H], init: "zeros", fanIn: 0, fanOut: 0 });
    }
    // loss "bce": failure-probability head on the whole window instead of a forecast
    dense("head", H, hp.loss === "bce" ? 1 : F);
    if (hp.dropout > 0) masks.push({ name: "mask.head", dim: H });
  } else if (architecture === "pca" || architecture === "kmeans" || architecture === "iforest") {
    const d = 3 * F;
    const fixed = (name: string, shape: number[]) => params.push({ name, shape, init: "zeros", fanIn: 0, fanOut: 0 });
    fixed("baseline.mean", [d]);
    fixed("baseline.inv_std", [d]);
    if (architecture === "pca") {
      const K = fitted.components ?? d;
      fixed("pca.project.W", [d, K]);
      fixed("pca.reconstruct.W", [K, d]);
      fixed("pca.inv_eigenvalues", [K]);
      fixed("pca.weights", [2]);
    } else if (architecture === "iforest") {
      // complete trees of ISOLATION_DEPTH levels, heap order, tree after tree (1-D: never quantized)
      const internal = 2 ** ISOLATION_DEPTH - 1;
      fixed("iforest.feature", [hp.trees * internal]);
      fixed("iforest.threshold", [hp.trees * internal]);
      fixed("iforest.path_length", [hp.trees * (internal + 1)]);
    } else {
      fixed("kmeans.centroids.W", [d, hp.clusters]);
      fixed("kmeans.nearest.W", [hp.clusters, d]);
      fixed("kmeans.sq_norms", [hp.clusters]);
      fixed("kmeans.inverse_mean", [1]);
    }
  } else {
    dense("mlp.0", 3 * F, 128);
    dense("mlp.1", 128, 64);
    dense("mlp.2", 64, 1);
    if (hp.dropout > 0) masks.push({ name: "mask.0", dim: 128 }, { name: "mask.1", dim: 64 });
  }
  return { architecture, features, seq: hp.sequence_length, hp, params, masks, supervised: isSupervised(architecture, hp) };
}

/** sentinel always; gru_predictor when trained with loss "bce" on a label column. */
export function isSupervised(architecture: ArchitectureT, hp: HyperparametersT): boolean {
  return architecture === "sentinel" || (architecture === "gru_predictor" && hp.loss === "bce");
}

function elementLoss(g: Graph, d: Tensor, loss: HyperparametersT["loss"]): Tensor {
  if (loss === "mae") return g.abs(d);
  if (loss === "huber") return g.huber(d, 1);
  return g.mul(d, d);
}

/**
 * LSTM layer over per-step inputs x_t [N, in] (or one input repeated T times). Returns the
 * per-step states h_t [N, H], their time-major concatenation [T*N, H] and h_T.
 */
function lstmLayer(g: Graph, input: { steps: Tensor[] } | { repeat: Tensor }, T: number, W0: Tensor, b0: Tensor, inDim: number, H: number) {
  // fold the g-gate ×2 of the fused activation into the weights once per layer
  const scale = g.gateScale(H);
  const W = g.mul(W0, scale);
  const b = g.mul(b0, scale);
  const first = "repeat" in input ? input.repeat : input.steps[0]!;
  const batchDim = (cols: number) =>
    g.raw("Concat", [g.raw("Slice", [g.raw("Shape", [first], [2], {}, DataType.INT64), g.ints([0]), g.ints([1])], [1], {}, DataType.INT64), g.ints([cols])], [2], { axis: 0 }, DataType.INT64);
  // h_{-1} = 0 as an explicit zero state: every step then has the same Gemm, so the
  // recurrent weight gradient is one Gemm over all steps
  const h0 = g.raw("Expand", [g.scalar(0), batchDim(H)], ["N", H]);
  let h: Tensor | undefined;
  let c: Tensor | undefined;
  const hs: Tensor[] = [];
  const cell = (gates: Tensor) => {
    const [i, f, gt, o] = g.lstmGates(gates, H) as [Tensor, Tensor, Tensor, Tensor];
    c = c ? g.add(g.mul(f, c), g.mul(i, gt)) : g.mul(i, gt);
    h = g.mul(o, g.tanh(c));
    hs.push(h);
  };
  if ("repeat" in input) {
    // the same input at every step: project it once, add it as the Gemm bias of every step
    const xp = g.gemm(input.repeat, g.slice(W, 0, 0, inDim), b);
    const Wh = g.slice(W, 0, inDim, inDim + H);
    for (let t = 0; t < T; t++) cell(g.gemm(h ?? h0, Wh, xp, h !== undefined));
  } else {
    // one Gemm per step over [x_t, h_{t-1}, 1] · [W; b]: no Split of a precomputed input
    // projection, and the weight and bias gradients are one Gemm over all steps
    const Wb = g.concat([W, g.reshape(b, [1, 4 * H])], 0); // [in+H+1, 4H]
    g.uncountedWeight(Wb);
    const ones = g.raw("Expand", [g.scalar(1), batchDim(1)], ["N", 1]);
    for (let t = 0; t < T; t++) cell(g.gemm(g.concat([input.steps[t]!, h ?? h0, ones], 1), Wb, undefined, false));
    // useful FLOPs as for x·W_x over all steps + h·W_h per step (zero state and bias column excluded)
    const TN = mulDim("N", T);
    g.matmuls.push({ m: TN, k: inDim, n: 4 * H });
    for (let t = 1; t < T; t++) g.matmuls.push({ m: "N", k: H, n: 4 * H });
    g.backwardMatmuls.push({ m: inDim, k: TN, n: 4 * H }, { m: H, k: TN, n: 4 * H });
    for (let t = 1; t < T; t++) g.backwardMatmuls.push({ m: "N", k: 4 * H, n: H });
    if (first.grad) g.backwardMatmuls.push({ m: TN, k: 4 * H, n: inDim });
  }
  return { steps: hs, seq: () => g.concat(hs, 0), last: h! };
}

function gruLayer(g: Graph, seq: Tensor, T: number, W: Tensor, b: Tensor, bh: Tensor, inDim: number, H: number) {
  const Wx = g.slice(W, 0, 0, inDim);
  const Wh = g.slice(W, 0, inDim, inDim + H);
  const xps = g.split(g.gemm(seq, Wx, b), 0, { count: T, size: "N" });
  let h: Tensor | undefined;
  const hs: Tensor[] = [];
  for (let t = 0; t < T; t++) {
    const [xrz, xn] = g.split(xps[t]!, 1, [2 * H, H]) as [Tensor, Tensor];
    const hp = h ? g.gemm(h, Wh, bh) : bh;
    const [hrz, hn] = g.split(hp, h ? 1 : 0, [2 * H, H]) as [Tensor, Tensor];
    const [r, z] = g.split(g.sigmoid(g.add(xrz, hrz)), 1, [H, H]) as [Tensor, Tensor];
    const n = g.tanh(g.add(xn, g.mul(r, hn)));
    h = h ? g.add(n, g.mul(z, g.sub(h, n))) : g.sub(n, g.mul(z, n));
    hs.push(h);
  }
  return { seq: g.concat(hs, 0), last: h! };
}

/**
 * Inference-only: the same LSTM layer through the stock ONNX LSTM op. The documented
 * fused weight W [in+H, 4H] (gates i,f,g,o) is re-laid out in-graph (constant-folded by
 * ORT) into ONNX's W [1,4H,in], R [1,4H,H] (gate order i,o,f,c) and B [1,8H].
 * x3: [T,N,in] → returns Y [T,N,H] and h_T [N,H].
 */
function nativeLstm(g: Graph, x3: Tensor, W: Tensor, b: Tensor, inDim: number, H: number) {
  const reorder = (m: Tensor, rows: number) => {
    // m: [rows, 4H] → transpose [4H, rows] → blocks i,o,f,g → [1, 4H, rows]
    const tr = g.raw("Transpose", [m], [4 * H, rows], { perm: [1, 0] });
    const [i, f, c, o] = g.node("Split", [tr, g.ints([H, H, H, H])], [[H, rows], [H, rows], [H, rows], [H, rows]], { axis: 0 }) as [Tensor, Tensor, Tensor, Tensor];
    const cat = g.raw("Concat", [i, o, f, c], [4 * H, rows], { axis: 0 });
    return g.raw("Unsqueeze", [cat, g.ints([0])], [1, 4 * H, rows]);
  };
  const Wx = g.raw("Slice", [W, g.ints([0]), g.ints([inDim]), g.ints([0])], [inDim, 4 * H]);
  const Wh = g.raw("Slice", [W, g.ints([inDim]), g.ints([inDim + H]), g.ints([0])], [H, 4 * H]);
  const [bi, bf, bc, bo] = g.node("Split", [b, g.ints([H, H, H, H])], [[H], [H], [H], [H]], { axis: 0 }) as [Tensor, Tensor, Tensor, Tensor];
  const zero = g.raw("Mul", [b, g.scalar(0)], [4 * H]);
  const B = g.raw("Unsqueeze", [g.raw("Concat", [bi, bo, bf, bc, zero], [8 * H], { axis: 0 }), g.ints([0])], [1, 8 * H]);
  const T = x3.shape[0]!;
  const [Y, Yh] = g.node("LSTM", [x3, reorder(Wx, inDim), reorder(Wh, H), B], [[T, 1, "N", H], [1, "N", H]], { hidden_size: H }) as [Tensor, Tensor];
  return { seq3: g.raw("Squeeze", [Y, g.ints([1])], [T, "N", H]), last: g.raw("Squeeze", [Yh, g.ints([0])], ["N", H]) };
}

/** Inference-only GRU through the stock ONNX GRU op (linear_before_reset = 1, gate order z,r,h). */
function nativeGru(g: Graph, x3: Tensor, W: Tensor, b: Tensor, bh: Tensor, inDim: number, H: number) {
  const reorder = (m: Tensor, rows: number) => {
    const tr = g.raw("Transpose", [m], [3 * H, rows], { perm: [1, 0] });
    const [r, z, n] = g.node("Split", [tr, g.ints([H, H, H])], [[H, rows], [H, rows], [H, rows]], { axis: 0 }) as [Tensor, Tensor, Tensor];
    return g.raw("Unsqueeze", [g.raw("Concat", [z, r, n], [3 * H, rows], { axis: 0 }), g.ints([0])], [1, 3 * H, rows]);
  };
  const Wx = g.raw("Slice", [W, g.ints([0]), g.ints([inDim]), g.ints([0])], [inDim, 3 * H]);
  const Wh = g.raw("Slice", [W, g.ints([inDim]), g.ints([inDim + H]), g.ints([0])], [H, 3 * H]);
  const [br, bz, bn] = g.node("Split", [b, g.ints([H, H, H])], [[H], [H], [H]], { axis: 0 }) as [Tensor, Tensor, Tensor];
  const [hr, hz, hn] = g.node("Split", [bh, g.ints([H, H, H])], [[H], [H], [H]], { axis: 0 }) as [Tensor, Tensor, Tensor];
  const B = g.raw("Unsqueeze", [g.raw("Concat", [bz, br, bn, hz, hr, hn], [6 * H], { axis: 0 }), g.ints([0])], [1, 6 * H]);
  const T = x3.shape[0]!;
  const [Y, Yh] = g.node("GRU", [x3, reorder(Wx, inDim), reorder(Wh, H), B], [[T, 1, "N", H], [1, "N", H]], { hidden_size: H, linear_before_reset: 1 }) as [Tensor, Tensor];
  return { seq3: g.raw("Squeeze", [Y, g.ints([1])], [T, "N", H]), last: g.raw("Squeeze", [Yh, g.ints([0])], ["N", H]) };
}

/**
 * Forward pass on a normalised window batch x [N,T,F].
 * `masks` are inverted-dropout masks (values 0 or 1/(1−p)); pass undefined at inference.
 * `target` = {label [N], weight [N]} for the supervised sentinel loss.
 */
export function forward(
  def: ModelDef,
  g: Graph,
  x: Tensor,
  p: Record<string, Tensor>,
  masks?: Record<string, Tensor>,
  target?: { label: Tensor; weight: Tensor },
  native = false,
): ForwardOut {
  const { features: F, seq: T, hp } = def;
  const H = hp.hidden_dim;
  const P = (n: string) => {
    const t = p[n];
    if (!t) throw new Error(`missing parameter ${n}`);
    return t;
  };
  const drop = (t: Tensor, name: string) => (masks && masks[name] ? g.mul(t, masks[name]!) : t);
  if (def.architecture === "lstm_autoencoder") {
    const xtm = g.transpose(x, [1, 0, 2]); // [T,N,F]
    let decSeq: Tensor;
    if (native) {
      let seq3 = xtm;
      let last: Tensor | undefined;
      for (let l = 0; l < hp.num_layers; l++) {
        const r = nativeLstm(g, seq3, P(`lstm.enc.${l}.W`), P(`lstm.enc.${l}.b`), l === 0 ? F : H, H);
        seq3 = r.seq3;
        last = r.last;
      }
      const z = g.gemm(last!, P("bottleneck.W"), P("bottleneck.b"));
      const Z = hp.bottleneck_dim;
      seq3 = g.raw("Expand", [g.raw("Unsqueeze", [z, g.ints([0])], [1, "N", Z]), g.ints([T, 1, 1])], [T, "N", Z]);
      for (let l = 0; l < hp.num_layers; l++) seq3 = nativeLstm(g, seq3, P(`lstm.dec.${l}.W`), P(`lstm.dec.${l}.b`), l === 0 ? Z : H, H).seq3;
      decSeq = g.reshape(seq3, [mulDim("N", T), H]);
    } else {
      let steps = g.split(g.reshape(xtm, [mulDim("N", T), F]), 0, { count: T, size: "N" });
      let last: Tensor | undefined;
      for (let l = 0; l < hp.num_layers; l++) {
        const r = lstmLayer(g, { steps }, T, P(`lstm.enc.${l}.W`), P(`lstm.enc.${l}.b`), l === 0 ? F : H, H);
        steps = r.steps;
        last = r.last;
      }
      const z = drop(g.gemm(last!, P("bottleneck.W"), P("bottleneck.b")), "mask.bottleneck");
      let dec = lstmLayer(g, { repeat: z }, T, P("lstm.dec.0.W"), P("lstm.dec.0.b"), hp.bottleneck_dim, H);
      for (let l = 1; l < hp.num_layers; l++) dec = lstmLayer(g, { steps: dec.steps }, T, P(`lstm.dec.${l}.W`), P(`lstm.dec.${l}.b`), H, H);
      decSeq = dec.seq();
    }
    const recon2d = g.gemm(decSeq, P("output.W"), P("output.b")); // [T*N, F]
    const recon = g.reshape(recon2d, [T, "N", F]);
    const err = elementLoss(g, g.sub(recon, xtm), hp.loss === "bce" ? "mse" : hp.loss);
    const score = g.reduceMean(err, [0, 2], false); // [N]
    const contribution = g.mul(g.reduceMean(err, [0], false), g.scalar(1 / F)); // [N,F]
    return { perSample: score, score, output: g.transpose(recon, [1, 0, 2]), outputName: "reconstruction", contribution };
  }
  if (def.architecture === "gru_predictor") {
    const xtm = g.transpose(x, [1, 0, 2]); // [T,N,F]
    // forecasting reads rows 0..T-2 and predicts row T-1; the bce classifier reads all T rows
    const steps = def.supervised ? T : T - 1;
    const ctx = def.supervised ? xtm : g.slice(xtm, 0, 0, T - 1);
    let last: Tensor | undefined;
    if (native) {
      let seq3 = ctx;
      for (let l = 0; l < hp.num_layers; l++) {
        const r = nativeGru(g, seq3, P(`gru.${l}.W`), P(`gru.${l}.b`), P(`gru.${l}.bh`), l === 0 ? F : H, H);
        seq3 = r.seq3;
        last = r.last;
      }
    } else {
      let seq = g.reshape(ctx, [mulDim("N", steps), F]);
      for (let l = 0; l < hp.num_layers; l++) {
        const r = gruLayer(g, seq, steps, P(`gru.${l}.W`), P(`gru.${l}.b`), P(`gru.${l}.bh`), l === 0 ? F : H, H);
        seq = r.seq;
        last = r.last;
      }
    }
    const head = g.gemm(drop(last!, "mask.head"), P("head.W"), P("head.b"));
    if (def.supervised) {
      const logit = g.reshape(head, ["N"]);
      const score = g.sigmoid(logit);
      const perSample = target ? g.mul(g.bceWithLogits(logit, target.label), target.weight) : score;
      return { perSample, score, output: g.sub(g.scalar(1), score), outputName: "health" };
    }
    const target0 = g.reshape(g.slice(xtm, 0, T - 1, T), ["N", F]);
    const err = elementLoss(g, g.sub(head, target0), hp.loss === "bce" ? "mse" : hp.loss);
    const score = g.reduceMean(err, [1], false);
    return { perSample: score, score, output: head, outputName: "forecast", contribution: g.mul(err, g.scalar(1 / F)) };
  }
  const feat = windowStatistics(g, x, T, F);
  if (def.architecture === "pca" || def.architecture === "kmeans" || def.architecture === "iforest") {
    const z = g.mul(g.sub(feat, P("baseline.mean")), P("baseline.inv_std"));
    if (def.architecture === "iforest") {
      const score = isolationScore(g, z, def.hp.trees, P("iforest.feature"), P("iforest.threshold"), P("iforest.path_length"));
      return { perSample: score, score, output: g.reshape(score, ["N", 1]), outputName: "statistics" };
    }
    if (def.architecture === "pca") {
      const t = g.matmul(z, P("pca.project.W"));
      const t2 = g.reduceSum(g.mul(g.mul(t, t), P("pca.inv_eigenvalues")), [1], false);
      const residual = g.sub(z, g.matmul(t, P("pca.reconstruct.W")));
      const q = g.reduceSum(g.mul(residual, residual), [1], false);
      const [w0, w1] = g.split(P("pca.weights"), 0, [1, 1]) as [Tensor, Tensor];
      const score = g.add(g.mul(t2, w0), g.mul(q, w1));
      const stats = g.concat([g.reshape(t2, ["N", 1]), g.reshape(q, ["N", 1])], 1);
      // T² = Σ_i z_i · (t/λ · Pᵀ)_i and Q = Σ_i r_i²: per statistic, then summed over each sensor's three
      const t2Part = g.mul(z, g.matmul(g.mul(t, P("pca.inv_eigenvalues")), P("pca.reconstruct.W")));
      const perStatistic = g.add(g.mul(t2Part, w0), g.mul(g.mul(residual, residual), w1));
      return { perSample: score, score, output: stats, outputName: "statistics", contribution: bySensor(g, perStatistic, F) };
    }
    // ‖z − c‖² = ‖z‖² − 2 z·c + ‖c‖², the nearest centroid's
    const zz = g.reduceSum(g.mul(z, z), [1], true);
    const distances = g.add(g.sub(zz, g.mul(g.matmul(z, P("kmeans.centroids.W")), g.scalar(2))), P("kmeans.sq_norms"));
    const nearest = g.raw("ReduceMin", [distances], ["N"], { axes: [1], keepdims: 0 });
    const score = g.mul(g.relu(nearest), P("kmeans.inverse_mean"));
    const index = g.raw("ArgMin", [distances], ["N"], { axis: 1, keepdims: 0 }, DataType.INT64);
    const cluster = g.raw("Cast", [g.reshape(index, ["N", 1])], ["N", 1], { to: DataType.FLOAT });
    const K = def.hp.clusters;
    const onehot = g.raw("OneHot", [index, g.ints([K]), g.initializer("onehot_values", [2], Float32Array.of(0, 1))], ["N", K], { axis: -1 });
    const offset = g.sub(z, g.matmul(onehot, P("kmeans.nearest.W"))); // z − nearest centroid
    const contribution = bySensor(g, g.mul(g.mul(offset, offset), P("kmeans.inverse_mean")), F);
    return { perSample: score, score, output: g.concat([g.reshape(score, ["N", 1]), cluster], 1), outputName: "statistics", contribution };
  }
  // sentinel
  const h1 = drop(g.relu(g.gemm(feat, P("mlp.0.W"), P("mlp.0.b"))), "mask.0");
  const h2 = drop(g.relu(g.gemm(h1, P("mlp.1.W"), P("mlp.1.b"))), "mask.1");
  const logit = g.reshape(g.gemm(h2, P("mlp.2.W"), P("mlp.2.b")), ["N"]);
  const score = g.sigmoid(logit);
  const perSample = target ? g.mul(g.bceWithLogits(logit, target.label), target.weight) : score;
  const health = g.sub(g.scalar(1), score);
  return { perSample, score, output: health, outputName: "health" };
}

/**
 * Per sensor over the window: the last row, the mean and the standard deviation
 * (√(var + 1e-6)), as [N, 3F] in that order (sentinel's MLP input, the baselines' features).
 */
export function windowStatistics(g: Graph, x: Tensor, T: number, F: number): Tensor {
  const lastRow = g.reshape(g.slice(x, 1, T - 1, T), ["N", F]);
  const meanK = g.reduceMean(x, [1], true); // [N,1,F]
  const mean = g.reshape(meanK, ["N", F]);
  const dev = g.sub(x, meanK);
  const sd = g.sqrt(g.add(g.reshape(g.reduceMean(g.mul(dev, dev), [1], true), ["N", F]), g.scalar(1e-6)));
  return g.concat([lastRow, mean, sd], 1);
}

/** [N, 3F] per window statistic (last row, mean, std of each sensor) → [N, F] per sensor. */
function bySensor(g: Graph, perStatistic: Tensor, F: number): Tensor {
  return g.reduceSum(g.reshape(perStatistic, ["N", 3, F]), [1], false);
}

/** Levels of an isolation tree: ⌈log2 256⌉ for the 256-window samples each tree grows on. */
export const ISOLATION_DEPTH = 8;
/** Windows each isolation tree is grown on at most. */
export const ISOLATION_SAMPLE = 256;

/** Average path length of an unsuccessful search in a binary search tree of n points (Liu et al.'s c(n)). */
export function averagePathLength(n: number): number {
  if (n <= 1) return 0;
  if (n === 2) return 1;
  return 2 * (Math.log(n - 1) + 0.5772156649) - (2 * (n - 1)) / n;
}

/**
 * Isolation forest score 2^(−E[h(z)] / c(ψ)): every tree walked at once, one level
 * per step (right when z[feature] > threshold), h the path length stored at the leaf.
 */
function isolationScore(g: Graph, z: Tensor, trees: number, feature: Tensor, threshold: Tensor, pathLength: Tensor): Tensor {
  const internal = 2 ** ISOLATION_DEPTH - 1;
  const int64 = (values: number[], name: string) => g.rawInitializer(name, [values.length], DataType.INT64, BigInt64Array.from(values.map(BigInt)));
  const nodeOffset = int64(Array.from({ length: trees }, (_, t) => t * internal), "iforest.node_offset");
  const leafOffset = int64(Array.from({ length: trees }, (_, t) => t * (internal + 1) - internal), "iforest.leaf_offset");
  const one = int64([1], "iforest.one");
  const two = int64([2], "iforest.two");
  const features = g.raw("Cast", [feature], [trees * internal], { to: DataType.INT64 }, DataType.INT64);
  // every walk starts at the root: zeros [N, trees]
  const shape = g.raw("Concat", [g.raw("Slice", [g.raw("Shape", [z], [2], {}, DataType.INT64), g.ints([0]), g.ints([1])], [1], {}, DataType.INT64), g.ints([trees])], [2], { axis: 0 }, DataType.INT64);
  let index = g.raw("Cast", [g.raw("Expand", [g.scalar(0), shape], ["N", trees])], ["N", trees], { to: DataType.INT64 }, DataType.INT64);
  for (let level = 0; level < ISOLATION_DEPTH; level++) {
    const at = g.raw("Add", [index, nodeOffset], ["N", trees], {}, DataType.INT64);
    const splitOn = g.raw("Gather", [features, at], ["N", trees], { axis: 0 }, DataType.INT64);
    const value = g.raw("GatherElements", [z, splitOn], ["N", trees], { axis: 1 });
    const right = g.raw("Cast", [g.raw("Greater", [value, g.raw("Gather", [threshold, at], ["N", trees], { axis: 0 })], ["N", trees], {}, DataType.BOOL)], ["N", trees], { to: DataType.INT64 }, DataType.INT64);
    index = g.raw("Add", [g.raw("Add", [g.raw("Mul", [index, two], ["N", trees], {}, DataType.INT64), one], ["N", trees], {}, DataType.INT64), right], ["N", trees], {}, DataType.INT64);
  }
  const leaf = g.raw("Add", [index, leafOffset], ["N", trees], {}, DataType.INT64);
  const depth = g.reduceMean(g.raw("Gather", [pathLength, leaf], ["N", trees], { axis: 0 }), [1], false);
  return g.exp(g.mul(depth, g.scalar(-Math.LN2 / averagePathLength(ISOLATION_SAMPLE))));
}
