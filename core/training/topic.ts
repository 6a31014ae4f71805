/**
 * Makes `run:<id>` subscribable: only the calling tenant's own runs resolve.
 * Reads the entity directly so the WebSocket functions don't load the ML engine.
 */
import { useTenant } from "../actor";
import { notFound } from "../error";
import { registerTopic } from "../realtime/topics";
import { TrainingRunEntity } from "./entities/run";

registerTopic("run", async (id) => {
  const run = await TrainingRunEntity.get({ tenantId: useTenant(), runId: id }).go();
  if (!run.data) throw notFound("training_run", id);
});
