/**
 * Edge targets: the controllers a tenant deploys models to, their device
 * credentials and their liveness (heartbeats).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { assertRole, useActor, useTenant, type Actor } from "../actor";
import { Config } from "../config";
import { forbidden, invalid, notFound, unauthorized } from "../error";
import { createId, createSecret } from "../id";
import { ARCH_VALUES, DeploymentEntity, TargetEntity, type DeploymentItem, type TargetItem } from "./entities";

export type Arch = (typeof ARCH_VALUES)[number];


const ARCH_SPELLINGS: Record<string, Arch> = {
  armv7: "armv7",
  armv7l: "armv7",
  armhf: "armv7",
  "armv7-unknown-linux-musleabihf": "armv7",
  "armv7-unknown-linux-gnueabihf": "armv7",
  aarch64: "aarch64",
  arm64: "aarch64",
  "aarch64-unknown-linux-gnu": "aarch64",
  "aarch64-unknown-linux-musl": "aarch64",
  x86_64: "x86_64",
  amd64: "x86_64",
  "x86_64-unknown-linux-gnu": "x86_64",
  "x86_64-unknown-linux-musl": "x86_64",
};

/** The accepted spellings, for error messages and docs. */
export const ARCH_NAMES = Object.keys(ARCH_SPELLINGS);

/** "armv7-unknown-linux-musleabihf" → "armv7"; undefined when not a supported architecture. */
export function normaliseArch(value: string): Arch | undefined {
  return ARCH_SPELLINGS[value.trim().toLowerCase()];
}

/** Any accepted spelling; core normalises it with normaliseArch. */
export const ArchInput = z
  .string()
  .max(64)
  .refine((value) => normaliseArch(value) !== undefined, { message: `arch must be one of ${ARCH_NAMES.join(", ")}` });

/** Parses with zod, turning a failure into a 400 request.invalid with the issues. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw invalid("request.invalid", "Request validation failed", {
    issues: result.error.issues.map((issue) => ({ path: issue.path.map(String).join("."), message: issue.message })),
  });
}

const text = (max: number) => z.string().trim().min(1).max(max);

export const RegisterInput = z.object({
  name: text(200),
  ip: z.union([z.ipv4(), z.ipv6()]).optional(),
  arch: ArchInput,
  location: text(200).optional(),
  unit: text(200).optional(),
});
export type RegisterInput = z.input<typeof RegisterInput>;

export const Info = z.object({
  id: z.string(),
  name: z.string(),
  ip: z.string().nullable(),
  arch: z.enum(ARCH_VALUES),
  location: z.string().nullable(),
  unit: z.string().nullable(),
  status: z.enum(["online", "offline"]),
  current_model: z.string().nullable(),
  current_model_version: z.string().nullable(),
  current_deployment_id: z.string().nullable(),
  last_seen: z.string().nullable(),
  created_at: z.string(),
});
export type Info = z.infer<typeof Info>;

export function serialize(target: TargetItem, now = Date.now()): Info {
  const seen = target.lastSeen ? Date.parse(target.lastSeen) : undefined;
  return {
    id: target.targetId,
    name: target.name,
    ip: target.ip ?? null,
    arch: target.arch,
    location: target.location ?? null,
    unit: target.unit ?? null,
    status: seen !== undefined && now - seen < Config.workerOfflineAfterMs() ? "online" : "offline",
    current_model: target.currentModel ?? null,
    current_model_version: target.currentModelVersion ?? null,
    current_deployment_id: target.currentDeploymentId ?? null,
    last_seen: target.lastSeen ?? null,
    created_at: target.createdAt,
  };
}

const CREDENTIAL_PREFIX = "fdc";

export function hash(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/**
 * Registers an edge controller of the calling tenant and issues its device
 * credential, returned only here (stored as a SHA-256 hash).
 * @throws auth.forbidden below operator
 */
export async function register(input: RegisterInput): Promise<Info & { credential: string }> {
  assertRole("operator");
  const parsed = parseInput(RegisterInput, input);
  const actor = useActor();
  const issued = issueCredential();
  const created = await TargetEntity.create({
    tenantId: useTenant(),
    targetId: createId("tgt"),
    name: parsed.name,
    ip: parsed.ip,
    arch: normaliseArch(parsed.arch)!,
    location: parsed.location,
    unit: parsed.unit,
    credentialId: issued.credentialId,
    credentialHash: hash(issued.secret),
    createdBy: actor.type === "user" ? actor.username : undefined,
  }).go();
  return { ...serialize(created.data as TargetItem), credential: issued.credential };
}

