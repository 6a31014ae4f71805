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
