/**
 * Model → portable C → static edge binary, verified against ONNX Runtime.
 *
 * `build` generates the C program (with embedded self-test windows whose
 * expected scores come from ONNX Runtime) and cross-compiles it; `verify`
 * runs the binary (under qemu-user for ARM) on fresh reference windows and
 * compares every score with ONNX Runtime's, within TOLERANCE.
 */
export * as Codegen from "./index";

import { alarmsOf, score } from "../ml";
import { mulberry32 } from "../ml/rng";
import { generateC, TOLERANCE, withinTolerance, type Reference } from "./c";
import { parameterCount, type ModelSpec } from "./spec";
import { compile, run, type Arch, type Binary } from "./toolchain";

export { TOLERANCE, withinTolerance, generateC, type Reference } from "./c";
export { specFromOnnx, referenceModel, ModelFormatError } from "./onnx";
export { quantize, weightBytes, parameterCount, SUPPORTED_TASKS, type ModelSpec, type Precision, type Architecture, type Task } from "./spec";
export { ARCHES, compile, run, toolchainVersion, workspace, ToolchainError, type Arch, type Binary } from "./toolchain";

/** Windows embedded for `--selftest` (fewer for very large models, see windowsFor). */
export const SELFTEST_WINDOWS = 8;
/** Windows fed to the binary during verification (fewer for very large models). */
export const VERIFY_WINDOWS = 32;
/** Multiply-adds one verification run may cost; qemu-user manages roughly 2e7 a second. */
const VERIFY_BUDGET_MACS = 1e9;
/** Longest a binary may run during build and verification. */
export const RUN_TIMEOUT_MS = 10 * 60 * 1000;

/** Parameters × time steps: roughly the multiply-adds of scoring one window. */
export function macsPerWindow(spec: ModelSpec): number {
  const recurrent = spec.architecture === "lstm_autoencoder" || spec.architecture === "gru_predictor";
  return recurrent ? parameterCount(spec) * spec.sequenceLength : parameterCount(spec) + 3 * spec.sequenceLength * spec.features.length;
}

/** How many windows to check: `wanted`, fewer when the model is so large that qemu would take minutes (at least 2). */
export function windowsFor(spec: ModelSpec, wanted: number): number {
  return Math.max(2, Math.min(wanted, Math.floor(VERIFY_BUDGET_MACS / macsPerWindow(spec))));
}

export class VerificationError extends Error {
  constructor(message: string, readonly details: Record<string, unknown>) {
    super(message);
    this.name = "VerificationError";
  }
}

/**
 * Plausible sensor rows around the model's training distribution (mean ± std,
 * slowly varying, with occasional spikes so both flag values get exercised),
 * as float32 values; the same rows for the same seed.
 */
export function referenceRows(spec: ModelSpec, windows: number, seed: number): number[][] {
  const next = mulberry32(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  const count = spec.sequenceLength + windows - 1;
  const drift = spec.features.map(() => gauss());
  const rows: number[][] = [];
  for (let i = 0; i < count; i++) {
    const spike = next() < 0.05 ? 4 : 0;
    rows.push(
      spec.features.map((_, f) => {
        drift[f] = 0.9 * drift[f]! + 0.3 * gauss();
        return Math.fround(spec.mean[f]! + spec.std[f]! * (drift[f]! + spike * Math.sign(gauss())));
      }),
    );
  }
  return rows;
}

/** ONNX Runtime's scoring (core/ml score: scores, alarms, contributions) of every sliding window of `rows`. */
export function referenceScoring(onnx: Uint8Array, rows: number[][], features: number): ReturnType<typeof score> {
  return score(onnx, Array.from({ length: features }, (_, f) => Float32Array.from(rows, (row) => row[f]!)));
}

export interface Built {
  binary: Binary;
  source: string;
  reference: Reference;
}

/**
 * Generates and cross-compiles the scoring program of `spec` for `arch` into `dir`.
 * `onnx` is the model ONNX Runtime scores the embedded self-test windows with
 * (model.int8.onnx for an int8 spec).
 * @throws ToolchainError when the compiler fails
 */
export async function build(input: { spec: ModelSpec; onnx: Uint8Array; arch: Arch; dir: string; seed?: number }): Promise<Built> {
  const rows = referenceRows(input.spec, windowsFor(input.spec, SELFTEST_WINDOWS), input.seed ?? 1);
  const reference = { rows, scores: Array.from((await referenceScoring(input.onnx, rows, input.spec.features.length)).scores) };
  const source = generateC(input.spec, { reference });
  const binary = await compile(source, input.arch, input.dir, `flint-model-${input.arch}-${input.spec.precision}`);
  return { binary, source, reference };
}

export interface Verification {
  windows_checked: number;
  max_abs_error: number;
  max_rel_error: number;
  tolerance: { rtol: number; atol: number };
  selftest: string;
  /** Seconds the binary took on the verification windows (wall clock, under qemu for ARM). */
  run_seconds: number;
}

/** Parses the binary's `score,flag,top_sensor` lines (top_sensor null when the model has none). */
export function parseScores(stdout: string): { score: number; flag: number; top_sensor: string | null }[] {
  return stdout
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => {
      const [score, flag, top] = line.split(",");
      return { score: Number(score), flag: Number(flag), top_sensor: top ? top : null };
    });
}