/** A new device credential: `fdc.<lookup id>.<secret>`; only the hash of the secret is stored. */
export function issueCredential(): { credentialId: string; secret: string; credential: string } {
  const credentialId = createSecret(9);
  const secret = createSecret(32);
  return { credentialId, secret, credential: `${CREDENTIAL_PREFIX}.${credentialId}.${secret}` };
}

/**
 * Replaces a target's device credential (lost, or a controller swapped): the
 * old one stops working at once; the new one is returned only here.
 * @throws target.not_found, auth.forbidden below operator
 */
export async function rotateCredential(targetId: string): Promise<{ id: string; credential: string }> {
  assertRole("operator");
  const target = await get(targetId);
  const issued = issueCredential();
  await TargetEntity.patch({ tenantId: target.tenantId, targetId: target.targetId })
    .set({ credentialId: issued.credentialId, credentialHash: hash(issued.secret) })
    .go();
  return { id: target.targetId, credential: issued.credential };
}

/** A target of the calling tenant; another tenant's id is not found. */
export async function get(targetId: string): Promise<TargetItem> {
  const result = await TargetEntity.get({ tenantId: useTenant(), targetId }).go();
  if (!result.data) throw notFound("target", targetId);
  return result.data;
}

/** The calling tenant's targets, oldest first. */
export async function list(): Promise<TargetItem[]> {
  const result = await TargetEntity.query.byTenant({ tenantId: useTenant() }).go({ pages: "all" });
  return result.data;
}

/**
 * The tenant's target with this IP (and name, when given).
 * @throws target.not_found; deployment.target_ambiguous (400) when several targets share the IP and no name tells them apart
 */
export async function findByIp(ip: string, name?: string): Promise<TargetItem> {
  const matches = (await list()).filter((target) => target.ip === ip && (name === undefined || target.name === name));
  if (matches.length > 1) {
    throw invalid("deployment.target_ambiguous", "Several targets have this IP; give target_id or target_name", {
      ip,
      target_ids: matches.map((target) => target.targetId),
    });
  }
  const [first] = matches;
  if (!first) throw notFound("target", ip);
  return first;
}

/**
 * Resolves `Authorization: Device <credential>` to the device actor of its
 * target. Any malformed, unknown or wrong credential gives the same 401.
 */
export async function authenticateDevice(credential: string): Promise<Extract<Actor, { type: "device" }>> {
  const parts = credential.split(".");
  const [prefix, credentialId, secret] = parts;
  const denied = () => unauthorized("auth.invalid_device_credential", "Invalid device credential");
  if (parts.length !== 3 || prefix !== CREDENTIAL_PREFIX || !credentialId || !secret || secret.length > 128) throw denied();
  const result = await TargetEntity.query.byCredential({ credentialId }).go({ limit: 1 });
  const target = result.data[0];
  if (!target) throw denied();
  const expected = Buffer.from(target.credentialHash, "hex");
  const actual = Buffer.from(hash(secret), "hex");
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) throw denied();
  // A self-enrolled controller holds its credential from the start; it works once an admin approves the worker.
  if (target.approval === "pending") throw forbidden("worker.not_approved", "This worker waits for an admin's approval");
  if (target.approval === "rejected") throw forbidden("worker.rejected", "An admin rejected this worker");
  return { type: "device", tenantId: target.tenantId, targetId: target.targetId };
}

/** The calling device (routes under /devices). @throws 401 for anyone else */
export function useDevice(): Extract<Actor, { type: "device" }> {
  const actor = useActor();
  if (actor.type !== "device") throw unauthorized("auth.device_required", "These routes take a device credential (Authorization: Device <credential>)");
  return actor;
}

const modelId = z.string().trim().min(1).max(100);

