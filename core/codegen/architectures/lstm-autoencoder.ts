/**
 * lstm_autoencoder (task "reconstruction"): LSTM encoder over the window,
 * the last step's state through the bottleneck, an LSTM decoder fed the
 * bottleneck at every step, and a dense output per step; the score is the
 * mean loss between the reconstruction and the window.
 */
import { lossTerm } from "../loss";
import { lstmStack } from "../recurrent";
import type { ModelSpec } from "../spec";
import { biasArray, matrixArgs } from "../weights";

/** Switches on the LSTM cell. */
export function defines(_spec: ModelSpec): string {
  return "#define USE_LSTM 1";
}

/** `score_window(x)`: the mean reconstruction error of the normalised T × F window `x`. */
export function scoreWindow(spec: ModelSpec): string {
  const encoder = lstmStack("lstm.enc", spec.numLayers, { name: "x", stride: "F", dim: "F" });
  const decoder = lstmStack("lstm.dec", spec.numLayers, { name: "z", stride: "0", dim: "Z" }, encoder.next);
  const lines = [
    ...encoder.lines,
    `  for (j = 0; j < Z; j++) z[j] = ${biasArray("bottleneck.b")}[j];`,
    `  matvec(z, ${encoder.output} + (T - 1) * H, H, ${matrixArgs("bottleneck.W")}, Z);`,
    ...decoder.lines,
  ];
  return `static float seq_0[T * H], seq_1[T * H], z[Z];
static float score_window(const float *x) {
  float r[F];
  double err = 0, per_sensor[F];
  int t, j;
${lines.join("\n")}
  for (j = 0; j < F; j++) per_sensor[j] = 0;
  for (t = 0; t < T; t++) {
    for (j = 0; j < F; j++) r[j] = ${biasArray("output.b")}[j];
    matvec(r, ${decoder.output} + t * H, H, ${matrixArgs("output.W")}, F);
    for (j = 0; j < F; j++) {
      float d = r[j] - x[t * F + j];
      double e = (double)(${lossTerm(spec.loss)});
      err += e;
      per_sensor[j] += e;
    }
  }
  for (j = 0; j < F; j++) contribution[j] = (float)(per_sensor[j] / (double)(T * F));
  return (float)(err / (double)(T * F));
}`;
}
