/**
 * The ES256 signing key: from the JWT_SIGNING_KEY secret (PEM or private JWK)
 * on AWS; locally (or when the secret is unset) generated once and kept under
 * `<dataDir>/keys/` with mode 0600, so tokens survive restarts. Everything
 * else that needs a server-side secret (code HMACs, MFA secret encryption)
 * derives its own key from this one with HKDF, never reusing it directly.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from "node:crypto";
import { link, mkdir, readFile, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { Config, secret } from "../config";
import { logger } from "../logger";

export interface PublicJwk {
  kty: string;
  crv: string;
  x: string;
  y: string;
  kid: string;
  alg: "ES256";
  use: "sig";
}

export interface SigningKey {
  privateKey: KeyObject;
  publicJwk: PublicJwk;
  kid: string;
  /** Raw private scalar; input keying material for derived keys only. */
  material: Buffer;
}

let pending: Promise<SigningKey> | undefined;

/** The process-wide signing key, loaded or created on first use. */
export function signingKey(): Promise<SigningKey> {
  pending ??= load().catch((error: unknown) => {
    pending = undefined;
    throw error;
  });
  return pending;
}

async function load(): Promise<SigningKey> {
  const configured = Config.isLocal() ? undefined : await secret("JWT_SIGNING_KEY");
  if (!configured && !Config.isLocal()) {
    // Each instance would mint its own key and reject the others' tokens.
    logger.warn("JWT_SIGNING_KEY is not set: using a key file under the data directory");
  }
  const privateKey = configured ? parseKey(configured) : await localKey();
  return describe(privateKey);
}

function parseKey(text: string): KeyObject {
  const trimmed = text.trim();
  const key = trimmed.startsWith("{")
    ? createPrivateKey({ key: JSON.parse(trimmed) as import("node:crypto").JsonWebKey, format: "jwk" })
    : createPrivateKey(trimmed);
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    throw new Error("JWT_SIGNING_KEY must be a P-256 (ES256) private key");
  }
  return key;
}

async function localKey(): Promise<KeyObject> {
  const dir = path.join(Config.dataDir(), "keys");
  const file = path.join(dir, "jwt-es256.json");
  try {
    return parseKey(await readFile(file, "utf8"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  // Write to a private temp file and link it into place: link() fails if another
  // process won the race, and nobody ever reads a half-written key.
  const temp = path.join(dir, `.jwt-es256.${process.pid}.${randomBytes(6).toString("hex")}`);
  await writeFile(temp, JSON.stringify(privateKey.export({ format: "jwk" })), { mode: 0o600 });
  try {
    await link(temp, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  return parseKey(await readFile(file, "utf8"));
}

function describe(privateKey: KeyObject): SigningKey {
  const jwk = createPublicKey(privateKey).export({ format: "jwk" }) as { kty: string; crv: string; x: string; y: string };
  // RFC 7638 thumbprint: members in lexicographic order, no whitespace.
  const kid = createHash("sha256")
    .update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }))
    .digest("base64url");
  const d = (privateKey.export({ format: "jwk" }) as { d: string }).d;
  return {
    privateKey,
    kid,
    material: Buffer.from(d, "base64url"),
    publicJwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, kid, alg: "ES256", use: "sig" },
  };
}

/** A 32-byte key for one purpose, derived from the signing key. */
export async function derivedKey(purpose: "mfa-encryption" | "code-hmac"): Promise<Buffer> {
  const { material } = await signingKey();
  return Buffer.from(hkdfSync("sha256", material, Buffer.from("flint"), Buffer.from(`flint:${purpose}`), 32));
}
