import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser, type TestUser } from "../support/users";
import { EventClient } from "../training/helpers";
import { call } from "../support/http";
import { registerTarget, storeModel, tinyModel } from "./helpers";

let alice: TestUser;
let bob: TestUser;
let client: EventClient;

beforeAll(async () => {
  [alice, bob] = await Promise.all([createUser(), createUser()]);
  client = await EventClient.open(alice);
});
afterAll(() => client?.close());

describe("deployment status events", () => {
  it("publishes every step from compiling to transferring, in order", async () => {
    expect((await client.subscribe("tenant")).type).toBe("subscribed");
    const model = await storeModel(alice.tenantId, await tinyModel("gru_predictor"), "gru_predictor");
    const target = await registerTarget(alice, "x86_64");
    const created = await call("POST", "/deployments", { token: alice.token, body: { model_id: model, target_id: target.id } });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect((await client.subscribe(`deployment:${id}`)).type).toBe("subscribed");
    await client.waitFor((event) => event.type === "deployment_status" && event.deployment_id === id && event.status === "transferring");
    const statuses = client
      .of("deployment_status")
      .filter((event) => event.deployment_id === id)
      .map((event) => event.status);
    expect([...new Set(statuses)]).toEqual(["compiling", "quantizing", "packaging", "transferring"]);
  });

  it("refuses a subscription to another tenant's deployment", async () => {
    const model = await storeModel(bob.tenantId, await tinyModel("gru_predictor"), "gru_predictor");
    const target = await registerTarget(bob, "x86_64");
    const created = await call("POST", "/deployments", { token: bob.token, body: { model_id: model, target_id: target.id } });
    const reply = await client.subscribe(`deployment:${created.body.id}`);
    expect(reply.type).toBe("error");
  });
});
