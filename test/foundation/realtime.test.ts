import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { Realtime } from "../../core/realtime";
import { createUser } from "../support/users";
import { EventClient, wsUrl } from "../support/ws";

const open = (url: string, protocols?: string[]) => EventClient.connect(url, protocols);

describe("WebSocket channel", () => {
  it("refuses a connection without a valid access token", async () => {
    await expect(open(wsUrl)).rejects.toThrow("HTTP 401");
    await expect(open(`${wsUrl}?token=forged.token.value`)).rejects.toThrow("HTTP 401");
  });

  it("delivers an event pushed through the Management API client to a tenant's connection", async () => {
    const user = await createUser();
    const client = await open(`${wsUrl}?token=${user.token}`);
    client.send({ action: "subscribe", topic: "tenant" });
    expect(await client.next()).toEqual({ type: "subscribed", topic: "tenant" });

    const delivered = await Realtime.broadcast(user.tenantId, [], { type: "hello", value: 42 });
    expect(delivered).toBe(1);
    expect(await client.next()).toEqual({ type: "hello", value: 42 });
  });

  it("accepts the token as the Sec-WebSocket-Protocol bearer value", async () => {
    const user = await createUser();
    const client = await open(wsUrl, ["bearer", user.token]);
    expect(client.socket.protocol).toBe("bearer");
  });

  it("does not deliver one tenant's events to another tenant", async () => {
    const alice = await createUser();
    const bob = await createUser();
    const client = await open(`${wsUrl}?token=${bob.token}`);
    client.send({ action: "subscribe", topic: "tenant" });
    await client.next();
    expect(await Realtime.broadcast(alice.tenantId, [], { type: "secret" })).toBe(0);
    await expect(client.next(300)).rejects.toThrow("no message");
  });

  it("answers a malformed message with an error event instead of dropping the socket", async () => {
    const user = await createUser();
    const client = await open(`${wsUrl}?token=${user.token}`);
    client.send("not json");
    const reply = await client.next();
    expect(reply).toMatchObject({ type: "error", code: "request.invalid" });
    expect(client.socket.readyState).toBe(WebSocket.OPEN);
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
