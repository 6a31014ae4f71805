import { z } from "zod";

export const Architecture = z.enum(["lstm_autoencoder", "gru_predictor", "sentinel", "pca", "kmeans", "iforest"]);
/** Classic detectors fitted in closed form (no gradient training): the yardstick a neural model must beat. */
export const BASELINES: readonly ArchitectureT[] = ["pca", "kmeans", "iforest"];
export type ArchitectureT = z.infer<typeof Architecture>;

export function isBaseline(architecture: ArchitectureT): boolean {
  return BASELINES.includes(architecture);
}

/**
 * Training hyperparameters. Every field is optional; `.parse` applies defaults.
 *
 * - `stride`: step between consecutive training windows. Default (when omitted):
 *   max(1, round(sequence_length / 6)) — 10 at the default sequence length, so
 *   consecutive windows still overlap by 5/6 but an epoch is ~6× cheaper than
 *   stride 1. Validation/test scoring always uses stride 1.
 * - `dropout`: inverted dropout on the non-recurrent activations only
 *   (bottleneck of the autoencoder, GRU output feeding the head, both sentinel
 *   hidden layers), masks drawn from the seeded RNG; identity at inference.
 * - `loss`: mse/mae/huber (δ = 1 in normalised units) for the reconstruction /
 *   forecast models; the sentinel always trains with class-balanced BCE. `bce` on
 *   gru_predictor switches it to a supervised failure-probability head (needs labels);
 *   on lstm_autoencoder it is treated as mse.
 * - `weight_decay`: L2 added to the gradient for adam/sgd, decoupled for adamw.
 * - `sentinel` ignores hidden_dim/num_layers (fixed n → 128 → 64 → 1 MLP).
 * - `pca`, `kmeans` and `iforest` are fitted (no gradient training) on window statistics (last row,
 *   mean and standard deviation of every sensor over the window): they use
 *   sequence_length, stride and the alarm fields, plus explained_variance / clusters / trees.
 */
export const Hyperparameters = z.object({
  learning_rate: z.number().positive().max(1).default(0.001),
  batch_size: z.number().int().min(1).max(4096).default(64),
  epochs: z.number().int().min(1).max(1000).default(20),
  hidden_dim: z.number().int().min(2).max(1024).default(64),
  bottleneck_dim: z.number().int().min(1).max(1024).default(32),
  num_layers: z.number().int().min(1).max(4).default(2),
  sequence_length: z.number().int().min(2).max(1000).default(60),
  dropout: z.number().min(0).max(0.9).default(0.1),
  optimizer: z.enum(["adam", "adamw", "sgd"]).default("adam"),
  weight_decay: z.number().min(0).max(1).default(0),
  loss: z.enum(["mse", "mae", "huber", "bce"]).default("mse"),
  patience: z.number().int().min(1).max(1000).default(10),
  stride: z.number().int().min(1).max(10000).optional(),
  seed: z.number().int().min(0).max(2 ** 32 - 1).default(42),
  /** Training stops after the epoch that passes this many seconds (the model is the best one so far). */
  time_budget_seconds: z.number().int().min(1).max(86_400).default(900),
  /** Alarm post-processing: scores are averaged over this many consecutive windows before the threshold. */
  smoothing_windows: z.number().int().min(1).max(1000).default(1),
  /** An alarm is raised when at least `persistence_n` of the last `persistence_m` smoothed scores pass the threshold. */
  persistence_n: z.number().int().min(1).max(1000).default(1),
  persistence_m: z.number().int().min(1).max(1000).default(1),
  /** pca: components kept until they explain this share of the window features' variance. */
  explained_variance: z.number().min(0.5).max(0.999).default(0.9),
  /** kmeans: clusters of normal windows. */
  clusters: z.number().int().min(1).max(64).default(8),
  /** iforest: isolation trees (each grown on 256 training windows at most). */
  trees: z.number().int().min(1).max(500).default(100),
});
export type HyperparametersInput = z.input<typeof Hyperparameters>;
export type HyperparametersT = z.infer<typeof Hyperparameters>;

/**
 * What a user may send: every field optional and without a default, so the
 * fields left out can be chosen from the data (see defaults.ts).
 */
export const HyperparametersGiven = z
  .object(
    Object.fromEntries(
      Object.entries(Hyperparameters.shape).map(([name, field]) => [name, (field instanceof z.ZodDefault ? field.unwrap() : field).optional()]),
    ) as unknown as { [K in keyof typeof Hyperparameters.shape]: z.ZodOptional<z.ZodType<z.infer<(typeof Hyperparameters.shape)[K]>>> },
  )
  .refine((hp) => hp.persistence_n === undefined || hp.persistence_m === undefined || hp.persistence_n <= hp.persistence_m, {
    message: "persistence_n cannot exceed persistence_m",
    path: ["persistence_n"],
  });
export type HyperparametersGivenT = z.infer<typeof HyperparametersGiven>;

export function effectiveStride(hp: HyperparametersT): number {
  return hp.stride ?? Math.max(1, Math.round(hp.sequence_length / 6));
}
