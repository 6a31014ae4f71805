/**
 * The fleet's offline sweep (EventBridge every minute on AWS, a timer
 * locally): workers silent for the offline window turn offline, each
 * announced once with `worker.offline`.
 */
import type { ScheduledEvent } from "aws-lambda";
import { withActor } from "../../core/actor";
import { Fleet } from "../../core/fleet";

export async function handler(event: ScheduledEvent): Promise<{ offline: number }> {
  return withActor({ type: "system" }, async () => ({ offline: await Fleet.sweepOffline(Date.parse(event.time)) }));
}
