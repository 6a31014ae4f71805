/**
 * pca (task "distance"): the standardised window statistics z projected on the
 * K principal directions, t = z·P; the score is w0·Σ t²/λ (Hotelling's T²) plus
 * w1·‖z − t·Pᵀ‖² (Q, the squared prediction error).
 */
import type { ModelSpec } from "../spec";
import { biasArray, matrixArgs } from "../weights";
import { WINDOW_STATS_C } from "./window-stats";

export function defines(spec: ModelSpec): string {
  return `#define NCOMP ${spec.components}`;
}

export function scoreWindow(_spec: ModelSpec): string {
  return `${WINDOW_STATS_C}
static float score_window(const float *x) {
  float z[3 * F], t[NCOMP], back[3 * F], tw[NCOMP], u[3 * F];
  double t2 = 0, q = 0;
  int j;
  window_stats(x, z);
  for (j = 0; j < 3 * F; j++) z[j] = (z[j] - ${biasArray("baseline.mean")}[j]) * ${biasArray("baseline.inv_std")}[j];
  for (j = 0; j < NCOMP; j++) t[j] = 0.0f;
  matvec(t, z, 3 * F, ${matrixArgs("pca.project.W")}, NCOMP);
  for (j = 0; j < 3 * F; j++) back[j] = 0.0f;
  matvec(back, t, NCOMP, ${matrixArgs("pca.reconstruct.W")}, 3 * F);
  for (j = 0; j < NCOMP; j++) t2 += (double)(t[j] * t[j] * ${biasArray("pca.inv_eigenvalues")}[j]);
  for (j = 0; j < 3 * F; j++) {
    float r = z[j] - back[j];
    q += (double)(r * r);
  }
  /* per sensor: T² = sum_i z_i (t/lambda . P^T)_i and Q = sum_i r_i^2, over its three statistics */
  for (j = 0; j < NCOMP; j++) tw[j] = t[j] * ${biasArray("pca.inv_eigenvalues")}[j];
  for (j = 0; j < 3 * F; j++) u[j] = 0.0f;
  matvec(u, tw, NCOMP, ${matrixArgs("pca.reconstruct.W")}, 3 * F);
  for (j = 0; j < F; j++) {
    float share = 0.0f;
    int s;
    for (s = 0; s < 3; s++) {
      int i = s * F + j;
      float r = z[i] - back[i];
      share += z[i] * u[i] * ${biasArray("pca.weights")}[0] + r * r * ${biasArray("pca.weights")}[1];
    }
    contribution[j] = share;
  }
  return (float)(t2 * ${biasArray("pca.weights")}[0] + q * ${biasArray("pca.weights")}[1]);
}`;
}
