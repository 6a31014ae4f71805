import type { ScheduledEvent } from "aws-lambda";

/** The EventBridge event the retention schedule delivers, at `time`. */
export function scheduledAt(time: Date): ScheduledEvent {
  return {
    version: "0",
    id: "test",
    "detail-type": "Scheduled Event",
    source: "aws.events",
    account: "000000000000",
    time: time.toISOString(),
    region: "us-east-1",
    resources: [],
    detail: {},
  };
}
