/**
 * Password flows: forgotten (emailed single-use reset token), reset with
 * that token, and change by the signed-in caller. Hashing is credentials/password.
 */
import { useUser } from "../actor";
import { Audit } from "../audit";
import { Config } from "../config";
import { verifyPassword } from "../credentials/password";
import { RESET_TOKEN_TTL_SECONDS, ResetTokenEntity, isExpired } from "../credentials/records";
import { revokeUserSessions } from "../credentials/session";
import { expiresIn } from "../db";
import { invalid, isConditionalFailure } from "../error";
import { createId, createSecret } from "../id";
import { logger } from "../logger";
import { Mail } from "../mail";
import { User } from "../user";
import { me } from "./caller";
import { ANSWER_FLOOR_MS, withFloor } from "./floor";
import { hashSecret } from "./token";

/**
 * Emails a single-use reset link (30 minutes) when the address belongs to an
 * account. Same answer and similar timing either way, so it cannot be used
 * to find out which addresses have accounts.
 */
export async function forgotPassword(input: { email: string }): Promise<void> {
  await withFloor(ANSWER_FLOOR_MS, async () => {
    const user = await User.fromEmail(input.email);
    if (!user) {
      // The same number of table round trips as the real path, so timing does not tell the two apart.
      await Promise.all([User.get(createId("usr")), ResetTokenEntity.get({ tokenHash: hashSecret(createSecret(32)) }).go()]);
      await Audit.record({ action: "auth.password.reset_requested", result: "failure", details: { reason: "unknown_email" } });
      return;
    }
    const token = createSecret(32);
    await ResetTokenEntity.create({
      tokenHash: hashSecret(token),
      userId: user.userId,
      expires_at: expiresIn(RESET_TOKEN_TTL_SECONDS),
    }).go();
    const link = `${Config.publicUrl()}/reset-password?token=${token}`;
    await Mail.send({
      to: user.email,
      subject: "Reset your Flint password",
      text: [
        `Hello ${user.username},`,
        "",
        "Someone asked to reset the password of your Flint account. To choose a new one, open:",
        link,
        "",
        `Or send this reset token to the API: ${token}`,
        `The link works once and expires in ${RESET_TOKEN_TTL_SECONDS / 60} minutes. If you did not ask for it, ignore this email.`,
      ].join("\n"),
    });
    await Audit.record({ action: "auth.password.reset_requested", result: "success", tenantId: user.tenantId, userId: user.userId, username: user.username });
  });
}

const invalidResetToken = () => invalid("auth.invalid_reset_token", "Invalid or expired reset token");

/**
 * Sets a new password with a reset token. The token is consumed in the same
 * transaction as the password change (single use), and every session of
 * the user is revoked. Throws auth.invalid_reset_token (invalid).
 */
export async function resetPassword(input: { token: string; newPassword: string }): Promise<void> {
  const password = User.Password.safeParse(input.newPassword);
  if (!password.success) throw invalid("request.invalid", password.error.issues[0]?.message ?? "Invalid password");
  const tokenHash = hashSecret(input.token);
  const record = (await ResetTokenEntity.get({ tokenHash }).go({ consistent: true })).data;
  if (!record || isExpired(record)) throw invalidResetToken();
  const user = await User.get(record.userId);
  if (!user) throw invalidResetToken();
  try {
    await ResetTokenEntity.delete({ tokenHash })
      .where(({ expires_at }, { gt }) => gt(expires_at, Math.floor(Date.now() / 1000)))
      .go();
  } catch (error) {
    if (isConditionalFailure(error)) throw invalidResetToken();
    throw error;
  }
  await User.setPassword(user.userId, password.data);
  // The link arrived by email, which proves the address.
  if (!user.emailVerified) await User.markEmailVerified(user.userId);
  const revoked = await revokeUserSessions(user.userId);
  await Audit.record({
    action: "auth.password.reset",
    result: "success",
    severity: "warning",
    resourceType: "user",
    resourceId: user.userId,
    tenantId: user.tenantId,
    userId: user.userId,
    username: user.username,
    details: { sessions_revoked: revoked },
  });
}

/**
 * Changes the caller's password after checking the current one, and revokes
 * every other session. Throws auth.invalid_current_password (invalid).
 */
export async function changePassword(input: { currentPassword: string; newPassword: string }): Promise<void> {
  const actor = useUser();
  const user = await me();
  if (!(await verifyPassword(user.passwordHash, input.currentPassword))) {
    await Audit.record({ action: "auth.password.change", result: "failure", severity: "warning", resourceType: "user", resourceId: user.userId });
    throw invalid("auth.invalid_current_password", "The current password is not correct");
  }
  await User.setPassword(user.userId, input.newPassword);
  const revoked = await revokeUserSessions(user.userId, actor.sessionId);
  await Audit.record({
    action: "auth.password.change",
    result: "success",
    resourceType: "user",
    resourceId: user.userId,
    details: { sessions_revoked: revoked },
  });
  await Mail.send({
    to: user.email,
    subject: "Your Flint password was changed",
    text: `Hello ${user.username},\n\nThe password of your Flint account was just changed. If this was not you, reset your password now.`,
  }).catch((error: unknown) => logger.warn("password change notice not sent", { error: error as Error }));
}
