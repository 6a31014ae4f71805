import { afterEach, describe, expect, inject, it } from "vitest";
import WebSocket from "ws";
import { call } from "../support/http";
import { createUser, type TestUser } from "../support/users";
import { uploadPresigned } from "./helpers";

const wsUrl = inject("wsUrl");
const sockets: WebSocket[] = [];

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.terminate();
});

async function subscribed(
  user: TestUser,
  topic: string,
  expected = "subscribed",
): Promise<{ socket: WebSocket; messages: Record<string, unknown>[] }> {
  const socket = new WebSocket(`${wsUrl}?token=${user.token}`);
  sockets.push(socket);
  const messages: Record<string, unknown>[] = [];
  socket.on("message", (data) => messages.push(JSON.parse(data.toString()) as Record<string, unknown>));
  await new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  });
  socket.send(JSON.stringify({ action: "subscribe", topic }));
  await until(() => messages.some((message) => message.type === expected));
  return { socket, messages };
}

async function until(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("dataset events on the WebSocket", () => {
  it("pushes dataset.ready to the tenant when a presigned upload is ingested", async () => {
    const user = await createUser();
    const { messages } = await subscribed(user, "tenant");
    const { datasetId } = await uploadPresigned(user, "timestamp,flow\n2026-01-01T00:00:00Z,1\n2026-01-01T00:01:00Z,2\n");
    await until(() => messages.some((message) => message.dataset_id === datasetId));
    expect(messages.find((message) => message.dataset_id === datasetId)).toEqual({
      type: "dataset.ready",
      dataset_id: datasetId,
      row_count: 2,
      columns: ["timestamp", "flow"],
    });
  });

  it("pushes dataset.failed with the reason for a file that cannot be ingested", async () => {
    const user = await createUser();
    const { messages } = await subscribed(user, "tenant");
    const { datasetId } = await uploadPresigned(user, "a,a\n1,2\n");
    await until(() => messages.some((message) => message.dataset_id === datasetId));
    expect(messages.find((message) => message.dataset_id === datasetId)).toMatchObject({
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
    const refused = await subscribed(stranger, topic, "error");
    expect(refused.messages.find((message) => message.type === "error")).toMatchObject({ code: "dataset.not_found" });
    const { messages } = await subscribed(user, topic);
    expect((await call("PUT", created.upload_url, { rawBody: file })).status).toBe(200);
    await until(() => messages.some((message) => message.type === "dataset.ready"));
    expect(messages.find((message) => message.type === "dataset.ready")).toMatchObject({ dataset_id: created.dataset_id, row_count: 3 });
    expect(refused.messages.some((message) => message.type === "dataset.ready")).toBe(false);
  });
});
