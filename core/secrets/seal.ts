/**
 * Envelope encryption of the credentials Flint keeps (connection strings, API
 * keys, tokens): each value is encrypted with its own random data key
 * (AES-256-GCM), and the data key is encrypted with the master key. The master
 * key is the SECRETS_MASTER_KEY secret on AWS (an SST secret: an SSM
 * SecureString, itself encrypted by KMS) and a key file under the data
 * directory locally. Sealed values are text: `v1.<wrapped data key>.<encrypted value>`.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { Config, secret } from "../config";

const VERSION = "v1";
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

let pending: Promise<Buffer> | undefined;

function masterKey(): Promise<Buffer> {
  pending ??= loadMasterKey().catch((error: unknown) => {
    pending = undefined;
    throw error;
  });
  return pending;
}

async function loadMasterKey(): Promise<Buffer> {
  const configured = Config.isLocal() ? undefined : await secret("SECRETS_MASTER_KEY");
  if (configured) return keyFrom(configured);
  if (!Config.isLocal()) throw new Error("SECRETS_MASTER_KEY is not set (npx sst secrets set SECRETS_MASTER_KEY <base64 of 32 random bytes>)");
  const dir = path.join(Config.dataDir(), "keys");
  const file = path.join(dir, "secrets-master.key");
  try {
    return keyFrom(await readFile(file, "utf8"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const key = randomBytes(KEY_BYTES);
  // flag "wx": a concurrent first start keeps whichever key was written first.
  await writeFile(file, key.toString("base64"), { flag: "wx", mode: 0o600 }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "EEXIST") throw error;
  });
  await chmod(file, 0o600);
  return keyFrom(await readFile(file, "utf8"));
}

function keyFrom(text: string): Buffer {
  const key = Buffer.from(text.trim(), "base64");
  if (key.length !== KEY_BYTES) throw new Error("SECRETS_MASTER_KEY must be 32 bytes, base64-encoded");
  return key;
}

function encrypt(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]);
}

function decrypt(key: Buffer, sealed: Buffer, aad: string): Buffer {
  const iv = sealed.subarray(0, IV_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const decipher = createDecipheriv("aes-256-gcm", key, iv);
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
}

/**
 * Encrypts `plaintext` for storage. `context` (say, the tenant and the
 * record's id) is bound to the ciphertext: a sealed value copied into another
 * record does not open.
 */
export async function seal(plaintext: string, context: string): Promise<string> {
  const dataKey = randomBytes(KEY_BYTES);
  const wrapped = encrypt(await masterKey(), dataKey, `${VERSION}:key:${context}`);
  const body = encrypt(dataKey, Buffer.from(plaintext, "utf8"), `${VERSION}:value:${context}`);
  return [VERSION, wrapped.toString("base64url"), body.toString("base64url")].join(".");
}

/** Decrypts what `seal` made with the same `context`; throws on any tampering or a wrong context. */
export async function open(sealed: string, context: string): Promise<string> {
  const [version, wrapped, body] = sealed.split(".");
  if (version !== VERSION || !wrapped || !body) throw new Error("not a sealed value");
  const dataKey = decrypt(await masterKey(), Buffer.from(wrapped, "base64url"), `${VERSION}:key:${context}`);
  return decrypt(dataKey, Buffer.from(body, "base64url"), `${VERSION}:value:${context}`).toString("utf8");
}
