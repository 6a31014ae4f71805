/**
 * The `service:<id>` topic: clients subscribe for their own tenant's
 * services and get its transitions (`service.started|stopped|failed`) and its
 * commands (`command.updated`); a new subscriber gets the service as it
 * stands and the last hour's commands, so a command that finished before the
 * subscription is not missed. Reads entities directly so the WebSocket
 * functions don't load the ML engine.
 */
import { useTenant } from "../actor";
import { CommandUpdated, message, type PayloadOf } from "../realtime/events";
import { registerTopic } from "../realtime/topics";
import { CommandEntity, type CommandItem } from "./entities";
import * as Service from "./service";

/** Commands younger than this come with a snapshot. */
const RECENT_MS = 3600_000;

/** The `command.updated` event's payload for a command as it is now (published on each change). */
export function commandPayload(item: CommandItem): PayloadOf<typeof CommandUpdated> {
  return {
    command_id: item.commandId,
    service_id: item.serviceId,
    worker_id: item.targetId,
    command: item.type,
    state: item.state,
    result: item.result ?? null,
    reason: item.reason ?? null,
    deployment_id: item.deploymentId ?? null,
    created_at: item.createdAt,
    finished_at: item.finishedAt ?? null,
  };
}

registerTopic("service", {
  find: Service.targetOf,
  async snapshot(id) {
    const service = await Service.get(id);
    const since = new Date(Date.now() - RECENT_MS).toISOString();
    const recent = await CommandEntity.query.byWorker({ tenantId: useTenant(), targetId: service.worker.id }).go({ pages: "all" });
    const events = recent.data
      .filter((item) => item.createdAt >= since)
      .map((item) => message(CommandUpdated, commandPayload(item)));
    return { state: { id: service.id, status: service.status, health: service.health, restart_count: service.restart_count, updated_at: service.reported_at }, events };
  },
});
