/**
 * The connection sync schedule's target (EventBridge every 5 minutes on AWS,
 * a timer locally): queues a sync for every saved connection that is due.
 */
import type { ScheduledEvent } from "aws-lambda";
import { withActor } from "../../core/actor";
import { Connections } from "../../core/connector/connections";

export async function handler(event: ScheduledEvent): Promise<{ queued: number }> {
  return withActor({ type: "system" }, async () => ({ queued: await Connections.queueDueSyncs(new Date(event.time)) }));
}
