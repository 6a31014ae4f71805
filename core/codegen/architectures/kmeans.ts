/**
 * kmeans (task "distance"): the squared distance of the standardised window
 * statistics z to the nearest of K centroids, ‖z‖² − 2 z·c + ‖c‖², times the
 * model's scale.
 */
import type { ModelSpec } from "../spec";
import { biasArray, matrixArgs } from "../weights";
import { WINDOW_STATS_C } from "./window-stats";

export function defines(spec: ModelSpec): string {
  return `#define NCLUSTERS ${spec.components}`;
}

export function scoreWindow(_spec: ModelSpec): string {
  return `${WINDOW_STATS_C}
static float score_window(const float *x) {
  float z[3 * F], dot[NCLUSTERS], zz = 0.0f, nearest = 0.0f, onehot[NCLUSTERS], centre[3 * F];
  int j, best = 0;
  window_stats(x, z);
  for (j = 0; j < 3 * F; j++) {
    z[j] = (z[j] - ${biasArray("baseline.mean")}[j]) * ${biasArray("baseline.inv_std")}[j];
    zz += z[j] * z[j];
  }
  for (j = 0; j < NCLUSTERS; j++) dot[j] = 0.0f;
  matvec(dot, z, 3 * F, ${matrixArgs("kmeans.centroids.W")}, NCLUSTERS);
  for (j = 0; j < NCLUSTERS; j++) {
    float d = zz - 2.0f * dot[j] + ${biasArray("kmeans.sq_norms")}[j];
    if (j == 0 || d < nearest) {
      nearest = d;
      best = j;
    }
  }
  /* per sensor: its three statistics' squared offsets from the nearest centroid */
  for (j = 0; j < NCLUSTERS; j++) onehot[j] = j == best ? 1.0f : 0.0f;
  for (j = 0; j < 3 * F; j++) centre[j] = 0.0f;
  matvec(centre, onehot, NCLUSTERS, ${matrixArgs("kmeans.nearest.W")}, 3 * F);
  for (j = 0; j < F; j++) {
    float share = 0.0f;
    int s;
    for (s = 0; s < 3; s++) {
      float o = z[s * F + j] - centre[s * F + j];
      share += o * o;
    }
    contribution[j] = share * ${biasArray("kmeans.inverse_mean")}[0];
  }
  return (nearest > 0.0f ? nearest : 0.0f) * ${biasArray("kmeans.inverse_mean")}[0];
}`;
}
