/**
 * Deployment slots: max_deployments counts the controllers that run or are
 * receiving a model, i.e. the targets with at least one deployment that has
 * not failed. Each target keeps how many such deployments it has (`live`);
 * the tenant's `deployments` usage counter counts the targets whose `live`
 * is above zero. A deployment is created, and fails, in one transaction with
 * both, under conditions on what was read, so concurrent deploys hold the
 * limit exactly and redeploying to a target in use never counts it twice.
 */
import { Table } from "../table";
import { Billing } from "../billing";
import { isConditionalFailure } from "../error";
import { logger } from "../logger";
import { DeploymentEntity, TargetSlotEntity, type DeploymentItem, type Status } from "./entities";

export { TargetSlotEntity, type TargetSlot } from "./entities";

async function liveOn(tenantId: string, targetId: string): Promise<number> {
  const result = await TargetSlotEntity.get({ tenantId, targetId }).go({ consistent: true });
  return result.data?.live ?? 0;
}

/**
 * Counts a tenant's targets in use from its deployments, for a tenant that
 * has no counter yet, and records each one's `live` count (nothing counted
 * changes while the counter is missing, so concurrent counts agree).
 */
export async function countTargetsInUse(tenantId: string): Promise<number> {
  const result = await DeploymentEntity.query.byTenant({ tenantId }).go({ pages: "all", consistent: true, attributes: ["targetId", "status"] });
  const live = new Map<string, number>();
  for (const item of result.data) if (item.status !== "failed") live.set(item.targetId, (live.get(item.targetId) ?? 0) + 1);
  for (const [targetId, count] of live) {
    try {
      await TargetSlotEntity.create({ tenantId, targetId, live: count }).go();
    } catch (error) {
      if (!isConditionalFailure(error)) throw error;
    }
  }
  return live.size;
}

/**
 * Records a new deployment, taking a max_deployments slot unless its target
 * is already in use.
 * @throws plan.deployment_limit_reached (403) with `{ limit, used, tier }`
 */
export async function createWithSlot(item: Parameters<typeof DeploymentEntity.create>[0]): Promise<void> {
  const { tenantId, targetId } = item;
  await Billing.takeUnit(tenantId, "deployments", () => countTargetsInUse(tenantId), async (max) => {
    const live = await liveOn(tenantId, targetId);
    const result = (await Table.transaction
      .write(({ deployment, targetSlot, usage }) => [
        live > 0 ? Billing.counterExists(usage, tenantId, "deployments") : Billing.takeOne(usage, tenantId, "deployments", max),
        targetSlot
          .update({ tenantId, targetId })
          .add({ live: 1 })
          .where((a, op) => (live > 0 ? op.eq(a.live, live) : `${op.notExists(a.live)} OR ${op.eq(a.live, 0)}`))
          .commit(),
        deployment.create(item).commit(),
      ])
      .go()) as Billing.TransactionResult;
    const refused = Billing.refusedItem(result);
    if (refused === undefined) return "created";
    if (refused === Billing.TRANSACTION_CONFLICT || refused === 1) return Billing.TRANSACTION_CONFLICT;
    if (refused === 0) {
      // A target in use needs only the counter to exist; at the limit is fine for it.
      if (live > 0 && (await Billing.readCounter(tenantId, "deployments")) !== undefined) return Billing.TRANSACTION_CONFLICT;
      return Billing.COUNTER_REFUSED;
    }
    throw new Error(`deployment ${item.deploymentId} could not be created: ${JSON.stringify(result.data.map((d) => d.code))}`);
  });
}

/**
 * Moves a deployment from one of `from` to `failed` with `patch`, in one
 * transaction with its target's `live` count and, when that was the target's
 * last live deployment, the tenant's counter.
 * @returns the failed deployment, or undefined when it was not in one of `from`
 */
export async function failWithSlot(
  tenantId: string,
  deploymentId: string,
  from: readonly Status[],
  patch: Partial<DeploymentItem>,
): Promise<DeploymentItem | undefined> {
  const found = await DeploymentEntity.get({ tenantId, deploymentId }).go({ consistent: true });
  if (!found.data) return undefined;
  const { targetId } = found.data;
  const changed = await Billing.withCounter(tenantId, "deployments", () => countTargetsInUse(tenantId), async () => {
    const live = await liveOn(tenantId, targetId);
    if (live <= 0) logger.warn("failing a deployment of a target with no live count", { tenantId, deploymentId, targetId });
    const result = (await Table.transaction
      .write(({ deployment, targetSlot, usage }) => [
        deployment
          .patch({ tenantId, deploymentId })
          .set({ ...patch, status: "failed" })
          .where((a, op) => from.map((status) => op.eq(a.status, status)).join(" OR "))
          .commit(),
        ...(live > 0
          ? [
              targetSlot
                .update({ tenantId, targetId })
                .add({ live: -1 })
                .where((a, op) => op.eq(a.live, live))
                .commit(),
            ]
          : []),
        live === 1 ? Billing.giveOne(usage, tenantId, "deployments") : Billing.counterExists(usage, tenantId, "deployments"),
      ])
      .go()) as Billing.TransactionResult;
    const refused = Billing.refusedItem(result);
    const counterAt = live > 0 ? 2 : 1;
    if (refused === undefined) return true;
    if (refused === 0) return false;
    if (refused === counterAt) return Billing.COUNTER_REFUSED;
    return Billing.TRANSACTION_CONFLICT;
  });
  if (!changed) return undefined;
  const after = await DeploymentEntity.get({ tenantId, deploymentId }).go({ consistent: true });
  return after.data ?? undefined;
}
