import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { Realtime, Topic } from "../../core/realtime";
import * as Events from "../../core/realtime/events";
import { Webhook } from "../../core/webhook";
import { createUser, type TestUser } from "../support/users";
import { EventClient } from "../training/helpers";

/** Names clients already depend on (the API contract's training events, deployment_status, seed 004's service webhooks); everything else is `<resource>.<verb>`. */
const KEPT_NAMES = [
  "training_queued",
  "training_started",
  "epoch_update",
  "training_complete",
  "training_failed",
  "deployment_status",
  "service:start",
  "service:stop",
  "service:error",
];
const DEFINITIONS = (Object.values(Events) as unknown[]).filter(
  (value): value is Events.EventDefinition => typeof value === "object" && value !== null && "channel" in value,
);

describe("event registry", () => {
  it("holds every event definition the module exports, each with a schema and its own type on its channel", () => {
    expect(new Set(Events.all)).toEqual(new Set(DEFINITIONS));
    for (const definition of Events.all) expect(definition.schema).toBeInstanceOf(z.ZodType);
    // One name per channel: an event sent both live and as a webhook (worker.online) has one definition on each.
    const types = Events.all.map((definition) => `${definition.channel} ${definition.type}`);
    expect(new Set(types).size).toBe(types.length);
  });

  it("names new events <resource>.<verb> and keeps the names clients know", () => {
    const renamed = Events.all.map((definition) => definition.type).filter((type) => !KEPT_NAMES.includes(type));
    for (const type of renamed) expect(type).toMatch(/^[a-z]+(_[a-z]+)*\.[a-z]+(_[a-z]+)*$/);
    expect(Events.all.map((definition) => definition.type)).toEqual(expect.arrayContaining(KEPT_NAMES));
  });

  it("lists exactly the registry's webhook events as the events a webhook can subscribe to", () => {
    const webhookTypes = Events.all.filter((definition) => definition.channel === "webhook").map((definition) => definition.type);
    expect([...Webhook.WEBHOOK_EVENTS].sort()).toEqual(webhookTypes.sort());
  });
});

describe("publishing a registry event", () => {
  let user: TestUser;
  let client: EventClient;
  const valid = { dataset_id: "ds_events_test", row_count: 3, columns: ["a", "b"] };

  beforeAll(async () => {
    user = await createUser();
    client = await EventClient.open(user);
    expect((await client.subscribe("tenant")).type).toBe("subscribed");
  });
  afterAll(() => client?.close());

  it("delivers a payload that matches its schema as { type, ...payload }", async () => {
    expect(await Realtime.publish(Events.DatasetReady, Topic.dataset(user.tenantId, valid.dataset_id), valid)).toBe(1);
    expect(await client.waitFor((event) => event.type === "dataset.ready", 5_000)).toEqual({ type: "dataset.ready", ...valid });
  });

  it.each([
    ["a field of the wrong type", { ...valid, row_count: "3" }, "row_count"],
    ["a missing field", { dataset_id: valid.dataset_id, columns: valid.columns }, "row_count"],
    ["a field the schema does not know", { ...valid, rows: 3 }, "rows"],
  ])("refuses %s with an error naming the event and the field, and sends nothing", async (_case, payload, field) => {
    const sent = client.events.length;
    const publishing = Realtime.publish(Events.DatasetReady, Topic.dataset(user.tenantId, valid.dataset_id), payload as never);
    await expect(publishing).rejects.toThrow(Realtime.EventPayloadError);
    await expect(publishing).rejects.toThrow(new RegExp(`^dataset\\.ready event payload does not match its schema:[\\s\\S]*${field}`));
    expect(client.events.length).toBe(sent);
  });

  it("refuses a webhook event whose data breaks its schema", async () => {
    await expect(Webhook.emit(Events.TrainingCompletedWebhook, user.tenantId, { status: "completed" } as never, "events_test")).rejects.toThrow(
      /^training\.completed event payload does not match its schema:[\s\S]*id/,
    );
  });
});

describe("seed 001's socket protocol", () => {
  let alice: TestUser;
  let bob: TestUser;
  beforeAll(async () => {
    [alice, bob] = await Promise.all([createUser(), createUser()]);
  });

  const online = (workerId: string) => ({ worker_id: workerId, name: "Boiler house PLC", group: null, last_seen: new Date().toISOString() });
  const dataset = { dataset_id: "ds_seed001", row_count: 3, columns: ["a"] };

  it("answers a ping with a pong", async () => {
    const client = await EventClient.open(alice);
    client.send({ type: "ping" });
    const pong = await client.waitFor((event) => event.type === "pong", 5_000);
    expect(Date.parse(pong.at)).toBeGreaterThan(Date.now() - 60_000);
    client.close();
  });

  it("follows one event type across the tenant, only that type and only the tenant's, until unsubscribed", async () => {
    const client = await EventClient.open(alice);
    client.send({ type: "subscribe", event: "worker.online" });
    expect(await client.waitFor((event) => event.type === "subscribed", 5_000)).toEqual({ type: "subscribed", event: "worker.online" });

    await Realtime.publish(Events.DatasetReady, Topic.dataset(alice.tenantId, dataset.dataset_id), dataset);
    await Realtime.publish(Events.WorkerOnline, Topic.tenant(bob.tenantId), online("tgt_bobs"));
    expect(await Realtime.publish(Events.WorkerOnline, Topic.tenant(alice.tenantId), online("tgt_alices"))).toBe(1);
    const delivered = await client.waitFor((event) => event.type === "worker.online", 5_000);
    expect(delivered.worker_id).toBe("tgt_alices");
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(client.events.map((event) => event.data.type)).toEqual(["subscribed", "worker.online"]);

    client.send({ type: "unsubscribe", event: "worker.online" });
    await client.waitFor((event) => event.type === "unsubscribed" && event.event === "worker.online", 5_000);
    expect(await Realtime.publish(Events.WorkerOnline, Topic.tenant(alice.tenantId), online("tgt_alices"))).toBe(0);
    client.close();
  });

  it("refuses an unknown event type and a message of neither protocol, listing what it takes", async () => {
    const client = await EventClient.open(alice);
    client.send({ type: "subscribe", event: "task.completed" });
    const unknown = await client.waitFor((event) => event.type === "error", 5_000);
    expect(unknown).toMatchObject({ code: "realtime.unknown_event", event: "task.completed", events: expect.arrayContaining(["worker.online", "epoch_update", "service.started"]) });
    client.send({ type: "dance" });
    const invalid = await client.waitFor((event) => event.type === "error" && event.code === "request.invalid", 5_000);
    expect(invalid.error).toContain('{"type":"ping"}');
    client.close();
  });
});