export const HeartbeatInput = z
  .object({
    current_model: modelId.nullable().optional().meta({
      description:
        "The model the controller runs: one this target had a confirmed install of (its current one, or an earlier one it rolled back to), or null when none is installed. Omit it for a plain liveness heartbeat that keeps the recorded model.",
      example: "mdl_01j9x4k2r8v6t3m5n7p0q2s4w6",
    }),
    version: modelId.nullable().optional().meta({
      description: "The version of current_model (model_version of its deployment, e.g. sha256:3f1c0a9b7d2e); checked when given",
      example: "sha256:3f1c0a9b7d2e",
    }),
  })
  .refine((value) => value.version == null || typeof value.current_model === "string", {
    message: "version describes current_model; send current_model with it",
    path: ["version"],
  });
export type HeartbeatInput = z.input<typeof HeartbeatInput>;

/** A model a target had a confirmed install of, as error details show it. */
interface KnownModel {
  model_id: string;
  version: string | null;
}

function knownModels(installs: DeploymentItem[]): KnownModel[] {
  const seen = new Map<string, KnownModel>();
  for (const install of installs) {
    const known = { model_id: install.modelId, version: install.modelVersion ?? null };
    seen.set(`${known.model_id} ${known.version}`, known);
  }
  return [...seen.values()];
}

/**
 * The newest confirmed install of `modelId` (at `version`, when given) on a
 * target: only a model the device confirmed installing can be what it runs.
 * @throws device.unknown_model (400) for any other id, device.version_mismatch (400) for another version
 */
async function confirmedInstall(key: { tenantId: string; targetId: string }, modelId: string, version: string | undefined): Promise<DeploymentItem> {
  const result = await DeploymentEntity.query
    .byTarget(key)
    .where((attr, op) => op.eq(attr.status, "deployed"))
    .go({ pages: "all", order: "desc" });
  const installs = result.data;
  const ofModel = installs.filter((install) => install.modelId === modelId);
  if (ofModel.length === 0) {
    throw invalid("device.unknown_model", "current_model is not a model this target had a confirmed install of; report one it had installed, or null for none", {
      current_model: modelId,
      known_models: knownModels(installs),
    });
  }
  const match = version === undefined ? ofModel[0] : ofModel.find((install) => install.modelVersion === version);
  if (!match) {
    throw invalid("device.version_mismatch", "version is not the version of current_model that was installed on this target", {
      current_model: modelId,
      version,
      known_versions: [...new Set(ofModel.map((install) => install.modelVersion ?? null))],
    });
  }
  return match;
}

/**
 * Records a heartbeat of the calling device: last_seen now, and the model it
 * reports running. The report is checked against the target's confirmed
 * installs, so it can only name a model the target really had (such as one it
 * rolled back to), or null for none; an omitted current_model keeps the
 * recorded one.
 * @throws device.unknown_model, device.version_mismatch, request.invalid (400)
 */
export async function heartbeat(input: HeartbeatInput): Promise<TargetItem> {
  const device = useDevice();
  const parsed = parseInput(HeartbeatInput, input);
  const key = { tenantId: device.tenantId, targetId: device.targetId };
  const lastSeen = new Date().toISOString();
  const reported = parsed.current_model;
  const version = parsed.version ?? undefined;

  if (reported === null) {
    const updated = await TargetEntity.patch(key)
      .set({ lastSeen })
      .remove(["currentModel", "currentModelVersion", "currentDeploymentId"])
      .go({ response: "all_new" });
    return updated.data as TargetItem;
  }
  if (reported !== undefined) {
    // The recorded model is checked on the table itself: a just-confirmed install may not be on the index yet.
    const stored = await TargetEntity.get(key).go({ consistent: true });
    const unchanged = stored.data?.currentModel === reported && (version === undefined || version === stored.data.currentModelVersion);
    if (!unchanged) {
      const install = await confirmedInstall(key, reported, version);
      const updated = await TargetEntity.patch(key)
        .set({
          lastSeen,
          currentModel: install.modelId,
          currentDeploymentId: install.deploymentId,
          ...(install.modelVersion ? { currentModelVersion: install.modelVersion } : {}),
        })
        .go({ response: "all_new" });
      return updated.data as TargetItem;
    }
  }
  const updated = await TargetEntity.patch(key).set({ lastSeen }).go({ response: "all_new" });
  return updated.data as TargetItem;
}
