/**
 * gru_predictor in its two tasks, which share the GRU stack and differ in
 * what it reads and the head after it:
 * - "forecast": the GRU reads rows 0..T-2, a dense head forecasts row T-1,
 *   and the score is the loss between forecast and row;
 * - "classification" (trained with loss "bce"): the GRU reads all T rows and
 *   the score is the failure probability σ(h_T · head.W + head.b).
 */
import { lossTerm } from "../loss";
import { gruStack } from "../recurrent";
import type { ModelSpec } from "../spec";
import { biasArray, matrixArgs } from "../weights";

/** Switches on the GRU cell, over T - 1 steps for the forecaster and all T for the classifier. */
export function defines(spec: ModelSpec): string {
  return `#define USE_GRU 1\n#define GRU_STEPS ${spec.task === "classification" ? "T" : "(T - 1)"}`;
}

/** `score_window(x)` of the normalised T × F window `x`: the forecast error or the failure probability, per `spec.task`. */
export function scoreWindow(spec: ModelSpec): string {
  const gru = gruStack(spec.numLayers);
  const last = `${gru.output} + (GRU_STEPS - 1) * H`;
  if (spec.task === "classification") {
    return `static float seq_0[T * H], seq_1[T * H];
static float score_window(const float *x) {
  float logit[1];
${gru.lines.join("\n")}
  logit[0] = ${biasArray("head.b")}[0];
  matvec(logit, ${last}, H, ${matrixArgs("head.W")}, 1);
  return f_sigmoid(logit[0]);
}`;
  }
  return `static float seq_0[T * H], seq_1[T * H];
static float score_window(const float *x) {
  float f[F];
  double err = 0;
  int j;
${gru.lines.join("\n")}
  for (j = 0; j < F; j++) f[j] = ${biasArray("head.b")}[j];
  matvec(f, ${last}, H, ${matrixArgs("head.W")}, F);
  for (j = 0; j < F; j++) {
    float d = f[j] - x[(T - 1) * F + j];
    double e = (double)(${lossTerm(spec.loss)});
    err += e;
    contribution[j] = (float)(e / (double)F);
  }
  return (float)(err / (double)F);
}`;
}
