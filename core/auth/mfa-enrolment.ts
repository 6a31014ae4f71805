/**
 * Turning the caller's TOTP MFA on and off. The TOTP maths and secret
 * encryption are ./mfa; the login-time challenge is ./login.
 */
import { Audit } from "../audit";
import { conflict, invalid } from "../error";
import { User } from "../user";
import { me } from "./caller";
import * as Mfa from "./mfa";
import { consume } from "./ratelimit";

/**
 * Starts TOTP enrolment: a new secret (stored encrypted, pending until
 * `verifyMfa`), its otpauth:// URI and a QR code data URL.
 * Throws mfa.already_enabled (conflict).
 */
export async function setupMfa(): Promise<{ secret: string; provisioning_uri: string; qr_code: string }> {
  const user = await me();
  if (user.mfaEnabled) throw conflict("mfa.already_enabled", "MFA is already enabled; disable it first");
  const secret = Mfa.generateSecret();
  await User.setMfa(user.userId, { mfaPendingSecret: await Mfa.encryptSecret(secret) });
  const uri = Mfa.provisioningUri(user.email, secret);
  await Audit.record({ action: "mfa.setup", result: "success", resourceType: "user", resourceId: user.userId });
  return { secret, provisioning_uri: uri, qr_code: await Mfa.qrCode(uri) };
}

const invalidMfaCode = () => invalid("mfa.invalid_code", "Invalid MFA code");

async function limitMfaAttempts(userId: string): Promise<void> {
  await consume(`mfa:${userId}`, { limit: 10, windowSeconds: 300, code: "mfa.too_many_attempts" });
}

/** Confirms enrolment with a current code and turns MFA on. Throws mfa.invalid_code, mfa.not_set_up, mfa.already_enabled. */
export async function verifyMfa(input: { code: string }): Promise<void> {
  const user = await me();
  if (user.mfaEnabled) throw conflict("mfa.already_enabled", "MFA is already enabled");
  if (!user.mfaPendingSecret) throw invalid("mfa.not_set_up", "Start with POST /mfa/setup");
  await limitMfaAttempts(user.userId);
  const step = Mfa.matchStep(await Mfa.decryptSecret(user.mfaPendingSecret), input.code);
  if (step === undefined) {
    await Audit.record({ action: "mfa.enable", result: "failure", resourceType: "user", resourceId: user.userId });
    throw invalidMfaCode();
  }
  await User.setMfa(user.userId, { mfaEnabled: true, mfaSecret: user.mfaPendingSecret, mfaPendingSecret: null, mfaLastStep: step });
  await Audit.record({ action: "mfa.enable", result: "success", resourceType: "user", resourceId: user.userId });
}

/** Turns MFA off; needs a current code. Throws mfa.not_enabled, mfa.invalid_code. */
export async function disableMfa(input: { code: string }): Promise<void> {
  const user = await me();
  if (!user.mfaEnabled || !user.mfaSecret) throw invalid("mfa.not_enabled", "MFA is not enabled");
  await limitMfaAttempts(user.userId);
  const step = Mfa.matchStep(await Mfa.decryptSecret(user.mfaSecret), input.code);
  if (step === undefined || !(await User.claimTotpStep(user.userId, step))) {
    await Audit.record({ action: "mfa.disable", result: "failure", severity: "warning", resourceType: "user", resourceId: user.userId });
    throw invalidMfaCode();
  }
  await User.setMfa(user.userId, { mfaEnabled: false, mfaSecret: null, mfaPendingSecret: null });
  await Audit.record({ action: "mfa.disable", result: "success", severity: "warning", resourceType: "user", resourceId: user.userId });
}
