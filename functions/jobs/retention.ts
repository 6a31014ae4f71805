/**
 * The retention schedule's target (EventBridge on AWS, a timer locally).
 */
import type { ScheduledEvent } from "aws-lambda";
import { withActor } from "../../core/actor";
import { Retention } from "../../core/retention";

export async function handler(event: ScheduledEvent): Promise<Retention.CleanupReport> {
  return withActor({ type: "system" }, () => Retention.runCleanup({ now: new Date(event.time) }));
}
