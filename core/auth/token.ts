/**
 * Access tokens (ES256 JWTs, 15 minutes, `sid` names the session) and the
 * opaque secrets behind refresh tokens, reset links and MFA challenges.
 */
import { createHash, createHmac, randomInt, sign, timingSafeEqual } from "node:crypto";
import { JwtVerifier } from "aws-jwt-verify";
import { Config } from "../config";
import { derivedKey, signingKey } from "./keys";

export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
export const AUDIENCE = "flint-api";

export function issuer(): string {
  return `flint:${Config.stage()}`;
}

export interface AccessClaims {
  sub: string;
  sid: string;
  tid: string;
}

/** Signs a short-lived access token for a session. */
export async function signAccessToken(claims: AccessClaims): Promise<string> {
  const key = await signingKey();
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: "ES256", typ: "JWT", kid: key.kid };
  const payload = { ...claims, iss: issuer(), aud: AUDIENCE, iat: now, nbf: now, exp: now + ACCESS_TOKEN_TTL_SECONDS };
  const input = `${encode(header)}.${encode(payload)}`;
  const signature = sign("sha256", Buffer.from(input), { key: key.privateKey, dsaEncoding: "ieee-p1363" });
  return `${input}.${signature.toString("base64url")}`;
}

function encode(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

type Verifier = { verifySync(token: string): Record<string, unknown> };
let verifier: Promise<Verifier> | undefined;

function useVerifier(): Promise<Verifier> {
  verifier ??= signingKey().then((key) => {
    const created = JwtVerifier.create({
      issuer: issuer(),
      audience: AUDIENCE,
      // Never fetched: the JWKS is cached below and verifySync only reads the cache.
      jwksUri: "https://flint.invalid/.well-known/jwks.json",
    });
    created.cacheJwks({ keys: [key.publicJwk as never] });
    return created as unknown as Verifier;
  });
  return verifier;
}

/**
 * Tokens this process has already verified, until they expire: a client sends
 * the same token with every request for 15 minutes, and the ES256 check is the
 * largest part of an authenticated read. Only exact, valid token strings are kept.
 */
const VERIFIED_CACHE_SIZE = 2_000;
const verified = new Map<string, { claims: AccessClaims; expiresAt: number }>();

function remember(token: string, claims: AccessClaims, expiresAt: number): void {
  if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value!);
  verified.set(token, { claims, expiresAt });
}

/** The claims of a valid, unexpired access token, or undefined. */
export async function verifyAccessToken(token: string): Promise<AccessClaims | undefined> {
  const known = verified.get(token);
  if (known) {
    if (Date.now() < known.expiresAt) return known.claims;
    verified.delete(token);
    return undefined;
  }
  // A cheap shape check first, so arbitrary strings never reach the JWT parser.
  if (token.length > 4096 || !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token)) return undefined;
  const current = await useVerifier();
  try {
    const payload = current.verifySync(token);
    const { sub, sid, tid, exp } = payload;
    if (typeof sub !== "string" || typeof sid !== "string" || typeof tid !== "string" || typeof exp !== "number") return undefined;
    const claims = { sub, sid, tid };
    remember(token, claims, exp * 1000);
    return claims;
  } catch {
    return undefined;
  }
}

/** SHA-256 of a high-entropy opaque secret (refresh tokens, reset tokens, challenges). */
export function hashSecret(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

/** Keyed hash for low-entropy secrets (6-digit codes), so a table dump cannot be brute-forced offline. */
export async function hashCode(scope: string, code: string): Promise<string> {
  return createHmac("sha256", await derivedKey("code-hmac")).update(`${scope}:${code}`).digest("hex");
}

export function sameHash(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** A uniformly random 6-digit code. */
export function sixDigitCode(): string {
  return String(randomInt(0, 1_000_000)).padStart(6, "0");
}
