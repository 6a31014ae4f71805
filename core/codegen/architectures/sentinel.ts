/**
 * sentinel (task "classification"): window statistics per feature (last row,
 * mean and, with NSTATS 3, standard deviation) through a 128-64-1 ReLU MLP;
 * the score is the failure probability. No recurrent cell.
 */
import type { ModelSpec } from "../spec";
import { biasArray, matrixArgs } from "../weights";
import { WINDOW_STATS_C } from "./window-stats";

/** Needs no cell; NSTATS is defined for every program. */
export function defines(_spec: ModelSpec): string {
  return "";
}

/** `score_window(x)`: the failure probability of the normalised T × F window `x`. */
export function scoreWindow(_spec: ModelSpec): string {
  return `${WINDOW_STATS_C}
static float score_window(const float *x) {
  float feat[NSTATS * F], h1[128], h2[64], logit[1];
  int j;
  window_stats(x, feat);
  for (j = 0; j < 128; j++) h1[j] = ${biasArray("mlp.0.b")}[j];
  matvec(h1, feat, NSTATS * F, ${matrixArgs("mlp.0.W")}, 128);
  for (j = 0; j < 128; j++) h1[j] = f_relu(h1[j]);
  for (j = 0; j < 64; j++) h2[j] = ${biasArray("mlp.1.b")}[j];
  matvec(h2, h1, 128, ${matrixArgs("mlp.1.W")}, 64);
  for (j = 0; j < 64; j++) h2[j] = f_relu(h2[j]);
  logit[0] = ${biasArray("mlp.2.b")}[0];
  matvec(logit, h2, 64, ${matrixArgs("mlp.2.W")}, 1);
  return f_sigmoid(logit[0]);
}`;
}
