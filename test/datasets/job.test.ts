import { describe, expect, it } from "vitest";
import { withActor } from "../../core/actor";
import { Dataset } from "../../core/dataset";
import { headObject, putObject } from "../../core/storage";
import { handler } from "../../functions/jobs/ingest";
import { call } from "../support/http";
import { lambdaContext, sqsEvent, sqsRecord } from "../support/sqs";
import { createUser } from "../support/users";
import { getDataset, uploadMultipart, uploadPresigned, waitForIngest } from "./helpers";

const run = (...bodies: unknown[]) => handler(sqsEvent(...bodies.map((body) => sqsRecord(body, { queue: "flint-ingest" }))), lambdaContext());
const s3Event = (key: string) => ({ Records: [{ eventName: "ObjectCreated:Put", s3: { object: { key } } }] });

describe("ingest job", () => {
  it("drops malformed messages, S3 test events and foreign keys without failing the batch", async () => {
    const result = await run("not json", { Event: "s3:TestEvent" }, { hello: 1 }, s3Event("uploads/elsewhere/file.csv"));
    expect(result).toEqual({ batchItemFailures: [] });
  });

  it("removes an upload whose dataset does not exist", async () => {
    const key = "uploads/tnt_ghost/ds_01jghost000000000000000000/source.csv";
    await putObject(key, "a,b\n1,2\n");
    expect(await run(s3Event(encodeURIComponent(key).replace(/%2F/g, "/")))).toEqual({ batchItemFailures: [] });
    expect(await headObject(key)).toBeUndefined();
  });

  it("ignores a direct message for a dataset that is already ready", async () => {
    const user = await createUser();
    const { id, updated_at } = (await uploadMultipart(user, "t,v\n1,2\n2,3\n")).body;
    expect(await run({ dataset_id: id, tenant_id: user.tenantId })).toEqual({ batchItemFailures: [] });
    const after = await withActor({ type: "system", tenantId: user.tenantId }, () => Dataset.get(id));
    expect(after).toMatchObject({ status: "ready", updated_at, row_count: 2 });
  });
});

describe("abandoned presigned uploads", () => {
  it("removes datasets whose upload URL expired a day ago unused, and keeps uploaded ones", async () => {
    const user = await createUser();
    const abandoned = (await call("POST", "/datasets/uploads", { token: user.token, body: { name: "never sent", equipment_type: "steam", file_size_bytes: 100 } })).body;
    const { datasetId: uploaded } = await uploadPresigned(user, "t,v\n1,2\n");
    await waitForIngest(user, uploaded);
    const later = new Date(Date.now() + 2 * 24 * 3600 * 1000);

    expect(await Dataset.removeAbandonedUploads({ now: later, dryRun: true })).toBeGreaterThanOrEqual(1);
    expect((await getDataset(user, abandoned.dataset_id)).status).toBe(200);

    expect(await Dataset.removeAbandonedUploads({ now: later })).toBeGreaterThanOrEqual(1);
    expect((await getDataset(user, abandoned.dataset_id)).status).toBe(404);
    expect((await getDataset(user, uploaded)).body.status).toBe("ready");
  });

  it("keeps a pending upload whose URL has not expired", async () => {
    const user = await createUser();
    const pending = (await call("POST", "/datasets/uploads", { token: user.token, body: { name: "on its way", equipment_type: "pump", file_size_bytes: 100 } })).body;
    await Dataset.removeAbandonedUploads();
    expect((await getDataset(user, pending.dataset_id)).body.status).toBe("pending_upload");
  });
});
