import { describe, expect, inject, it } from "vitest";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from "@aws-sdk/client-sqs";
import type { SQSEvent } from "aws-lambda";
import { sqs } from "../../core/aws";
import { pollQueue } from "../../functions/jobs/poller";
import { RuntimeAlreadyRunning, startRuntime } from "../../dev/runtime";
import { compileRoutes, matchRoute } from "../../functions/http/routes";
import { baseUrl, call } from "../support/http";

describe("local runtime", () => {
  it("answers /health with the database reachable", async () => {
    const response = await call("GET", `${baseUrl}/health`);
    expect(response.status).toBe(200);
    const body = response.body as Record<string, any>;
    expect(body).toMatchObject({ status: "ok", database: "connected", version: expect.any(String) });
    expect(body.uptime_seconds).toBeGreaterThanOrEqual(0);
  });

  it("echoes a request id on every response", async () => {
    const response = await call("GET", `${baseUrl}/health`, { headers: { "X-Request-Id": "trace-123" } });
    expect(response.headers.get("x-request-id")).toBe("trace-123");
    const generated = await call("GET", `${baseUrl}/health`);
    expect(generated.headers.get("x-request-id")).toMatch(/.{8,}/);
  });

  it("serves the OpenAPI 3.1 document and the docs page, with Swagger UI from this server", async () => {
    const document = (await call("GET", "/openapi.json")).body as { openapi: string; paths: Record<string, unknown> };
    expect(document.openapi).toBe("3.1.0");
    expect(Object.keys(document.paths)).toContain("/health");

    const redirect = await fetch(`${baseUrl}/docs`, { redirect: "manual" });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get("location")).toBe("/docs/");
    const docs = await call("GET", `${baseUrl}/docs/`);
    expect(docs.status).toBe(200);
    expect(docs.headers.get("content-type")).toContain("text/html");
    // No CDN: the page names only files of this server, and they are there.
    expect(docs.body).toContain('<script src="/docs/swagger-ui-bundle.js"></script>');
    expect(docs.body).not.toMatch(/(src|href)="(https?:)?\/\//);
    const bundle = await call("GET", `${baseUrl}/docs/swagger-ui-bundle.js`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get("content-type")).toContain("text/javascript");
    expect(bundle.body).toContain("SwaggerUIBundle");
    expect((await call("GET", `${baseUrl}/docs/swagger-ui.css`)).status).toBe(200);
    // The init script is a file (the CSP allows no inline script) and opens this API's document.
    expect(docs.body).toContain('<script src="/docs/init.js"></script>');
    const init = await call("GET", `${baseUrl}/docs/init.js`);
    expect(init.status).toBe(200);
    expect(init.body).toContain('url: "/api/v1/openapi.json"');
  });

  it("answers unknown routes with 404 in the error shape", async () => {
    const response = await call("GET", "/no-such-thing");
    expect(response.status).toBe(404);
    expect(response.body).toEqual({
      error: "Route not found",
      code: "route.not_found",
      details: { method: "GET", path: "/api/v1/no-such-thing" },
    });
  });

  it("rejects a malformed bearer token with 401 and no stack trace", async () => {
    const response = await call("GET", "/system/metrics", { token: "not-a-jwt" });
    expect(response.status).toBe(401);
    const body = response.body as Record<string, any>;
    expect(body.code).toMatch(/^auth\./);
    expect(JSON.stringify(body)).not.toMatch(/at .*\.ts:\d+/);
  });

  it("refuses a second runtime on the same data directory with a clear message", async () => {
    const dataDir = inject("runtimeEnv").FLINT_DATA_DIR!;
    await expect(startRuntime({ port: 0, dataDir })).rejects.toThrow(RuntimeAlreadyRunning);
    await expect(startRuntime({ port: 0, dataDir })).rejects.toThrow(/already running/);
  });
});

describe("route table", () => {
  const matchers = compileRoutes();

  it.each([
    ["POST", "/api/v1/billing/webhook", "stripe-webhook"],
    ["POST", "/api/v1/billing/checkout", "billing"],
    ["GET", "/api/v1/datasets", "datasets"],
    ["GET", "/api/v1/datasets/ds_1/preview", "datasets"],
    ["POST", "/api/v1/auth/login", "accounts"],
    ["GET", "/health", "meta"],
  ])("routes %s %s to the %s group", (method, path, group) => {
    expect(matchRoute(matchers, method, path)).toBe(group);
  });

  it("routes nothing for paths outside the table", () => {
    expect(matchRoute(matchers, "GET", "/api/v1")).toBeUndefined();
    expect(matchRoute(matchers, "GET", "/api/v1/datasetsx")).toBeUndefined();
  });
});

describe("job consumer", () => {
  async function queueWithDeadLetter(name: string, maxReceiveCount: number) {
    const dlq = await sqs().send(new CreateQueueCommand({ QueueName: `${name}-dlq` }));
    const dlqArn = (
      await sqs().send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ["QueueArn"] }))
    ).Attributes!.QueueArn!;
    const queue = await sqs().send(
      new CreateQueueCommand({
        QueueName: name,
        Attributes: {
          VisibilityTimeout: "1",
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount }),
        },
      }),
    );
    return { queueUrl: queue.QueueUrl!, dlqUrl: dlq.QueueUrl! };
  }

  it("hands messages to the handler as an SQS event and moves a record that always fails to the DLQ after the configured receives", async () => {
    const { queueUrl, dlqUrl } = await queueWithDeadLetter(`consumer-${Date.now()}`, 2);
    const seen: { body: string; receiveCount: string }[] = [];
    const abort = new AbortController();
    const handler = async (event: SQSEvent) => {
      for (const record of event.Records) seen.push({ body: record.body, receiveCount: record.attributes.ApproximateReceiveCount });
      return {
        batchItemFailures: event.Records.filter((record) => record.body === "poison").map((record) => ({
          itemIdentifier: record.messageId,
        })),
      };
    };
    const polling = pollQueue({ queueUrl, handler, batchSize: 10, waitSeconds: 1, signal: abort.signal });
    await sqs().send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "good" }));
    await sqs().send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "poison" }));

    let deadLetters: string[] = [];
    for (let attempt = 0; attempt < 20 && deadLetters.length === 0; attempt++) {
      const received = await sqs().send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, WaitTimeSeconds: 1 }));
      deadLetters = (received.Messages ?? []).map((message) => message.Body ?? "");
    }
    abort.abort();
    await polling;

    expect(seen.filter((item) => item.body === "good")).toHaveLength(1);
    expect(seen.filter((item) => item.body === "poison").map((item) => item.receiveCount)).toEqual(["1", "2"]);
    expect(deadLetters).toEqual(["poison"]);
  });
});
