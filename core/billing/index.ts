/**
 * Plans, subscriptions and limits. A tenant with no subscription record is on
 * the Free plan.
 */
export * as Billing from "./index";

import { Entity, type EntityItem } from "electrodb";
import { useTenant } from "../actor";
import { entityConfig } from "../db";
import { limitReached } from "../error";
import { PLANS, TIERS, type PlanLimits, type Tier } from "./plans";

export { PLANS, TIERS, type PlanLimits, type Tier } from "./plans";

export const SubscriptionEntity = new Entity(
  {
    model: { entity: "subscription_plan", version: "1", service: "flint" },
    attributes: {
      tenantId: { type: "string", required: true },
      tier: { type: TIERS as unknown as Tier[], required: true, default: "free" },
      status: { type: "string", required: true, default: "active" },
      stripeCustomerId: { type: "string" },
      stripeSubscriptionId: { type: "string" },
      currentPeriodStart: { type: "string" },
      currentPeriodEnd: { type: "string" },
      /** Stripe event time (epoch seconds) of the newest event applied; older events never overwrite newer state. */
      lastEventAt: { type: "number", default: 0 },
      createdAt: { type: "string", default: () => new Date().toISOString(), readOnly: true },
      updatedAt: { type: "string", watch: "*", set: () => new Date().toISOString(), default: () => new Date().toISOString() },
    },
    indexes: {
      byTenant: {
        pk: { field: "pk", composite: ["tenantId"] },
        sk: { field: "sk", composite: [] },
      },
    },
  },
  entityConfig,
);

export type Subscription = EntityItem<typeof SubscriptionEntity>;

/** The tier of a tenant (Free when it never subscribed). */
export async function tierOf(tenantId: string): Promise<Tier> {
  const result = await SubscriptionEntity.get({ tenantId }).go();
  const subscription = result.data;
  if (!subscription || subscription.status === "canceled") return "free";
  return subscription.tier;
}

/** Limits of the calling tenant's plan. */
export async function currentLimits(): Promise<PlanLimits & { tier: Tier }> {
  const tier = await tierOf(useTenant());
  return { tier, ...PLANS[tier] };
}

type CountedLimit = "max_datasets" | "max_models" | "max_deployments" | "max_concurrent_trainings";

const LIMIT_CODES: Record<CountedLimit, string> = {
  max_datasets: "plan.dataset_limit_reached",
  max_models: "plan.model_limit_reached",
  max_deployments: "plan.deployment_limit_reached",
  max_concurrent_trainings: "plan.concurrent_training_limit_reached",
};

/**
 * Throws a 403 `plan.*_limit_reached` error, with the limit in details, when
 * creating one more would exceed the calling tenant's plan.
 */
export async function assertWithinLimit(limit: CountedLimit, used: number): Promise<void> {
  const limits = await currentLimits();
  if (used >= limits[limit]) {
    throw limitReached(LIMIT_CODES[limit], `Your ${limits.tier} plan allows ${limits[limit]} (${limit.replace("max_", "").replace(/_/g, " ")})`, {
      limit: limits[limit],
      used,
      tier: limits.tier,
    });
  }
}
