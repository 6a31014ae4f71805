/**
 * The `deployment:<id>` topic: clients subscribe for their own tenant's
 * deployments, get `deployment_status` on every change, and a new subscriber
 * gets the current one as its snapshot. Reads the entity directly so the
 * WebSocket functions don't load the ML engine.
 */
import { useTenant } from "../actor";
import { notFound } from "../error";
import { DeploymentStatus, message, type PayloadOf } from "../realtime/events";
import { registerTopic } from "../realtime/topics";
import { DeploymentEntity, type DeploymentItem } from "./entities";

/** The `deployment_status` event's payload for a deployment as it is now (published on each transition). */
export function statusPayload(item: DeploymentItem): PayloadOf<typeof DeploymentStatus> {
  return {
    deployment_id: item.deploymentId,
    status: item.status,
    reason: item.reason ?? null,
    model_id: item.modelId,
    target_id: item.targetId,
    binary_size_bytes: item.binarySizeBytes ?? null,
    sha256: item.packageSha256 ?? null,
  };
}

async function findDeployment(id: string, options: { consistent?: boolean } = {}): Promise<DeploymentItem> {
  const deployment = await DeploymentEntity.get({ tenantId: useTenant(), deploymentId: id }).go(options);
  if (!deployment.data) throw notFound("deployment", id);
  return deployment.data;
}

registerTopic("deployment", {
  find: findDeployment,
  async snapshot(id) {
    const item = await findDeployment(id, { consistent: true });
    const { deployment_id, ...status } = statusPayload(item);
    const state = { id: deployment_id, ...status, updated_at: item.updatedAt };
    return { state, events: [message(DeploymentStatus, statusPayload(item))] };
  },
});
