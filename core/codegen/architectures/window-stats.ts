/**
 * The window statistics sentinel and the baselines read: per feature the last
 * row, the mean and (with NSTATS 3) the standard deviation √(var + 1e-6) over
 * the window, as core/ml's windowStatistics computes them.
 */
export const WINDOW_STATS_C = String.raw`static void window_stats(const float *x, float *feat) {
  int t, j;
  for (j = 0; j < F; j++) {
    float mean = 0.0f, var = 0.0f;
    for (t = 0; t < T; t++) mean += x[t * F + j];
    mean /= (float)T;
    feat[j] = x[(T - 1) * F + j];
    feat[F + j] = mean;
    if (NSTATS == 3) {
      for (t = 0; t < T; t++) {
        float d = x[t * F + j] - mean;
        var += d * d;
      }
      feat[2 * F + j] = (float)__builtin_sqrt((double)(var / (float)T + 1e-6f));
    }
  }
}`;
