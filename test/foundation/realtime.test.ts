import { afterEach, describe, expect, it } from "vitest";
import { inject } from "vitest";
import WebSocket from "ws";
import { Realtime } from "../../core/realtime";
import { createUser } from "../support/users";

const wsUrl = inject("wsUrl");
const sockets: WebSocket[] = [];

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.terminate();
});

const inboxes = new WeakMap<WebSocket, { messages: Record<string, unknown>[]; waiters: (() => void)[] }>();

/** Opens a socket and buffers everything it receives, so no message is missed between awaits. */
function open(url: string, protocols?: string[]): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, protocols);
    sockets.push(socket);
    const inbox = { messages: [] as Record<string, unknown>[], waiters: [] as (() => void)[] };
    inboxes.set(socket, inbox);
    socket.on("message", (data) => {
      inbox.messages.push(JSON.parse(data.toString()));
      for (const wake of inbox.waiters.splice(0)) wake();
    });
    socket.once("open", () => resolve(socket));
    socket.once("unexpected-response", (_request, response) => reject(new Error(`HTTP ${response.statusCode}`)));
    socket.once("error", reject);
  });
}

async function nextMessage(socket: WebSocket, timeoutMs = 15_000): Promise<Record<string, unknown>> {
  const inbox = inboxes.get(socket)!;
  const deadline = Date.now() + timeoutMs;
  while (inbox.messages.length === 0) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new Error("no message");
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, remaining);
      inbox.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  return inbox.messages.shift()!;
}

describe("WebSocket channel", () => {
  it("refuses a connection without a valid access token", async () => {
    await expect(open(wsUrl)).rejects.toThrow("HTTP 401");
    await expect(open(`${wsUrl}?token=forged.token.value`)).rejects.toThrow("HTTP 401");
  });

  it("delivers an event pushed through the Management API client to a tenant's connection", async () => {
    const user = await createUser();
    const socket = await open(`${wsUrl}?token=${user.token}`);
    socket.send(JSON.stringify({ action: "subscribe", topic: "tenant" }));
    expect(await nextMessage(socket)).toEqual({ type: "subscribed", topic: "tenant" });

    const delivered = await Realtime.broadcast(user.tenantId, [], { type: "hello", value: 42 });
    expect(delivered).toBe(1);
    expect(await nextMessage(socket)).toEqual({ type: "hello", value: 42 });
  });

  it("accepts the token as the Sec-WebSocket-Protocol bearer value", async () => {
    const user = await createUser();
    const socket = await open(wsUrl, ["bearer", user.token]);
    expect(socket.protocol).toBe("bearer");
  });

  it("does not deliver one tenant's events to another tenant", async () => {
    const alice = await createUser();
    const bob = await createUser();
    const socket = await open(`${wsUrl}?token=${bob.token}`);
    socket.send(JSON.stringify({ action: "subscribe", topic: "tenant" }));
    await nextMessage(socket);
    expect(await Realtime.broadcast(alice.tenantId, [], { type: "secret" })).toBe(0);
    await expect(nextMessage(socket, 300)).rejects.toThrow("no message");
  });

  it("answers a malformed message with an error event instead of dropping the socket", async () => {
    const user = await createUser();
    const socket = await open(`${wsUrl}?token=${user.token}`);
    socket.send("not json");
    const reply = await nextMessage(socket);
    expect(reply).toMatchObject({ type: "error", code: "request.invalid" });
    expect(socket.readyState).toBe(WebSocket.OPEN);
  });

  it("removes connections the gateway reports gone (410) when publishing", async () => {
    const user = await createUser();
    const ghost = { connectionId: `ghost-${Date.now()}=`, tenantId: user.tenantId, userId: user.userId };
    await Realtime.connect(ghost);
    const stored = await Realtime.getConnection(ghost.connectionId);
    await Realtime.subscribe(stored!, "tenant");

    expect(await Realtime.broadcast(user.tenantId, [], { type: "ping" })).toBe(0);
    expect(await Realtime.getConnection(ghost.connectionId)).toBeUndefined();
  });
});
