/**
 * TOTP (RFC 6238, 30-second steps, 6 digits, one step of clock drift either
 * way) and encryption of TOTP secrets at rest with AES-256-GCM under a key
 * derived from the signing key.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { authenticator } from "otplib";
import { derivedKey } from "./keys";

export const ISSUER = "Flint";
const STEP_SECONDS = 30;

const totp = authenticator.clone({ step: STEP_SECONDS, window: 1, digits: 6 });

export function generateSecret(): string {
  return totp.generateSecret(20);
}

export function provisioningUri(account: string, secret: string): string {
  return totp.keyuri(account, ISSUER, secret);
}

export async function qrCode(uri: string): Promise<string> {
  // Loaded on first use: only MFA setup draws QR codes.
  const { default: QRCode } = await import("qrcode");
  return QRCode.toDataURL(uri, { errorCorrectionLevel: "M", margin: 1, width: 240 });
}

/**
 * The time step the code belongs to when it is valid for `secret` (within
 * one step of drift), else undefined. Callers reject steps already used.
 */
export function matchStep(secret: string, code: string): number | undefined {
  if (!/^\d{6}$/.test(code)) return undefined;
  const delta = totp.checkDelta(code, secret);
  if (delta === null) return undefined;
  return Math.floor(Date.now() / 1000 / STEP_SECONDS) + delta;
}

/** `v1.<iv>.<tag>.<ciphertext>`, all base64url. */
export async function encryptSecret(secret: string): Promise<string> {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", await derivedKey("mfa-encryption"), iv);
  const ciphertext = Buffer.concat([cipher.update(secret, "utf8"), cipher.final()]);
  return ["v1", iv.toString("base64url"), cipher.getAuthTag().toString("base64url"), ciphertext.toString("base64url")].join(".");
}

export async function decryptSecret(sealed: string): Promise<string> {
  const [version, iv, tag, ciphertext] = sealed.split(".");
  if (version !== "v1" || !iv || !tag || ciphertext === undefined) throw new Error("Unrecognised MFA secret format");
  const decipher = createDecipheriv("aes-256-gcm", await derivedKey("mfa-encryption"), Buffer.from(iv, "base64url"));
  decipher.setAuthTag(Buffer.from(tag, "base64url"));
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, "base64url")), decipher.final()]).toString("utf8");
}
