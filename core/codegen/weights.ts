/**
 * The model's weights in C and the one kernel that reads them: the weight
 * tables (`W_<name>`, with per-column scales `S_<name>` for int8 matrices),
 * the `wt` element type and `matvec`. Precision (float32 or int8) is decided
 * here and nowhere else; the architecture emitters pass a matrix as
 * `matrixArgs(name)` and a bias as `biasArray(name)` and read the same
 * either way.
 */
import { isQuantized, type ModelSpec } from "./spec";
import { floatArray, ident, intArray } from "./writer";

/** The `wt` typedef: the element type of weight matrices. */
export function weightType(spec: ModelSpec): string {
  return spec.precision === "int8" ? "typedef signed char wt;" : "typedef float wt;";
}

/** One static table per weight (matrices as `wt` plus their scales, biases as float), in `spec.weights` order. */
export function weightTables(spec: ModelSpec): string {
  const int8 = spec.precision === "int8";
  const tables: string[] = [];
  for (const [name, weight] of spec.weights) {
    const id = ident(name);
    if (int8 && isQuantized(name)) {
      if (!weight.q || weight.scale === undefined) throw new Error(`weight ${name} is not quantized`);
      tables.push(`static const wt W_${id}[${weight.q.length}] = {\n${intArray(weight.q)}\n};`);
      tables.push(`static const float S_${id}[${weight.scale.length}] = {\n${floatArray(weight.scale)}\n};`);
    } else if (isQuantized(name)) {
      tables.push(`static const wt W_${id}[${weight.data.length}] = {\n${floatArray(weight.data)}\n};`);
      tables.push(`#define S_${id} 0`);
    } else {
      tables.push(`static const float W_${id}[${weight.data.length}] = {\n${floatArray(weight.data)}\n};`);
    }
  }
  return tables.join("\n");
}

/** The `W, scale` argument pair of `matvec` (and the layer functions) for a weight matrix. */
export function matrixArgs(name: string): string {
  return `W_${ident(name)}, S_${ident(name)}`;
}

/** The float table of a bias vector. */
export function biasArray(name: string): string {
  return `W_${ident(name)}`;
}

/** `matvec(y, x, K, W, scale, N)`: y += x · W for the spec's precision (int8 accumulates in a MAXN buffer, then scales per column). */
export function matvecC(spec: ModelSpec): string {
  return `/* y[j] += sum_k x[k] * W[k][j] (W row-major K x N; int8 columns times their scale).
   The one hot loop is optimised for speed (vectorised where the target has SIMD);
   it has no reduction across j, so the results are bit-identical to -Os. */
__attribute__((optimize("O3"))) static void matvec(float *y, const float *x, int K, const wt *W, const float *scale, int N) {
${spec.precision === "int8" ? `  static float acc[MAXN];
  int j, k;
  for (j = 0; j < N; j++) acc[j] = 0.0f;
  for (k = 0; k < K; k++) {
    const float xk = x[k];
    const wt *row = W + k * N;
    for (j = 0; j < N; j++) acc[j] += xk * (float)row[j];
  }
  for (j = 0; j < N; j++) y[j] += acc[j] * scale[j];` : `  int j, k;
  (void)scale;
  for (k = 0; k < K; k++) {
    const float xk = x[k];
    const wt *row = W + k * N;
    for (j = 0; j < N; j++) y[j] += xk * row[j];
  }`}
}`;
}
