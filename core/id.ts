import { randomBytes } from "node:crypto";
import { ulid } from "ulid";

/** Sortable, prefixed resource ids: `ds_01J...`, `tr_01J...`. */
export function createId(prefix: string): string {
  return `${prefix}_${ulid().toLowerCase()}`;
}

/** An unguessable opaque secret (tokens, device credentials), url-safe. */
export function createSecret(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}
