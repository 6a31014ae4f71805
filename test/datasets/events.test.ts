import { describe, expect, it } from "vitest";
import { call } from "../support/http";
import { createUser, type TestUser } from "../support/users";
import { EventClient } from "../support/ws";
import { uploadPresigned } from "./helpers";

/** A client subscribed to `topic` (the answer awaited: "subscribed", or "error" when refused). */
async function subscribed(user: TestUser, topic: string): Promise<EventClient> {
  const client = await EventClient.open(user);
  await client.subscribe(topic);
  return client;
}

const forDataset = (datasetId: string) => (event: any) => event.dataset_id === datasetId;

describe("dataset events on the WebSocket", () => {
  it("pushes dataset.ready to the tenant when a presigned upload is ingested", async () => {
    const user = await createUser();
    const client = await subscribed(user, "tenant");
    const { datasetId } = await uploadPresigned(user, "timestamp,flow\n2026-01-01T00:00:00Z,1\n2026-01-01T00:01:00Z,2\n");
    expect(await client.waitFor(forDataset(datasetId), 20_000)).toEqual({
      type: "dataset.ready",
      dataset_id: datasetId,
      row_count: 2,
      columns: ["timestamp", "flow"],
    });
  });

  it("pushes dataset.failed with the reason for a file that cannot be ingested", async () => {
    const user = await createUser();
    const client = await subscribed(user, "tenant");
    const { datasetId } = await uploadPresigned(user, "a,a\n1,2\n");
    expect(await client.waitFor(forDataset(datasetId), 20_000)).toMatchObject({
      type: "dataset.failed",
      dataset_id: datasetId,
      code: "dataset.duplicate_header",
      reason: expect.stringContaining("Duplicate column name 'a'"),
    });
  });

  it("pushes to a dataset:<id> subscription and refuses another tenant's dataset topic", async () => {
    const user = await createUser();
    const stranger = await createUser();
    const file = "timestamp,flow\n2026-01-01T00:00:00Z,1\n2026-01-01T00:01:00Z,2\n2026-01-01T00:02:00Z,4\n";
    const created = (await call("POST", "/datasets/uploads", { token: user.token, body: { name: "topic", equipment_type: "fan_coil", file_size_bytes: Buffer.byteLength(file) } })).body;
    const topic = `dataset:${created.dataset_id}`;
    const refused = await EventClient.open(stranger);
    expect(await refused.subscribe(topic)).toMatchObject({ type: "error", code: "dataset.not_found" });
    const client = await subscribed(user, topic);
    expect((await call("PUT", created.upload_url, { rawBody: file })).status).toBe(200);
    expect(await client.waitFor((event) => event.type === "dataset.ready", 20_000)).toMatchObject({ dataset_id: created.dataset_id, row_count: 3 });
    expect(refused.of("dataset.ready")).toEqual([]);
  });
});
