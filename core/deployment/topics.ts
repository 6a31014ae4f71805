/**
 * Lets WebSocket clients subscribe to `deployment:<id>` for their own tenant's
 * deployments. Reads the entity directly so the WebSocket functions don't load the ML engine.
 */
import { useTenant } from "../actor";
import { notFound } from "../error";
import { registerTopic } from "../realtime/topics";
import { DeploymentEntity } from "./entities";

registerTopic("deployment", async (id) => {
  const deployment = await DeploymentEntity.get({ tenantId: useTenant(), deploymentId: id }).go();
  if (!deployment.data) throw notFound("deployment", id);
});
