/**
 * Readiness of the platform: is every dependency a request needs usable?
 * A process that is still starting (the local runtime seeding its admin and
 * starting job consumers) answers "starting" until it marks itself ready; a
 * Lambda is ready as soon as its dependencies answer.
 */
export * as Health from "./health";
import { DescribeTableCommand } from "@aws-sdk/client-dynamodb";
import { dynamo } from "./aws";
import { Config } from "./config";

export type Status = "ok" | "starting" | "degraded";
export type Reachability = "connected" | "unreachable";

export interface Report {
  status: Status;
  version: string;
  database: Reachability;
  uptime_seconds: number;
}

const startedAt = Date.now();
let starting = false;

/** Marks this process as starting: readiness reports "starting" until {@link markReady}. */
export function markStarting(): void {
  starting = true;
}

/** Marks this process as ready to serve (called once everything it started is usable). */
export function markReady(): void {
  starting = false;
}

async function reachable(check: () => Promise<unknown>): Promise<Reachability> {
  try {
    await check();
    return "connected";
  } catch {
    return "unreachable";
  }
}

/** Checks the table. `ok` only when it answers and the process is not starting; never throws. */
export async function check(): Promise<Report> {
  const database = await reachable(() => dynamo().send(new DescribeTableCommand({ TableName: Config.tableName() })));
  const status: Status = starting ? "starting" : database === "connected" ? "ok" : "degraded";
  return { status, version: Config.version(), database, uptime_seconds: Math.round((Date.now() - startedAt) / 1000) };
}
