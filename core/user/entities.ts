/**
 * The user records on the single table: the user, its platform-wide username
 * and email claims, its preferences and its push tokens.
 */
import { Entity, type EntityItem } from "electrodb";
import { entityConfig } from "../db";

export const UserEntity = new Entity(
  {
    model: { entity: "user", version: "1", service: "flint" },
    attributes: {
      userId: { type: "string", required: true, readOnly: true },
      tenantId: { type: "string", required: true },
      username: { type: "string", required: true, readOnly: true },
      email: { type: "string", required: true },
      passwordHash: { type: "string", required: true },
      role: { type: ["admin", "operator", "viewer"] as const, required: true },
      superadmin: { type: "boolean", default: false },
      emailVerified: { type: "boolean", default: false },
      mfaEnabled: { type: "boolean", default: false },
      /** AES-256-GCM ciphertext of the active TOTP secret. */
      mfaSecret: { type: "string" },
      /** Ciphertext of a secret set up but not yet confirmed. */
      mfaPendingSecret: { type: "string" },
      /** Last accepted TOTP time step, so a code cannot be replayed. */
      mfaLastStep: { type: "number" },
      createdAt: { type: "string", readOnly: true, default: () => new Date().toISOString() },
      updatedAt: { type: "string", watch: "*", set: () => new Date().toISOString(), default: () => new Date().toISOString() },
      passwordChangedAt: { type: "string" },
    },
    indexes: {
      byId: {
        pk: { field: "pk", composite: ["userId"] },
        sk: { field: "sk", composite: [] },
      },
      byTenant: {
        index: "gsi1",
        pk: { field: "gsi1pk", composite: ["tenantId"] },
        sk: { field: "gsi1sk", composite: ["username"] },
      },
      // Platform-wide listing for superadmins.
      all: {
        index: "gsi2",
        pk: { field: "gsi2pk", composite: [] },
        sk: { field: "gsi2sk", composite: ["username"] },
      },
    },
  },
  entityConfig,
);

/** Claims a username platform-wide (lowercased). */
export const UsernameEntity = new Entity(
  {
    model: { entity: "username", version: "1", service: "flint" },
    attributes: {
      username: { type: "string", required: true, readOnly: true },
      userId: { type: "string", required: true, readOnly: true },
      tenantId: { type: "string", required: true },
    },
    indexes: {
      byName: {
        pk: { field: "pk", composite: ["username"] },
        sk: { field: "sk", composite: [] },
      },
    },
  },
  entityConfig,
);

/** Claims an email address platform-wide (lowercased). */
export const EmailEntity = new Entity(
  {
    model: { entity: "email", version: "1", service: "flint" },
    attributes: {
      email: { type: "string", required: true, readOnly: true },
      userId: { type: "string", required: true, readOnly: true },
    },
    indexes: {
      byEmail: {
        pk: { field: "pk", composite: ["email"] },
        sk: { field: "sk", composite: [] },
      },
    },
  },
  entityConfig,
);

export const PreferencesEntity = new Entity(
  {
    model: { entity: "preferences", version: "1", service: "flint" },
    attributes: {
      tenantId: { type: "string", required: true, readOnly: true },
      userId: { type: "string", required: true, readOnly: true },
      theme: { type: "string" },
      notificationsEnabled: { type: "boolean" },
      emailNotifications: { type: "boolean" },
      trainingAutoStop: { type: "boolean" },
      defaultArchitecture: { type: "string" },
      timezone: { type: "string" },
      updatedAt: { type: "string", watch: "*", set: () => new Date().toISOString(), default: () => new Date().toISOString() },
    },
    indexes: {
      byUser: {
        pk: { field: "pk", composite: ["tenantId", "userId"] },
        sk: { field: "sk", composite: [] },
      },
    },
  },
  entityConfig,
);

export const PushTokenEntity = new Entity(
  {
    model: { entity: "push_token", version: "1", service: "flint" },
    attributes: {
      tenantId: { type: "string", required: true, readOnly: true },
      userId: { type: "string", required: true, readOnly: true },
      token: { type: "string", required: true, readOnly: true },
      platform: { type: ["ios", "android", "web"] as const, required: true },
      deviceName: { type: "string" },
      createdAt: { type: "string", readOnly: true, default: () => new Date().toISOString() },
      updatedAt: { type: "string", watch: "*", set: () => new Date().toISOString(), default: () => new Date().toISOString() },
    },
    indexes: {
      byUser: {
        pk: { field: "pk", composite: ["tenantId", "userId"] },
        sk: { field: "sk", composite: ["token"] },
      },
    },
  },
  entityConfig,
);

export type Item = EntityItem<typeof UserEntity>;
export type Preferences = EntityItem<typeof PreferencesEntity>;
export type PushToken = EntityItem<typeof PushTokenEntity>;
