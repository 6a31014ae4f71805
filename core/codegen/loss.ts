/**
 * The per-element error of the scores that compare a prediction with the
 * window (lstm_autoencoder's reconstruction, gru_predictor's forecast), in the
 * model's training loss, as core/ml's score graph computes it.
 */
import type { Loss } from "./spec";

/** C expression of the error of one element with difference `d`. "bce" models score a probability and never ask. */
export function lossTerm(loss: Loss): string {
  return loss === "mae" ? "f_abs(d)" : loss === "huber" ? "huber(d)" : "d * d";
}

/** Huber loss with δ = 1, used by lossTerm("huber"). */
export const HUBER_C = `static float huber(float d) {
  float a = f_abs(d);
  float m = a < 1.0f ? a : 1.0f;
  return m * (a - m * 0.5f);
}`;
