/**
 * What POST /datasets/connect accepts (seed 002): the dataset's metadata and,
 * per source type, where the rows come from. Credentials in a spec are sealed
 * before it is stored (see ../secrets) and never returned.
 */
import { z } from "zod";
import { EQUIPMENT_TYPES } from "../dataset/entity";
import { invalid } from "../error";

export const SOURCE_TYPES = ["aegis_bridge", "edge_bridge", "influxdb", "postgresql", "tidb", "sqlite", "mongodb", "spacetimedb", "upload_stream"] as const;
export type SourceType = (typeof SOURCE_TYPES)[number];

/**
 * A request's `source_type` (aegis_bridge, the seed's default, when absent).
 * @throws connector.unsupported_source (400) for anything else, before the per-type fields are looked at
 */
export function sourceTypeOf(given: Record<string, unknown>): SourceType {
  const sourceType = given.source_type ?? "aegis_bridge";
  if (typeof sourceType !== "string" || !(SOURCE_TYPES as readonly string[]).includes(sourceType)) {
    throw invalid("connector.unsupported_source", `source_type must be one of ${SOURCE_TYPES.join(", ")}`, { source_type: sourceType, supported: SOURCE_TYPES });
  }
  return sourceType as SourceType;
}

const Name = z.string().trim().min(1, "name is required").max(200, "name must be at most 200 characters");
const Text = (field: string, max = 2048) => z.string({ error: `${field} is required` }).trim().min(1, `${field} is required`).max(max, `${field} must be at most ${max} characters`);
const Query = Text("query", 20_000);

export const TimeRange = z
  .object({ start: z.iso.datetime({ offset: true }), end: z.iso.datetime({ offset: true }) })
  .refine((range) => Date.parse(range.start) < Date.parse(range.end), { message: "time_range.start must be before time_range.end", path: ["start"] });
export type TimeRange = z.infer<typeof TimeRange>;

const Common = {
  name: Name,
  equipment_type: z.enum(EQUIPMENT_TYPES, { error: `equipment_type must be one of ${EQUIPMENT_TYPES.join(", ")}` }),
  location: z.string().trim().max(200).optional(),
  unit: z.string().trim().max(200).optional(),
};

/** An SQL source reached by a driver (connection_string) or by a REST endpoint returning JSON rows (api_url). */
const SqlSource = <T extends "postgresql" | "tidb">(type: T) =>
  z
    .object({
      source_type: z.literal(type),
      ...Common,
      connection_string: Text("connection_string").optional(),
      api_url: Text("api_url").optional(),
      /** Sent as a bearer token to api_url. */
      api_key: Text("api_key", 4096).optional(),
      query: Query,
    })
    .refine((spec) => (spec.connection_string === undefined) !== (spec.api_url === undefined), {
      message: "give either connection_string or api_url",
      path: ["connection_string"],
    });

export const ConnectInput = z.discriminatedUnion("source_type", [
  z.object({
    source_type: z.enum(["aegis_bridge", "edge_bridge"]),
    ...Common,
    controller_ip: z.union([z.ipv4(), z.ipv6()], { error: "controller_ip must be an IP address" }).optional(),
    target_id: Text("target_id", 64).optional(),
    /** Accepted for the seed's shape; controllers push their rows, nothing connects to this port. */
    aegis_port: z.number().int().min(1).max(65535).optional(),
    collection: z.string().trim().min(1).max(64).regex(/^[A-Za-z0-9_.-]+$/, "collection may hold letters, digits, '_', '.' and '-'").default("hardware_metrics"),
    time_range: TimeRange.optional(),
  }),
  z.object({
    source_type: z.literal("influxdb"),
    ...Common,
    url: Text("url"),
    database: Text("database", 256),
    measurement: Text("measurement", 256),
    time_range: TimeRange.optional(),
    /** v3's SQL API (`/api/v3/query_sql`), InfluxQL (`/query`, 1.x and 2.x), or whichever the server has. */
    influx_version: z.enum(["auto", "3", "1"]).default("auto"),
    token: Text("token", 4096).optional(),
    username: Text("username", 256).optional(),
    password: Text("password", 1024).optional(),
  }),
  SqlSource("postgresql"),
  SqlSource("tidb"),
  z.object({
    source_type: z.literal("sqlite"),
    ...Common,
    /** A file name or path inside the configured import folder. */
    connection_string: Text("connection_string", 1024),
    query: Query,
  }),
  z.object({
    source_type: z.literal("mongodb"),
    ...Common,
    api_url: Text("api_url"),
    api_key: Text("api_key", 4096),
    database: Text("database", 256),
    mongodb_collection: Text("mongodb_collection", 256),
    /** The Data API's cluster name. */
    data_source: Text("data_source", 256).default("Cluster0"),
    filter: z.record(z.string(), z.unknown()).default({}),
  }),
  z.object({
    /** Rows gateways pushed to POST /upload/batch with a key of this stream. */
    source_type: z.literal("upload_stream"),
    ...Common,
    stream: z.string().trim().min(1).max(64).regex(/^[A-Za-z0-9_.-]+$/, "stream may hold letters, digits, '_', '.' and '-'"),
    time_range: TimeRange.optional(),
  }),
  z.object({
    source_type: z.literal("spacetimedb"),
    ...Common,
    api_url: Text("api_url"),
    database: Text("database", 256),
    query: Query,
    auth_token: Text("auth_token", 4096).optional(),
  }),
]);
export type ConnectInput = z.input<typeof ConnectInput>;
export type Spec = z.output<typeof ConnectInput>;

/** The fields of a spec that are credentials: sealed at rest, masked in answers. */
export const SECRET_FIELDS = ["connection_string", "api_key", "token", "password", "auth_token"] as const;
