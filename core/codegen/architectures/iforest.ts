/**
 * iforest (task "distance"): the standardised window statistics walked down
 * every isolation tree (complete, heap order: right when z[feature] > threshold),
 * the score 2^(−mean path length / c(256)). Its score does not split by sensor.
 */
import { averagePathLength, ISOLATION_DEPTH, ISOLATION_SAMPLE } from "../../ml/models";
import type { ModelSpec } from "../spec";
import { biasArray } from "../weights";
import { WINDOW_STATS_C } from "./window-stats";

export function defines(spec: ModelSpec): string {
  return `#define NTREES ${spec.components}\n#define DEPTH ${ISOLATION_DEPTH}\n#define INTERNAL ${2 ** ISOLATION_DEPTH - 1}`;
}

export function scoreWindow(_spec: ModelSpec): string {
  return `${WINDOW_STATS_C}
static float score_window(const float *x) {
  float z[3 * F];
  double depth = 0;
  int j, tree, level;
  window_stats(x, z);
  for (j = 0; j < 3 * F; j++) z[j] = (z[j] - ${biasArray("baseline.mean")}[j]) * ${biasArray("baseline.inv_std")}[j];
  for (tree = 0; tree < NTREES; tree++) {
    int node = 0;
    for (level = 0; level < DEPTH; level++) {
      int at = tree * INTERNAL + node;
      node = 2 * node + 1 + (z[(int)${biasArray("iforest.feature")}[at]] > ${biasArray("iforest.threshold")}[at] ? 1 : 0);
    }
    depth += (double)${biasArray("iforest.path_length")}[tree * (INTERNAL + 1) + node - INTERNAL];
  }
  return (float)d_exp(-(depth / (double)NTREES) * ${Math.LN2 / averagePathLength(ISOLATION_SAMPLE)});
}`;
}
