/**
 * Drives the C toolchains: cross-compiles a generated program into a static,
 * stripped binary for an edge architecture and runs binaries (under
 * qemu-user when the host cannot execute them).
 *
 * Debian packages: gcc (x86_64), gcc-arm-linux-gnueabihf (armv7 hard-float),
 * gcc-aarch64-linux-gnu (aarch64), qemu-user (qemu-arm, qemu-aarch64).
 */
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);

export type Arch = "armv7" | "aarch64" | "x86_64";
export const ARCHES: readonly Arch[] = ["armv7", "aarch64", "x86_64"] as const;

interface Toolchain {
  cc: string;
  flags: string[];
  /** qemu-user binary when the host cannot run the target natively */
  qemu?: string;
  /** ELF e_machine of the output */
  machine: number;
}

const COMMON_FLAGS = [
  "-std=c99",
  "-Os",
  "-static",
  "-nostdlib",
  "-ffreestanding",
  "-fno-builtin",
  "-fno-math-errno",
  "-fno-tree-loop-distribute-patterns",
  "-fno-stack-protector",
  "-fno-asynchronous-unwind-tables",
  "-fno-unwind-tables",
  "-fno-pie",
  "-no-pie",
  "-ffunction-sections",
  "-fdata-sections",
  "-Wl,--gc-sections",
  "-Wl,--build-id=none",
  "-s",
];

function toolchain(arch: Arch): Toolchain {
  const host = os.arch();
  switch (arch) {
    case "armv7":
      return {
        cc: "arm-linux-gnueabihf-gcc",
        flags: ["-march=armv7-a", "-mfpu=vfpv3-d16", "-mfloat-abi=hard", "-mthumb"],
        qemu: host === "arm" ? undefined : "qemu-arm",
        machine: 40,
      };
    case "aarch64":
      return { cc: host === "arm64" ? "gcc" : "aarch64-linux-gnu-gcc", flags: [], qemu: host === "arm64" ? undefined : "qemu-aarch64", machine: 183 };
    case "x86_64":
      return { cc: host === "x64" ? "gcc" : "x86_64-linux-gnu-gcc", flags: [], qemu: host === "x64" ? undefined : "qemu-x86_64", machine: 62 };
  }
}

export class ToolchainError extends Error {
  constructor(message: string, readonly output: string) {
    super(message);
    this.name = "ToolchainError";
  }
}

export interface Binary {
  arch: Arch;
  path: string;
  bytes: Uint8Array;
  sha256: string;
  compileMs: number;
  /** First line of `<cc> --version`. */
  toolchain: string;
}

const versions = new Map<Arch, Promise<string>>();

/** First line of the compiler's `--version`, e.g. "arm-linux-gnueabihf-gcc (Debian 12.2.0-14) 12.2.0". */
export function toolchainVersion(arch: Arch): Promise<string> {
  let pending = versions.get(arch);
  if (!pending) {
    pending = exec(toolchain(arch).cc, ["--version"]).then(({ stdout }) => stdout.split("\n")[0]!.trim());
    versions.set(arch, pending);
  }
  return pending;
}

/** A private scratch directory, removed by `done()`. */
export async function workspace(): Promise<{ dir: string; done: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "flint-compile-"));
  return { dir, done: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Compiles `source` into `<dir>/<name>` as a static, stripped `-Os` binary for `arch`.
 * @throws ToolchainError with the compiler output when compilation fails or the output is not an ELF for `arch`
 */
export async function compile(source: string, arch: Arch, dir: string, name = `flint-model-${arch}`): Promise<Binary> {
  const chain = toolchain(arch);
  const sourcePath = path.join(dir, `${name}.c`);
  const out = path.join(dir, name);
  await writeFile(sourcePath, source);
  const started = performance.now();
  try {
    await exec(chain.cc, [...COMMON_FLAGS, ...chain.flags, "-o", out, sourcePath, "-lgcc"], { maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new ToolchainError(`${chain.cc} failed`, (e.stderr ?? e.message).slice(0, 4000));
  }
  const compileMs = Math.round(performance.now() - started);
  const bytes = new Uint8Array(await readFile(out));
  const machine = bytes.length > 20 ? bytes[18]! | (bytes[19]! << 8) : -1;
  if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || machine !== chain.machine) {
    throw new ToolchainError(`output is not an ELF binary for ${arch}`, `e_machine=${machine}`);
  }
  return {
    arch,
    path: out,
    bytes,
    sha256: createHash("sha256").update(bytes).digest("hex"),
    compileMs,
    toolchain: await toolchainVersion(arch),
  };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a binary (under qemu-user for foreign architectures) with `stdin` piped in. */
export function run(binary: { path: string; arch: Arch }, args: string[], stdin = "", timeoutMs = 120_000): Promise<RunResult> {
  const chain = toolchain(binary.arch);
  const [command, argv] = chain.qemu ? [chain.qemu, [binary.path, ...args]] : [binary.path, args];
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { stdio: ["pipe", "pipe", "pipe"], timeout: timeoutMs });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.on("error", reject);
    child.on("close", (code, signal) =>
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(stdout).toString("utf8"),
        stderr: Buffer.concat(stderr).toString("utf8"),
      }),
    );
    child.stdin.on("error", () => undefined);
    child.stdin.end(stdin);
  });
}
