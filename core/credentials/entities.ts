/** The credential records: sessions, email verification codes, password reset tokens and MFA login challenges. */
import { Entity, type EntityItem } from "electrodb";
import { entityConfig } from "../db";

/** One pending email verification code per user. */
export const VerificationEntity = new Entity(
  {
    model: { entity: "email_verification", version: "1", service: "flint" },
    attributes: {
      userId: { type: "string", required: true, readOnly: true },
      email: { type: "string", required: true },
      codeHash: { type: "string", required: true },
      attempts: { type: "number", default: 0 },
      createdAt: { type: "string", default: () => new Date().toISOString() },
      expires_at: { type: "number", required: true },
    },
    indexes: {
      byUser: {
        pk: { field: "pk", composite: ["userId"] },
        sk: { field: "sk", composite: [] },
      },
    },
  },
  entityConfig,
);

/** Password reset tokens, addressed by the hash of the token itself. */
export const ResetTokenEntity = new Entity(
  {
    model: { entity: "password_reset", version: "1", service: "flint" },
    attributes: {
      tokenHash: { type: "string", required: true, readOnly: true },
      userId: { type: "string", required: true, readOnly: true },
      createdAt: { type: "string", readOnly: true, default: () => new Date().toISOString() },
      expires_at: { type: "number", required: true },
    },
    indexes: {
      byToken: {
        pk: { field: "pk", composite: ["tokenHash"] },
        sk: { field: "sk", composite: [] },
      },
      byUser: {
        index: "gsi1",
        pk: { field: "gsi1pk", composite: ["userId"] },
        sk: { field: "gsi1sk", composite: ["tokenHash"] },
      },
    },
  },
  entityConfig,
);

/** The step between a correct password and a session when MFA is on. */
export const MfaChallengeEntity = new Entity(
  {
    model: { entity: "mfa_challenge", version: "1", service: "flint" },
    attributes: {
      challengeHash: { type: "string", required: true, readOnly: true },
      userId: { type: "string", required: true, readOnly: true },
      attempts: { type: "number", default: 0 },
      expires_at: { type: "number", required: true },
    },
    indexes: {
      byHash: {
        pk: { field: "pk", composite: ["challengeHash"] },
        sk: { field: "sk", composite: [] },
      },
    },
  },
  entityConfig,
);

export const SessionEntity = new Entity(
  {
    model: { entity: "session", version: "1", service: "flint" },
    attributes: {
      sessionId: { type: "string", required: true, readOnly: true },
      userId: { type: "string", required: true, readOnly: true },
      tenantId: { type: "string", required: true },
      username: { type: "string", required: true },
      role: { type: ["admin", "operator", "viewer"] as const, required: true },
      superadmin: { type: "boolean", required: true },
      refreshHash: { type: "string", required: true },
      usedRefreshHashes: { type: "list", items: { type: "string" }, default: () => [] },
      ip: { type: "string" },
      userAgent: { type: "string" },
      createdAt: { type: "string", readOnly: true, default: () => new Date().toISOString() },
      refreshedAt: { type: "string" },
      expires_at: { type: "number", required: true },
    },
    indexes: {
      byId: {
        pk: { field: "pk", composite: ["sessionId"] },
        sk: { field: "sk", composite: [] },
      },
      byUser: {
        index: "gsi1",
        pk: { field: "gsi1pk", composite: ["userId"] },
        sk: { field: "gsi1sk", composite: ["sessionId"] },
      },
    },
  },
  entityConfig,
);

export type Verification = EntityItem<typeof VerificationEntity>;
export type ResetToken = EntityItem<typeof ResetTokenEntity>;
export type MfaChallenge = EntityItem<typeof MfaChallengeEntity>;
export type Session = EntityItem<typeof SessionEntity>;
