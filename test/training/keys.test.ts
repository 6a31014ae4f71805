/**
 * Key design of the training, model, evaluation and webhook entities,
 * asserted offline on ElectroDB's request parameters: every tenant-owned
 * lookup carries the tenant in its partition key, every list is a Query.
 */
import { describe, expect, it } from "vitest";
import { EvaluationEntity } from "../../core/evaluation";
import { ModelEntity } from "../../core/model";
import { EpochEntity, TrainingRunEntity } from "../../core/training";
import { QueueEntryEntity } from "../../core/training/entities/queue-entry";
import { SlotEntity } from "../../core/training/entities/slot";
import { checkpointEvery, finiteOnly, isPermanent, modelIdFor } from "../../core/training/worker";
import { DeliveryEntity } from "../../core/webhook/delivery-entity";
import { WebhookEntity } from "../../core/webhook/entity";
import { invalid, notFound, DomainError } from "../../core/error";

const pkOf = (params: Record<string, any>) =>
  params.Key?.pk ?? params.ExpressionAttributeValues?.[":pk"] ?? Object.entries(params.ExpressionAttributeValues ?? {}).find(([k]) => k.startsWith(":pk"))?.[1];

describe("key design", () => {
  it.each([
    ["training run", TrainingRunEntity.get({ tenantId: "tnt_a", runId: "tr_1" }).params()],
    ["model", ModelEntity.get({ tenantId: "tnt_a", modelId: "mdl_1" }).params()],
    ["evaluation", EvaluationEntity.get({ tenantId: "tnt_a", evaluationId: "eval_1" }).params()],
    ["webhook", WebhookEntity.get({ tenantId: "tnt_a", webhookId: "wh_1" }).params()],
    ["delivery", DeliveryEntity.get({ tenantId: "tnt_a", webhookId: "wh_1", deliveryId: "whd_1" }).params()],
  ])("puts the tenant in the partition key of a %s", (_name, params) => {
    expect(String(pkOf(params))).toContain("tnt_a");
  });

  it.each([
    ["runs of a tenant", TrainingRunEntity.query.byTenant({ tenantId: "tnt_a" }).params(), "gsi1"],
    ["models of a tenant", ModelEntity.query.byTenant({ tenantId: "tnt_a" }).params(), "gsi1"],
    ["evaluations of a tenant", EvaluationEntity.query.byTenant({ tenantId: "tnt_a" }).params(), "gsi1"],
    ["queued runs of a tenant", QueueEntryEntity.query.byTenant({ tenantId: "tnt_a" }).params(), "gsi1"],
    ["epochs of a run", EpochEntity.query.byRun({ tenantId: "tnt_a", runId: "tr_1" }).params(), undefined],
    ["deliveries of a webhook", DeliveryEntity.query.byWebhook({ tenantId: "tnt_a", webhookId: "wh_1" }).params(), undefined],
  ])("lists %s with a Query on its tenant's key", (_name, params, index) => {
    expect(params.KeyConditionExpression).toBeDefined();
    expect(params.IndexName).toBe(index);
    expect(JSON.stringify(params.ExpressionAttributeValues)).toContain("tnt_a");
  });

  it("orders the platform queue by queue time in one partition", () => {
    const params = QueueEntryEntity.query.fifo({}).params();
    expect(params.KeyConditionExpression).toContain("begins_with");
    const early = QueueEntryEntity.create({ tenantId: "t", runId: "tr_b", queuedAt: 9_000 }).params() as { Item: { sk: string } };
    const late = QueueEntryEntity.create({ tenantId: "t", runId: "tr_a", queuedAt: 10_000 }).params() as { Item: { sk: string } };
    expect(early.Item.sk < late.Item.sk).toBe(true);
  });

  it("orders epochs numerically in the sort key", () => {
    const nine = EpochEntity.put({ tenantId: "t", runId: "r", epoch: 9, trainLoss: 1, valLoss: 1, bestValLoss: 1, learningRate: 1, elapsedSeconds: 1 }).params() as { Item: { sk: string } };
    const ten = EpochEntity.put({ tenantId: "t", runId: "r", epoch: 10, trainLoss: 1, valLoss: 1, bestValLoss: 1, learningRate: 1, elapsedSeconds: 1 }).params() as { Item: { sk: string } };
    expect(nine.Item.sk < ten.Item.sk).toBe(true);
  });

  it("changes slot counters only with a conditional ADD", () => {
    const params = SlotEntity.update({ scope: "platform" })
      .add({ active: 1 })
      .where((a, op) => op.lt(a.active, 8))
      .params() as { UpdateExpression: string; ConditionExpression: string };
    expect(params.UpdateExpression).toMatch(/ADD/);
    expect(params.ConditionExpression).toMatch(/</);
  });
});

describe("worker rules", () => {
  it("derives one model id per run", () => {
    expect(modelIdFor("tr_01abc")).toBe("mdl_01abc");
  });

  it.each([
    [1, 1],
    [3, 1],
    [20, 2],
    [100, 5],
    [1000, 5],
  ])("checkpoints a %i-epoch run every %i epochs", (epochs, every) => {
    expect(checkpointEvery(epochs)).toBe(every);
  });

  it("treats invalid input and missing data as permanent and everything else as retryable", () => {
    expect(isPermanent(invalid("training.diverged", "x"))).toBe(true);
    expect(isPermanent(notFound("dataset", "ds_1"))).toBe(true);
    expect(isPermanent(new DomainError("unavailable", "x.y", "busy"))).toBe(false);
    expect(isPermanent(new Error("socket hang up"))).toBe(false);
  });

  it("turns non-finite numbers into null before they reach DynamoDB", () => {
    expect(finiteOnly({ f1: Number.NaN, nested: [1, Infinity, { a: -Infinity }], ok: 0.5, name: "x" })).toEqual({
      f1: null,
      nested: [1, null, { a: null }],
      ok: 0.5,
      name: "x",
    });
  });
});
