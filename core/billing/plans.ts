/**
 * The plans, as data. Every limit check reads from here; nothing else in the
 * code base hard-codes a plan number.
 */
export type Tier = "free" | "pro" | "enterprise";
export const TIERS: readonly Tier[] = ["free", "pro", "enterprise"] as const;

export interface PlanLimits {
  tokens_per_period: number;
  max_datasets: number;
  max_models: number;
  max_deployments: number;
  max_concurrent_trainings: number;
  max_dataset_size_bytes: number;
}

const MB = 1024 * 1024;
const GB = 1024 * MB;

export const PLANS: Record<Tier, PlanLimits> = {
  free: {
    tokens_per_period: 5_000,
    max_datasets: 3,
    max_models: 2,
    max_deployments: 1,
    max_concurrent_trainings: 1,
    max_dataset_size_bytes: 25 * MB,
  },
  pro: {
    tokens_per_period: 50_000,
    max_datasets: 50,
    max_models: 25,
    max_deployments: 10,
    max_concurrent_trainings: 5,
    max_dataset_size_bytes: 250 * MB,
  },
  enterprise: {
    tokens_per_period: 1_000_000,
    max_datasets: 500,
    max_models: 200,
    max_deployments: 100,
    max_concurrent_trainings: 20,
    max_dataset_size_bytes: 50 * GB,
  },
};

/** The limits a superadmin may set per tenant, over its plan's (contracts, trials, tests). */
export const LIMIT_NAMES = [
  "tokens_per_period",
  "max_datasets",
  "max_models",
  "max_deployments",
  "max_concurrent_trainings",
  "max_dataset_size_bytes",
] as const satisfies readonly (keyof PlanLimits)[];

/** A tenant's own limits, each replacing its plan's; absent ones follow the plan. */
export type LimitOverrides = Partial<PlanLimits>;

/** Largest file accepted through the direct multipart upload, whatever the plan (API Gateway path is smaller still). */
export const MAX_DIRECT_UPLOAD_BYTES = 100 * MB;
