/**
 * Account creation: self-service signup with email verification, and the
 * seeded platform superadmin.
 */
import type { z } from "zod";
import { Audit } from "../audit";
import {
  EMAIL_CODE_MAX_ATTEMPTS,
  EMAIL_CODE_TTL_SECONDS,
  VerificationEntity,
  isExpired,
} from "../credentials/records";
import { expiresIn } from "../db";
import { DomainError, invalid, isConditionalFailure } from "../error";
import { logger } from "../logger";
import { Mail } from "../mail";
import { User } from "../user";
import { ANSWER_FLOOR_MS, withFloor } from "./floor";
import type { SignupInput } from "./inputs";
import { consume } from "./ratelimit";
import { hashCode, sameHash, sixDigitCode } from "./token";

/**
 * Creates an unverified user as admin of a new personal tenant on the Free
 * plan and emails a 6-digit verification code. Throws auth.username_taken / auth.email_taken.
 */
export async function signup(input: z.input<typeof SignupInput>): Promise<{ userId: string; tenantId: string }> {
  const user = await User.create({ ...input, role: "admin" });
  // Loaded lazily: every HTTP app imports Auth, and billing brings the Stripe SDK.
  // Idempotent, and billing treats a missing record as Free anyway, so a failure here cannot leave a broken account.
  const { Billing } = await import("../billing");
  await Billing.createFree(user.tenantId).catch((error: unknown) =>
    logger.warn("free subscription not created at signup", { tenantId: user.tenantId, error: error as Error }),
  );
  await Audit.record({
    action: "auth.signup",
    result: "success",
    resourceType: "user",
    resourceId: user.userId,
    tenantId: user.tenantId,
    userId: user.userId,
    username: user.username,
  });
  await sendVerificationCode(user);
  return { userId: user.userId, tenantId: user.tenantId };
}

async function sendVerificationCode(user: User.Item): Promise<void> {
  const code = sixDigitCode();
  await VerificationEntity.put({
    userId: user.userId,
    email: user.email,
    codeHash: await hashCode(`verify:${user.userId}`, code),
    attempts: 0,
    expires_at: expiresIn(EMAIL_CODE_TTL_SECONDS),
  }).go();
  await Mail.send({
    to: user.email,
    subject: "Your Flint verification code",
    text: [
      `Hello ${user.username},`,
      "",
      `Your Flint verification code is ${code}.`,
      `It expires in ${EMAIL_CODE_TTL_SECONDS / 60} minutes. If you did not sign up, ignore this email.`,
    ].join("\n"),
  });
}

const invalidCode = (details?: unknown) => invalid("auth.invalid_code", "Invalid or expired verification code", details);

/**
 * Marks the email verified when `code` matches the pending code. A code
 * expires after 15 minutes and is burned after 5 wrong attempts.
 * Throws auth.invalid_code (invalid) otherwise, without saying which.
 */
export async function verifyEmail(input: { email: string; code: string }): Promise<void> {
  const user = await User.fromEmail(input.email);
  const pending = user ? (await VerificationEntity.get({ userId: user.userId }).go({ consistent: true })).data : null;
  if (!user || !pending || pending.email !== user.email) throw invalidCode();
  if (isExpired(pending) || (pending.attempts ?? 0) >= EMAIL_CODE_MAX_ATTEMPTS) {
    await VerificationEntity.delete({ userId: user.userId }).go();
    throw invalidCode();
  }
  const matches = /^\d{6}$/.test(input.code) && sameHash(await hashCode(`verify:${user.userId}`, input.code), pending.codeHash);
  if (!matches) {
    const remaining = await countFailedAttempt(user.userId);
    await Audit.record({ action: "auth.verify_email", result: "failure", tenantId: user.tenantId, userId: user.userId, username: user.username });
    throw invalidCode({ attempts_remaining: remaining });
  }
  try {
    await VerificationEntity.delete({ userId: user.userId })
      .where(({ codeHash }, { eq }) => eq(codeHash, pending.codeHash))
      .go();
  } catch (error) {
    if (isConditionalFailure(error)) throw invalidCode();
    throw error;
  }
  await User.markEmailVerified(user.userId);
  await Audit.record({ action: "auth.verify_email", result: "success", resourceType: "user", resourceId: user.userId, tenantId: user.tenantId, userId: user.userId, username: user.username });
}

/** Counts a wrong code; the fifth one burns the code. Returns the attempts left. */
async function countFailedAttempt(userId: string): Promise<number> {
  try {
    const updated = await VerificationEntity.patch({ userId })
      .add({ attempts: 1 })
      .where(({ attempts }, { lt }) => lt(attempts, EMAIL_CODE_MAX_ATTEMPTS))
      .go({ response: "all_new" });
    const used = updated.data.attempts ?? EMAIL_CODE_MAX_ATTEMPTS;
    if (used >= EMAIL_CODE_MAX_ATTEMPTS) await VerificationEntity.delete({ userId }).go();
    return Math.max(0, EMAIL_CODE_MAX_ATTEMPTS - used);
  } catch (error) {
    if (isConditionalFailure(error)) return 0;
    throw error;
  }
}

/**
 * Sends a fresh code to an unverified account. Answers the same whether or
 * not the address belongs to an account; at most 5 codes per account per hour.
 */
export async function resendVerification(input: { email: string }): Promise<void> {
  await withFloor(ANSWER_FLOOR_MS, async () => {
    const user = await User.fromEmail(input.email);
    if (!user || user.emailVerified) return;
    try {
      await consume(`verify-resend:${user.userId}`, { limit: 5, windowSeconds: 3600 });
    } catch (error) {
      if (error instanceof DomainError && error.kind === "rate_limited") return;
      throw error;
    }
    await sendVerificationCode(user);
  });
}

/**
 * Creates the platform superadmin (verified, admin of its own tenant) unless
 * the username exists. Idempotent: `created` says whether it did anything.
 */
export async function seedAdmin(input: { username: string; email: string; password: string }): Promise<{ created: boolean }> {
  if (await User.fromUsername(input.username)) return { created: false };
  try {
    await User.create({
      ...input,
      role: "admin",
      superadmin: true,
      emailVerified: true,
      tenantName: "Platform",
    });
    return { created: true };
  } catch (error) {
    // Another process seeded it first.
    if (error instanceof DomainError && error.code === "auth.username_taken") return { created: false };
    throw error;
  }
}
