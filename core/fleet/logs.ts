/**
 * A service's recent output, shipped by the agent with its heartbeats and
 * kept in S3: one object per shipment (`.../logs/<epoch ms>-<id>.jsonl`, so
 * keys sort by time), the newest MAX_CHUNKS kept. Lines are redacted again
 * here (the agent redacts first), whatever the agent sent.
 */
import { z } from "zod";
import { Target } from "../deployment";
import { notFound } from "../error";
import { redactText } from "../logger";
import { createId } from "../id";
import { deleteObject, getObjectBytes, listKeys, putObject } from "../storage";
import * as Service from "./service";

/** Lines one shipment may carry (the newest are kept) and the longest line kept. */
export const MAX_LINES_PER_SHIPMENT = 1000;
export const MAX_LINE_CHARS = 2000;
/** Shipments kept per service. */
export const MAX_CHUNKS = 200;

export const Level = z.enum(["debug", "info", "warn", "error"]);
export const Entry = z.object({ timestamp: z.string(), level: Level, message: z.string() });
export type Entry = z.infer<typeof Entry>;

const prefixOf = (tenantId: string, serviceId: string) => `tenants/${tenantId}/services/${serviceId}/logs/`;

/** `<ISO time> <level> <message>`, as the agent writes them; anything else is an info line received now. */
const LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)\s+(debug|info|warn|error)\s(.*)$/;

export function parse(text: string, receivedAt = new Date().toISOString()): Entry[] {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== "");
  return lines.slice(-MAX_LINES_PER_SHIPMENT).map((line) => {
    const match = LINE.exec(line);
    const [timestamp, level, message] = match ? [match[1]!, match[2] as Entry["level"], match[3]!] : [receivedAt, "info" as const, line];
    return { timestamp, level, message: redactText(message).slice(0, MAX_LINE_CHARS) };
  });
}

/** Stores what the calling device's agent shipped for its own service; answers how many lines were kept. @throws worker.not_found for another worker */
export async function ship(workerId: string, text: string): Promise<{ accepted: number }> {
  const device = Target.useDevice();
  if (workerId !== device.targetId) throw notFound("worker", workerId);
  const entries = parse(text);
  if (entries.length === 0) return { accepted: 0 };
  const prefix = prefixOf(device.tenantId, Service.idOf(device.targetId));
  const key = `${prefix}${String(Date.now()).padStart(13, "0")}-${createId("log").slice(4)}.jsonl`;
  await putObject(key, entries.map((entry) => JSON.stringify(entry)).join("\n"), "application/x-ndjson");
  const keys: string[] = [];
  for await (const existing of listKeys(prefix)) keys.push(existing);
  for (const old of keys.slice(0, Math.max(0, keys.length - MAX_CHUNKS))) await deleteObject(old);
  return { accepted: entries.length };
}

export const ReadInput = z.object({
  lines: z.coerce.number().int().min(1).max(5000).default(100),
  since: z.iso.datetime({ offset: true }).optional(),
});

/** A service's log lines, newest first: at most `lines`, none older than `since`. @throws service.not_found */
export async function read(serviceId: string, input: z.input<typeof ReadInput>): Promise<{ logs: Entry[] }> {
  const { lines, since } = ReadInput.parse(input);
  const target = await Service.targetOf(serviceId);
  const sinceMs = since ? Date.parse(since) : -Infinity;
  const keys: string[] = [];
  for await (const key of listKeys(prefixOf(target.tenantId, serviceId))) keys.push(key);
  const logs: Entry[] = [];
  for (const key of keys.reverse()) {
    const chunk = new TextDecoder()
      .decode(await getObjectBytes(key))
      .split("\n")
      .filter(Boolean)
      .map((line) => Entry.parse(JSON.parse(line)));
    // Newest first; a shipment's lines are in the order they were written.
    const fresh = chunk.filter((entry) => Date.parse(entry.timestamp) >= sinceMs).reverse();
    logs.push(...fresh);
    if (logs.length >= lines) break;
    // Shipments are in time order: once a whole one is older than `since`, so are the rest.
    if (fresh.length === 0 && chunk.length > 0 && Date.parse(chunk[chunk.length - 1]!.timestamp) < sinceMs) break;
  }
  logs.sort((a, b) => Date.parse(b.timestamp) - Date.parse(a.timestamp));
  return { logs: logs.slice(0, lines) };
}
