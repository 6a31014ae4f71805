/**
 * Edge binaries of the classic detectors (pca, kmeans, iforest; metadata task "distance"):
 * the program computes the window statistics, standardises them and scores the
 * distance from normal, like ONNX Runtime within Codegen.TOLERANCE, natively and
 * under qemu, in float32 and int8; its alarms are the cloud's.
 */
import { describe, expect, it } from "vitest";
import { Codegen, type Arch } from "../../core/codegen";
import { alarmsOf, score, train, type TrainResult } from "../../core/ml";
import { head, pumpRecording } from "../../core/synthetic/recording";
import { edgeBuilds, ELF_MACHINE, machineOf } from "./helpers";

const trained = new Map<string, Promise<TrainResult>>();
const baseline = (architecture: "pca" | "kmeans" | "iforest") => () => {
  let pending = trained.get(architecture);
  if (!pending) trained.set(architecture, (pending = train({ architecture, data: head(pumpRecording({ seed: 3 })) })));
  return pending;
};

const builds = edgeBuilds("mdl_baseline");

describe.each(["pca", "kmeans", "iforest"] as const)("%s edge binaries", (architecture) => {
  it.each([
    ["float32", "x86_64"],
    ["float32", "armv7"],
    ["int8", "aarch64"],
    ["int8", "armv7"],
  ] as const)("(%s) on %s score like ONNX Runtime and raise the same alarms", async (precision, arch) => {
    const build = await builds.build(`${architecture}/${precision}/${arch}`, baseline(architecture), precision, arch as Arch);
    expect(build.spec.task).toBe("distance");
    expect(build.spec.components).toBeGreaterThan(0);
    expect(machineOf(build.binary.bytes)).toBe(ELF_MACHINE[arch as Arch]);
    const verification = await Codegen.verify({ binary: build.binary, spec: build.spec, onnx: build.onnx });
    expect(verification.windows_checked).toBeGreaterThan(10);
    expect(verification.selftest).toContain("ok");
    // the same rows through the binary and through ONNX Runtime: equal scores, equal alarms
    const recording = pumpRecording({ seed: 3 });
    const rows = Array.from({ length: 200 }, (_, i) => recording.features.map((_, f) => recording.columns[f]![560 + i]!));
    const run = await Codegen.run(build.binary, [], Codegen.toCsv(build.spec.features, rows));
    expect(run.code).toBe(0);
    const got = Codegen.parseScores(run.stdout);
    const columns = build.spec.features.map((_, f) => Float32Array.from(rows, (row) => row[f]!));
    const expected = await score(build.onnx, columns);
    expect(got).toHaveLength(expected.scores.length);
    got.forEach(({ score: have }, i) => expect(Math.abs(have - expected.scores[i]!)).toBeLessThanOrEqual(1e-5 + 1e-4 * Math.abs(expected.scores[i]!)));
    const alarms = alarmsOf(Float32Array.from(got, (line) => line.score), Math.fround(build.spec.threshold), build.spec.postprocess).alarms;
    expect(got.map((line) => line.flag)).toEqual(Array.from(alarms));
    // the stretch holds a fault: the binary raises alarms there (the isolation forest may miss this one)
    if (architecture !== "iforest") expect(alarms.some((a) => a === 1)).toBe(true);
    // and names the sensor behind each score, as ONNX Runtime's contributions do (none for isolation scores)
    expect(Codegen.topSensorMismatch(got, expected.contributions, build.spec.features)).toBe(-1);
    if (architecture === "iforest") expect(got.every((line) => line.top_sensor === null)).toBe(true);
  });
});
