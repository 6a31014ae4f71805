/**
 * The package a device downloads: a gzip-compressed ustar archive holding the
 * binary and manifest.json. Written here (a few dozen lines) rather than
 * pulled in as a dependency; the output is deterministic for the same input.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync, gzipSync } from "node:zlib";
import { Config } from "../config";

export interface PackageFile {
  path: string;
  bytes: Uint8Array;
  /** Unix permission bits, e.g. 0o755. */
  mode: number;
}

const BLOCK = 512;

export function sha256(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, "0");
}

function header(file: PackageFile, mtime: number): Uint8Array {
  const name = new TextEncoder().encode(file.path);
  if (name.length > 100) throw new Error(`path too long for ustar: ${file.path}`);
  const block = new Uint8Array(BLOCK);
  const put = (offset: number, text: string) => block.set(new TextEncoder().encode(text), offset);
  block.set(name, 0);
  put(100, `${octal(file.mode, 8)}\0`);
  put(108, `${octal(0, 8)}\0`);
  put(116, `${octal(0, 8)}\0`);
  put(124, `${octal(file.bytes.length, 12)}\0`);
  put(136, `${octal(mtime, 12)}\0`);
  put(148, "        ");
  put(156, "0");
  put(257, "ustar\0");
  put(263, "00");
  put(265, "root");
  put(297, "root");
  let sum = 0;
  for (const byte of block) sum += byte;
  put(148, `${octal(sum, 7)}\0 `);
  return block;
}

/** A .tar.gz of `files` (regular files only), every entry with modification time `mtime` (epoch seconds). */
export function tarGz(files: PackageFile[], mtime: number): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const file of files) {
    parts.push(header(file, mtime), file.bytes);
    const pad = (BLOCK - (file.bytes.length % BLOCK)) % BLOCK;
    if (pad) parts.push(new Uint8Array(pad));
  }
  parts.push(new Uint8Array(2 * BLOCK));
  return new Uint8Array(gzipSync(Buffer.concat(parts), { level: 9 }));
}

/** Reads back a .tar.gz written by tarGz (tests, and the device simulator). */
export function untarGz(archive: Uint8Array): Map<string, { bytes: Uint8Array; mode: number }> {
  const tar = gunzipSync(archive);
  const files = new Map<string, { bytes: Uint8Array; mode: number }>();
  let offset = 0;
  while (offset + BLOCK <= tar.length) {
    const block = tar.subarray(offset, offset + BLOCK);
    if (block.every((byte) => byte === 0)) break;
    const text = (from: number, length: number) => new TextDecoder().decode(block.subarray(from, from + length)).replace(/\0.*$/s, "");
    const size = parseInt(text(124, 12), 8);
    const mode = parseInt(text(100, 8), 8);
    const name = text(0, 100);
    offset += BLOCK;
    files.set(name, { bytes: new Uint8Array(tar.subarray(offset, offset + size)), mode });
    offset += Math.ceil(size / BLOCK) * BLOCK;
  }
  return files;
}

export interface Manifest {
  format: "flint-edge-package/1";
  deployment_id: string;
  model_id: string;
  model_version: string;
  architecture: string;
  target_arch: string;
  precision: string;
  features: string[];
  sequence_length: number;
  normalisation: { method: "zscore"; mean: number[]; std: number[] };
  threshold: number;
  entrypoint: string;
  usage: string;
  files: { path: string; sha256: string; size_bytes: number; mode: string }[];
  toolchain: string;
  verification: unknown;
  created_at: string;
}

/**
 * The reference edge agent every package carries (./agent: a POSIX shell
 * script and its systemd unit). Bundled functions find it at
 * FLINT_AGENT_DIR (the compile image copies it there).
 */
export async function agentFiles(): Promise<PackageFile[]> {
  const dir = Config.agentDir() ?? fileURLToPath(new URL("./agent/", import.meta.url));
  const [script, unit] = await Promise.all([readFile(path.join(dir, "flint-agent.sh")), readFile(path.join(dir, "flint-agent.service"))]);
  return [
    { path: "flint-agent", bytes: new Uint8Array(script), mode: 0o755 },
    { path: "flint-agent.service", bytes: new Uint8Array(unit), mode: 0o644 },
  ];
}

/** The manifest plus the archive; `files` in the manifest lists every other file with its sha256. */
export function buildPackage(input: Omit<Manifest, "format" | "files" | "entrypoint" | "usage"> & { binary: Uint8Array; agent: PackageFile[] }): {
  archive: Uint8Array;
  manifest: Manifest;
} {
  const { binary, agent, ...rest } = input;
  const entrypoint = "flint-model";
  const files: PackageFile[] = [{ path: entrypoint, bytes: binary, mode: 0o755 }, ...agent];
  const manifest: Manifest = {
    format: "flint-edge-package/1",
    ...rest,
    entrypoint,
    usage:
      `${entrypoint} [FILE.csv | -] prints "score,flag,top_sensor" per window of ${rest.sequence_length} rows; ${entrypoint} --selftest checks the embedded reference windows; ` +
      "flint-agent runs it as a supervised service (see flint-agent.service)",
    files: files.map((file) => ({ path: file.path, sha256: sha256(file.bytes), size_bytes: file.bytes.length, mode: `0${file.mode.toString(8)}` })),
  };
  const manifestBytes = new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`);
  const mtime = Math.floor(Date.parse(rest.created_at) / 1000);
  const archive = tarGz([...files, { path: "manifest.json", bytes: manifestBytes, mode: 0o644 }], mtime);
  return { archive, manifest };
}
