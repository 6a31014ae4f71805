/**
 * The compile job's work for one deployment, step by step:
 *   compiling    load model.onnx, generate C, cross-compile for the target,
 *                run it (qemu-user for ARM) and compare with ONNX Runtime;
 *   quantizing   int8 deployments: the same with model.int8.onnx's int8
 *                weights (float32 deployments pass straight through);
 *   packaging    binary + manifest.json as tar.gz in S3;
 *   transferring the package waits for the device.
 * A model or verification problem fails the deployment with a reason; an
 * infrastructure error is rethrown so the queue retries (and, after the last
 * attempt, the dead-letter handler fails it).
 */
export * as Pipeline from "./pipeline";

import { withActor } from "../actor";
import { Codegen } from "../codegen";
import type { Built, Verification } from "../codegen";
import type { ModelSpec } from "../codegen/spec";
import { DomainError } from "../error";
import { logger } from "../logger";
import { Model } from "../model";
import { score } from "../ml";
import { getObjectBytes, putObject } from "../storage";
import { DeploymentEntity, type DeploymentItem } from "./entities";
import { agentFiles, buildPackage, sha256 } from "./package";
import { fail, IN_PROGRESS, MAX_EDGE_PARAMETERS, packageKey, supersedeOlder, transition } from "./index";

/** Reasons a deployment fails for good (retrying cannot help). */
function permanentReason(error: unknown): string | undefined {
  if (error instanceof Codegen.VerificationError) return `verification failed: ${error.message} ${JSON.stringify(error.details)}`;
  if (error instanceof Codegen.ToolchainError) return `compilation failed: ${error.message}: ${error.output.slice(0, 600)}`;
  if (error instanceof Codegen.ModelFormatError) return `unsupported model: ${error.message}`;
  if (error instanceof DomainError && (error.kind === "not_found" || error.kind === "invalid")) return error.message;
  if ((error as { name?: string }).name === "NoSuchKey") return "model file is missing";
  return undefined;
}

/** Content-derived model version: the first 12 hex digits of model.onnx's sha256. */
export function modelVersion(onnx: Uint8Array): string {
  return `sha256:${sha256(onnx).slice(0, 12)}`;
}

async function compileAndVerify(spec: ModelSpec, onnx: Uint8Array, arch: DeploymentItem["targetArch"], dir: string, seed: number) {
  const built: Built = await Codegen.build({ spec, onnx, arch, dir, seed });
  const verification: Verification = await Codegen.verify({ binary: built.binary, spec, onnx, seed: seed + 1 });
  return { built, verification };
}

/** Runs (or resumes) the pipeline of one deployment. Idempotent: a finished deployment is left alone. */
export async function run(tenantId: string, deploymentId: string): Promise<void> {
  await withActor({ type: "system", tenantId }, async () => {
    const found = await DeploymentEntity.get({ tenantId, deploymentId }).go({ consistent: true });
    const item = found.data;
    if (!item) {
      logger.warn("compile job for an unknown deployment", { tenantId, deploymentId });
      return;
    }
    if (!IN_PROGRESS.includes(item.status)) return;
    // A retried job starts over from compiling; the steps are deterministic.
    if (item.status !== "compiling" && !(await transition(tenantId, deploymentId, IN_PROGRESS, "compiling"))) return;

    const workspace = await Codegen.workspace();
    try {
      const seed = parseInt(sha256(deploymentId).slice(0, 8), 16);
      const model = await Model.get(item.modelId);
      const floatOnnx = await getObjectBytes(Model.modelKey(tenantId, model.modelId));
      const version = modelVersion(floatOnnx);
      const floatSpec = Codegen.specFromOnnx(floatOnnx, { modelId: model.modelId, version });
      const parameters = Codegen.parameterCount(floatSpec);
      if (parameters > MAX_EDGE_PARAMETERS) {
        throw new Codegen.ModelFormatError(`${parameters} parameters is more than an edge binary takes (${MAX_EDGE_PARAMETERS})`);
      }
      let { built, verification } = await compileAndVerify(floatSpec, floatOnnx, item.targetArch, workspace.dir, seed);
      let spec = floatSpec;
      let extra: Record<string, number> = {};

      if (!(await transition(tenantId, deploymentId, ["compiling"], "quantizing", { modelVersion: version }))) return;
      if (item.precision === "int8") {
        const int8Onnx = await getObjectBytes(Model.modelKey(tenantId, model.modelId, true));
        spec = Codegen.specFromOnnx(int8Onnx, { modelId: model.modelId, version });
        if (spec.precision !== "int8") throw new Codegen.ModelFormatError("model.int8.onnx has no int8 weights");
        const reference = Codegen.referenceModel(int8Onnx, spec);
        ({ built, verification } = await compileAndVerify(spec, reference, item.targetArch, workspace.dir, seed));
        extra = { int8_onnx_max_abs_deviation: await deviation(int8Onnx, reference, spec, seed) };
      }

      if (!(await transition(tenantId, deploymentId, ["quantizing"], "packaging"))) return;
      const verificationRecord = {
        max_abs_error: verification.max_abs_error,
        max_rel_error: verification.max_rel_error,
        windows_checked: verification.windows_checked,
        tolerance: verification.tolerance,
        selftest: verification.selftest,
        ...extra,
      };
      const { archive } = buildPackage({
        binary: built.binary.bytes,
        agent: await agentFiles(),
        deployment_id: deploymentId,
        model_id: model.modelId,
        model_version: version,
        architecture: spec.architecture,
        target_arch: item.targetArch,
        precision: spec.precision,
        features: spec.features,
        sequence_length: spec.sequenceLength,
        normalisation: { method: "zscore", mean: spec.mean, std: spec.std },
        threshold: spec.threshold,
        toolchain: built.binary.toolchain,
        verification: verificationRecord,
        created_at: item.createdAt,
      });
      const key = packageKey(tenantId, deploymentId);
      await putObject(key, archive, "application/gzip");

      const ready = await transition(tenantId, deploymentId, ["packaging"], "transferring", {
        binarySizeBytes: built.binary.bytes.length,
        binarySha256: built.binary.sha256,
        packageKey: key,
        packageSizeBytes: archive.length,
        packageSha256: sha256(archive),
        verification: verificationRecord,
        toolchain: built.binary.toolchain,
        compileMs: built.binary.compileMs,
      });
      if (ready) await supersedeOlder(ready);
    } catch (error) {
      const reason = permanentReason(error);
      if (reason === undefined) throw error;
      await fail(tenantId, deploymentId, reason);
    } finally {
      await workspace.done();
    }
  });
}

/** Largest |score difference| between ONNX Runtime on model.int8.onnx and on its dequantized float graph (informational). */
async function deviation(int8Onnx: Uint8Array, reference: Uint8Array, spec: ModelSpec, seed: number): Promise<number> {
  const rows = Codegen.referenceRows(spec, Codegen.windowsFor(spec, Codegen.VERIFY_WINDOWS), seed + 2);
  const columns = spec.features.map((_, f) => Float32Array.from(rows, (row) => row[f]!));
  const [a, b] = await Promise.all([score(int8Onnx, columns), score(reference, columns)]);
  let max = 0;
  for (let i = 0; i < a.scores.length; i++) max = Math.max(max, Math.abs(a.scores[i]! - b.scores[i]!));
  return max;
}
