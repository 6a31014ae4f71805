/**
 * The recurrent cells (LSTM and GRU layers over a window, gate orders and
 * weight layouts from core/ml/models.ts) and the calls that stack them. The
 * cells are shared C: lstm_autoencoder runs LSTM layers as encoder and
 * decoder, gru_predictor runs GRU layers for both its forecaster and its
 * classifier. An architecture switches a cell on with `#define USE_LSTM` or
 * `USE_GRU` (and `GRU_STEPS`).
 */
import { biasArray, matrixArgs } from "./weights";

/** `lstm_layer` and `gru_layer`, each compiled only when its USE_ macro is defined. */
export const RECURRENT_C = `#ifdef USE_LSTM
/* LSTM over T steps; input step t is xs + t * xstride (xstride 0 repeats one vector). Gates i, f, g, o. */
static void lstm_layer(const float *xs, int xstride, int in, const wt *W, const float *ws, const float *b, float *hs) {
  static float g[4 * H], c[H], xp[4 * H];
  int t, j;
  if (xstride == 0) {
    /* the same input at every step (decoder): project it once */
    for (j = 0; j < 4 * H; j++) xp[j] = b[j];
    matvec(xp, xs, in, W, ws, 4 * H);
  }
  for (t = 0; t < T; t++) {
    if (xstride == 0) {
      for (j = 0; j < 4 * H; j++) g[j] = xp[j];
    } else {
      for (j = 0; j < 4 * H; j++) g[j] = b[j];
      matvec(g, xs + t * xstride, in, W, ws, 4 * H);
    }
    if (t > 0) matvec(g, hs + (t - 1) * H, H, W + in * 4 * H, ws, 4 * H);
    for (j = 0; j < H; j++) {
      float i = f_sigmoid(g[j]), o = f_sigmoid(g[3 * H + j]), gg = f_tanh(g[2 * H + j]);
      c[j] = t > 0 ? f_sigmoid(g[H + j]) * c[j] + i * gg : i * gg;
      hs[t * H + j] = o * f_tanh(c[j]);
    }
  }
}

#endif
#ifdef USE_GRU
/* GRU over the first GRU_STEPS steps: T - 1 for the forecaster (it forecasts step T - 1),
   all T for the classifier. Gates r, z, n. */
static void gru_layer(const float *xs, int in, const wt *W, const float *ws, const float *b, const float *bh, float *hs) {
  static float a[3 * H], u[3 * H];
  int t, j;
  for (t = 0; t < GRU_STEPS; t++) {
    for (j = 0; j < 3 * H; j++) { a[j] = b[j]; u[j] = bh[j]; }
    matvec(a, xs + t * in, in, W, ws, 3 * H);
    if (t > 0) matvec(u, hs + (t - 1) * H, H, W + in * 3 * H, ws, 3 * H);
    for (j = 0; j < H; j++) {
      float r = f_sigmoid(a[j] + u[j]), zg = f_sigmoid(a[H + j] + u[H + j]);
      float n = f_tanh(a[2 * H + j] + r * u[2 * H + j]);
      hs[t * H + j] = t > 0 ? n + zg * (hs[(t - 1) * H + j] - n) : n - zg * n;
    }
  }
}
#endif`;

/** Buffers a layer stack writes into: `seq_0` and `seq_1`, T × H floats each. */
export type SequenceBuffer = 0 | 1;

/** The C statements of a layer stack and where its last layer's T × H outputs are. */
export interface LayerStack {
  lines: string[];
  /** C expression of the last layer's outputs (the stack's input when it has no layers). */
  output: string;
  /** The buffer the next stack should write first (the one not holding `output`). */
  next: SequenceBuffer;
}

/**
 * Calls of `layers` stacked layers, each reading the one before and writing
 * seq_0 and seq_1 in turn from `first`; `call` writes layer `l`'s statement.
 */
function stack(layers: number, input: string, first: SequenceBuffer, call: (layer: number, input: string, output: string) => string): LayerStack {
  const lines: string[] = [];
  let buffer = first;
  for (let l = 0; l < layers; l++) {
    lines.push(call(l, input, `seq_${buffer}`));
    input = `seq_${buffer}`;
    buffer = buffer === 0 ? 1 : 0;
  }
  return { lines, output: input, next: buffer };
}

/**
 * LSTM layers `<prefix>.<l>.W/.b` over `input`: the first reads rows of width
 * `dim` with step stride `stride` (0 repeats one vector at every step), the
 * rest read the previous layer's H-wide outputs.
 */
export function lstmStack(prefix: string, layers: number, input: { name: string; stride: string; dim: string }, first: SequenceBuffer = 0): LayerStack {
  return stack(layers, input.name, first, (l, from, to) => {
    const [stride, dim] = l === 0 ? [input.stride, input.dim] : ["H", "H"];
    return `  lstm_layer(${from}, ${stride}, ${dim}, ${matrixArgs(`${prefix}.${l}.W`)}, ${biasArray(`${prefix}.${l}.b`)}, ${to});`;
  });
}

/** GRU layers `gru.<l>.W/.b/.bh` over the window `x` (F wide), the rest over the previous layer's outputs. */
export function gruStack(layers: number): LayerStack {
  return stack(layers, "x", 0, (l, from, to) => `  gru_layer(${from}, ${l === 0 ? "F" : "H"}, ${matrixArgs(`gru.${l}.W`)}, ${biasArray(`gru.${l}.b`)}, ${biasArray(`gru.${l}.bh`)}, ${to});`);
}
