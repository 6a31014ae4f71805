/**
 * Password hashing: argon2id with the OWASP-recommended parameters
 * (19 MiB memory, 2 iterations, parallelism 1).
 */
import { hash, verify } from "@node-rs/argon2";

export const MIN_PASSWORD_LENGTH = 8;
/** Upper bound so a huge body cannot make hashing expensive. */
export const MAX_PASSWORD_LENGTH = 128;

const OPTIONS = { memoryCost: 19456, timeCost: 2, parallelism: 1, outputLen: 32 } as const;

export function hashPassword(password: string): Promise<string> {
  return hash(password, OPTIONS);
}

let dummy: Promise<string> | undefined;

/**
 * True when `password` matches `stored`. With no stored hash it still runs a
 * full verification against a dummy hash, so an unknown username costs the
 * same time as a wrong password.
 */
export async function verifyPassword(stored: string | undefined, password: string): Promise<boolean> {
  if (!stored) {
    dummy ??= hashPassword("flint-dummy-password-for-timing");
    await verify(await dummy, password).catch(() => false);
    return false;
  }
  try {
    return await verify(stored, password);
  } catch {
    return false;
  }
}