/**
 * The window whose top sensor the binary names differently from ONNX Runtime's
 * contributions, or -1. Two sensors whose shares are within the score tolerance
 * of each other may come out either way.
 */
export function topSensorMismatch(got: { score: number; top_sensor: string | null }[], contributions: Float32Array | null, features: string[]): number {
  const F = features.length;
  return got.findIndex((line, w) => {
    if (!contributions) return line.top_sensor !== null;
    const shares = contributions.subarray(w * F, (w + 1) * F);
    const named = features.indexOf(line.top_sensor ?? "");
    if (named === -1) return true;
    const best = Math.max(...shares);
    return best - shares[named]! > TOLERANCE.atol + TOLERANCE.rtol * Math.abs(line.score);
  });
}

/** CSV with a header row (the binary maps columns by name), numbers that round-trip float32. */
export function toCsv(features: string[], rows: number[][]): string {
  return `${features.join(",")}\n${rows.map((row) => row.map((v) => v.toPrecision(9)).join(",")).join("\n")}\n`;
}

/**
 * Runs `binary` on fresh reference windows and its `--selftest`, comparing
 * each score with ONNX Runtime's, each flag with the alarm core/ml raises for those scores
 * and each top sensor with ONNX Runtime's per-sensor contributions.
 * @throws VerificationError on any mismatch (details name the first bad window)
 */
export async function verify(input: { binary: Binary; spec: ModelSpec; onnx: Uint8Array; windows?: number; seed?: number }): Promise<Verification> {
  const { spec, binary } = input;
  const windows = input.windows ?? windowsFor(spec, VERIFY_WINDOWS);
  const rows = referenceRows(spec, windows, input.seed ?? 2);
  const reference = await referenceScoring(input.onnx, rows, spec.features.length);
  const expected = Array.from(reference.scores);
  const started = performance.now();
  const result = await run(binary, [], toCsv(spec.features, rows), RUN_TIMEOUT_MS);
  const runSeconds = (performance.now() - started) / 1000;
  if (result.code !== 0) {
    throw new VerificationError(`binary exited with ${result.code}`, { stderr: result.stderr.slice(0, 1000) });
  }
  const got = parseScores(result.stdout);
  if (got.length !== expected.length) {
    throw new VerificationError(`binary printed ${got.length} windows, expected ${expected.length}`, {});
  }
  let maxAbs = 0;
  let maxRel = 0;
  for (let i = 0; i < expected.length; i++) {
    const want = expected[i]!;
    const { score: have, flag } = got[i]!;
    const abs = Math.abs(have - want);
    maxAbs = Math.max(maxAbs, abs);
    maxRel = Math.max(maxRel, abs / Math.max(Math.abs(want), 1e-12));
    if (!withinTolerance(have, want)) {
      throw new VerificationError(`score of window ${i} differs from ONNX Runtime`, { window: i, got: have, expected: want, tolerance: TOLERANCE });
    }
  }
  // the binary's alarms must be the cloud's alarms for the same scores
  const alarms = alarmsOf(Float32Array.from(got, (line) => line.score), Math.fround(spec.threshold), spec.postprocess).alarms;
  const disagreeing = got.findIndex((line, i) => line.flag !== alarms[i]);
  if (disagreeing !== -1) {
    throw new VerificationError(`alarm of window ${disagreeing} disagrees with the model's threshold and post-processing`, {
      window: disagreeing,
      flag: got[disagreeing]!.flag,
      threshold: spec.threshold,
      postprocess: spec.postprocess,
    });
  }
  const wrongSensor = topSensorMismatch(got, reference.contributions, spec.features);
  if (wrongSensor !== -1) {
    throw new VerificationError(`top sensor of window ${wrongSensor} differs from ONNX Runtime's contributions`, { window: wrongSensor, got: got[wrongSensor]!.top_sensor });
  }
  const selftest = await run(binary, ["--selftest"], "", RUN_TIMEOUT_MS);
  if (selftest.code !== 0) {
    throw new VerificationError("binary self-test failed", { output: (selftest.stdout + selftest.stderr).slice(0, 1000) });
  }
  return {
    windows_checked: expected.length,
    max_abs_error: maxAbs,
    max_rel_error: maxRel,
    tolerance: { ...TOLERANCE },
    selftest: selftest.stdout.trim(),
    run_seconds: Math.round(runSeconds * 1000) / 1000,
  };
}
