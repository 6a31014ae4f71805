/** A user's preferences and the push tokens of its devices. */
import { z } from "zod";
import { parse } from "../fn";
import { PreferencesEntity, PushTokenEntity, type Preferences, type PushToken } from "./entities";

export const PreferencesInput = z
  .object({
    theme: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, "theme must be a lowercase slug of at most 40 characters"),
    notifications_enabled: z.boolean(),
    email_notifications: z.boolean(),
    training_auto_stop: z.boolean(),
    default_architecture: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_]{0,49}$/, "default_architecture must be a lowercase identifier of at most 50 characters"),
    timezone: z.string().max(64).refine(isTimeZone, "timezone must be an IANA time zone such as America/New_York"),
  })
  .partial()
  .strict();
export type PreferencesInput = z.infer<typeof PreferencesInput>;

export const PreferencesInfo = z.object({
  theme: z.string(),
  notifications_enabled: z.boolean(),
  email_notifications: z.boolean(),
  training_auto_stop: z.boolean(),
  default_architecture: z.string(),
  timezone: z.string(),
  updated_at: z.string().nullable(),
});
export type PreferencesInfo = z.infer<typeof PreferencesInfo>;

export const DEFAULT_PREFERENCES = {
  theme: "nexusedge-dark",
  notifications_enabled: true,
  email_notifications: true,
  training_auto_stop: false,
  default_architecture: "lstm_autoencoder",
  timezone: "UTC",
} as const;

export function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

function serializePreferences(item: Preferences | null | undefined): PreferencesInfo {
  return {
    theme: item?.theme ?? DEFAULT_PREFERENCES.theme,
    notifications_enabled: item?.notificationsEnabled ?? DEFAULT_PREFERENCES.notifications_enabled,
    email_notifications: item?.emailNotifications ?? DEFAULT_PREFERENCES.email_notifications,
    training_auto_stop: item?.trainingAutoStop ?? DEFAULT_PREFERENCES.training_auto_stop,
    default_architecture: item?.defaultArchitecture ?? DEFAULT_PREFERENCES.default_architecture,
    timezone: item?.timezone ?? DEFAULT_PREFERENCES.timezone,
    updated_at: item?.updatedAt ?? null,
  };
}

export async function preferences(tenantId: string, userId: string): Promise<PreferencesInfo> {
  const result = await PreferencesEntity.get({ tenantId, userId }).go();
  return serializePreferences(result.data);
}

/** Merges the given fields into the user's preferences (unknown fields are rejected). */
export async function updatePreferences(tenantId: string, userId: string, raw: unknown): Promise<PreferencesInfo> {
  const input = parse(PreferencesInput, raw);
  const result = await PreferencesEntity.upsert({
    tenantId,
    userId,
    ...(input.theme !== undefined ? { theme: input.theme } : {}),
    ...(input.notifications_enabled !== undefined ? { notificationsEnabled: input.notifications_enabled } : {}),
    ...(input.email_notifications !== undefined ? { emailNotifications: input.email_notifications } : {}),
    ...(input.training_auto_stop !== undefined ? { trainingAutoStop: input.training_auto_stop } : {}),
    ...(input.default_architecture !== undefined ? { defaultArchitecture: input.default_architecture } : {}),
    ...(input.timezone !== undefined ? { timezone: input.timezone } : {}),
  }).go({ response: "all_new" });
  return serializePreferences(result.data as Preferences);
}

export const PushInput = z.object({
  token: z.string().trim().min(1).max(255),
  platform: z.enum(["ios", "android", "web"]),
  device_name: z.string().trim().max(100).optional(),
});
export type PushInput = z.infer<typeof PushInput>;

/** Stores (or refreshes) a push token of the user for later delivery. */
export async function registerPushToken(tenantId: string, userId: string, raw: unknown): Promise<void> {
  const input = parse(PushInput, raw);
  await PushTokenEntity.put({
    tenantId,
    userId,
    token: input.token,
    platform: input.platform,
    deviceName: input.device_name,
  }).go();
}

/** The user's registered push tokens (for notification delivery). */
export async function pushTokens(tenantId: string, userId: string): Promise<PushToken[]> {
  const result = await PushTokenEntity.query.byUser({ tenantId, userId }).go({ pages: "all" });
  return result.data;
}
