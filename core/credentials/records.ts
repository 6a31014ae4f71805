/**
 * Short-lived secrets: email verification codes, password reset tokens and
 * MFA login challenges. Only hashes are stored; TTL removes expired items and
 * every read also checks the expiry itself (TTL deletion is lazy).
 */
export { MfaChallengeEntity, ResetTokenEntity, VerificationEntity, type MfaChallenge, type ResetToken, type Verification } from "./entities";

export const EMAIL_CODE_TTL_SECONDS = 15 * 60;
export const EMAIL_CODE_MAX_ATTEMPTS = 5;
export const RESET_TOKEN_TTL_SECONDS = 30 * 60;
export const MFA_CHALLENGE_TTL_SECONDS = 5 * 60;
export const MFA_CHALLENGE_MAX_ATTEMPTS = 5;

export function isExpired(item: { expires_at: number }): boolean {
  return item.expires_at * 1000 <= Date.now();
}
