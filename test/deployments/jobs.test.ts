import { describe, expect, it } from "vitest";
import { DeploymentEntity, type Status } from "../../core/deployment/entities";
import { createId } from "../../core/id";
import { handler as compile } from "../../functions/jobs/compile";
import { handler as deadLetter } from "../../functions/jobs/compile-dead-letter";
import { lambdaContext, sqsEvent, sqsRecord } from "../support/sqs";

const record = (body: unknown, receives = 1) => sqsRecord(body, { receives, queue: "compile" });
const context = lambdaContext(300_000);

async function givenDeployment(status: Status) {
  const item = {
    tenantId: createId("tnt"),
    deploymentId: createId("dep"),
    modelId: createId("mdl"),
    targetId: createId("tgt"),
    targetName: "Jobs test",
    targetArch: "armv7" as const,
    precision: "float32" as const,
    status,
    deployedBy: "tester",
  };
  await DeploymentEntity.create(item).go();
  return item;
}

const statusOf = async (item: { tenantId: string; deploymentId: string }) =>
  (await DeploymentEntity.get(item).go({ consistent: true })).data;

describe("compile job", () => {
  it("drops a malformed message without failing the batch", async () => {
    const result = await compile(sqsEvent(record("{not json"), record({ tenantId: "t", deploymentId: "not-a-dep" })), context);
    expect(result.batchItemFailures).toEqual([]);
  });

  it("leaves a finished deployment alone when its message is redelivered", async () => {
    const item = await givenDeployment("deployed");
    const result = await compile(sqsEvent(record({ tenantId: item.tenantId, deploymentId: item.deploymentId }, 2)), context);
    expect(result.batchItemFailures).toEqual([]);
    expect((await statusOf(item))?.status).toBe("deployed");
  });

  it("fails a deployment whose model does not exist, with a reason", async () => {
    const item = await givenDeployment("compiling");
    const result = await compile(sqsEvent(record({ tenantId: item.tenantId, deploymentId: item.deploymentId })), context);
    expect(result.batchItemFailures).toEqual([]);
    const after = await statusOf(item);
    expect(after?.status).toBe("failed");
    expect(after?.reason).toMatch(/model not found/i);
  });
});

describe("compile dead letters", () => {
  it("marks a deployment that kept failing as failed", async () => {
    const item = await givenDeployment("quantizing");
    const result = await deadLetter(sqsEvent(record({ tenantId: item.tenantId, deploymentId: item.deploymentId }, 3)), context);
    expect(result.batchItemFailures).toEqual([]);
    const after = await statusOf(item);
    expect(after?.status).toBe("failed");
    expect(after?.reason).toContain("failed 3 times");
  });

  it("keeps a deployment that finished in the meantime", async () => {
    const item = await givenDeployment("deployed");
    await deadLetter(sqsEvent(record({ tenantId: item.tenantId, deploymentId: item.deploymentId }, 3)), context);
    expect((await statusOf(item))?.status).toBe("deployed");
  });
});
