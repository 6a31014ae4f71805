/**
 * Tenant webhooks over real HTTP: registration rules, a signed
 * training.completed delivery to a local receiver, retry after a failing
 * answer, the delivery log, and tenancy.
 */
import { createHmac } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Webhook } from "../../core/webhook";
import { createUser, type TestUser } from "../support/users";
import { call } from "../support/http";
import { isFinal, startRun, validatedDataset, waitForRun } from "./helpers";

interface Received {
  headers: Record<string, string | string[] | undefined>;
  body: string;
  answeredWith: number;
}

describe("webhooks", () => {
  let admin: TestUser;
  let server: Server;
  let url: string;
  const received: Received[] = [];
  /** Status codes the receiver answers with, in order; 200 once exhausted. */
  const answers = [500];

  beforeAll(async () => {
    admin = await createUser();
    server = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk: Buffer) => (body += chunk.toString()));
      request.on("end", () => {
        const status = answers.shift() ?? 200;
        received.push({ headers: request.headers, body, answeredWith: status });
        response.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/flint-hook`;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it.each([
    ["plain http to a public host", { url: "http://example.com/hook" }],
    ["an https URL to a private address", { url: "https://10.1.2.3/hook" }],
    ["a URL with credentials", { url: "https://user:pw@example.com/hook" }],
    ["a relative URL", { url: "/hook" }],
    ["an unknown event", { url: "https://example.com/hook", events: ["training.exploded"] }],
    ["no events", { url: "https://example.com/hook", events: [] }],
  ])("answers 400 for %s", async (_name, body) => {
    const answer = await call("POST", "/webhooks", { token: admin.token, body });
    expect(answer.status).toBe(400);
    expect(answer.body.code).toBe("request.invalid");
  });

  it("lets only admins register webhooks", async () => {
    const operator = await createUser({ tenantId: admin.tenantId, role: "operator" });
    expect((await call("POST", "/webhooks", { token: operator.token, body: { url } })).status).toBe(403);
  });

  let webhook: { id: string; secret: string };

  it("shows the signing secret once, at registration", async () => {
    const created = await call("POST", "/webhooks", { token: admin.token, body: { url, events: ["training.completed"], description: "CI" } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: expect.stringMatching(/^wh_/), url, events: ["training.completed"], secret: expect.stringMatching(/^whsec_/) });
    webhook = created.body;
    const listed = await call("GET", "/webhooks", { token: admin.token });
    expect(listed.body).toEqual([expect.objectContaining({ id: webhook.id, url })]);
    expect(JSON.stringify(listed.body)).not.toContain(webhook.secret);
    expect(JSON.stringify((await call("GET", `/webhooks/${webhook.id}`, { token: admin.token })).body)).not.toContain(webhook.secret);
  });

  it("delivers a signed training.completed event and retries a failed attempt", async () => {
    const operator = await createUser({ tenantId: admin.tenantId, role: "operator" });
    const datasetId = await validatedDataset(operator);
    const run = await waitForRun(operator, (await startRun(operator, datasetId)).body.id, isFinal);
    expect(run.status).toBe("completed");

    const deadline = Date.now() + 30_000;
    while (!received.some((r) => r.answeredWith === 200) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(received.map((r) => r.answeredWith)).toEqual([500, 200]);
    const [failed, delivered] = received as [Received, Received];
    expect(delivered.body).toBe(failed.body);
    expect(delivered.headers["flint-delivery"]).toBe(failed.headers["flint-delivery"]);
    expect(delivered.headers["flint-event"]).toBe("training.completed");

    const signature = String(delivered.headers["flint-signature"]);
    const [, timestamp, digest] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(signature)!;
    expect(createHmac("sha256", webhook.secret).update(`${timestamp}.${delivered.body}`).digest("hex")).toBe(digest);
    expect(Webhook.verify(webhook.secret, delivered.body, signature)).toBe(true);
    expect(Webhook.verify("whsec_wrong", delivered.body, signature)).toBe(false);

    const payload = JSON.parse(delivered.body);
    expect(payload).toMatchObject({ type: "training.completed", data: { id: run.id, status: "completed", model_id: run.model_id } });

    const deliveries = await call("GET", `/webhooks/${webhook.id}/deliveries`, { token: admin.token });
    expect(deliveries.status).toBe(200);
    expect(deliveries.body).toEqual([
      expect.objectContaining({ id: payload.id, event: "training.completed", status: "succeeded", attempts: 2, last_status_code: 200 }),
    ]);
  });

  it("answers 404 to another tenant and deletes the webhook for its own", async () => {
    const stranger = await createUser();
    expect((await call("GET", `/webhooks/${webhook.id}`, { token: stranger.token })).status).toBe(404);
    expect((await call("GET", `/webhooks/${webhook.id}/deliveries`, { token: stranger.token })).status).toBe(404);
    expect((await call("DELETE", `/webhooks/${webhook.id}`, { token: stranger.token })).status).toBe(404);
    expect((await call("GET", "/webhooks", { token: stranger.token })).body).toEqual([]);
    expect((await call("DELETE", `/webhooks/${webhook.id}`, { token: admin.token })).status).toBe(204);
    expect((await call("GET", `/webhooks/${webhook.id}`, { token: admin.token })).status).toBe(404);
  });
});

describe("webhook signatures", () => {
  it("reject a stale timestamp even with the right digest", () => {
    const body = JSON.stringify({ hello: "world" });
    const old = Math.floor(Date.now() / 1000) - 3600;
    expect(Webhook.verify("whsec_x", body, Webhook.sign("whsec_x", body, old))).toBe(false);
    expect(Webhook.verify("whsec_x", body, Webhook.sign("whsec_x", body))).toBe(true);
  });
});
