import { describe, expect, it } from "vitest";
import { User } from "../../core/user";
import { createUser } from "../support/users";
import { call } from "../support/http";

describe("profile", () => {
  it("answers the profile with tenant and default preferences", async () => {
    const user = await createUser({ role: "viewer" });
    const reply = await call("GET", "/profile", { token: user.token });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      id: user.userId,
      username: user.username,
      role: "viewer",
      tenant: { id: user.tenantId },
      preferences: { theme: "nexusedge-dark", notifications_enabled: true, timezone: "UTC" },
    });
    expect(reply.body).not.toHaveProperty("passwordHash");
    expect(JSON.stringify(reply.body)).not.toContain("argon2");
  });

  it("merges preference updates field by field", async () => {
    const user = await createUser();
    const first = await call("PUT", "/profile/preferences", { token: user.token, body: { theme: "light", timezone: "America/New_York" } });
    expect(first.status).toBe(200);
    const second = await call("PUT", "/profile/preferences", { token: user.token, body: { training_auto_stop: true } });
    expect(second.body).toMatchObject({ theme: "light", timezone: "America/New_York", training_auto_stop: true, email_notifications: true });
    const read = await call("GET", "/profile/preferences", { token: user.token });
    expect(read.body).toEqual(second.body);
  });

  it("keeps each user's preferences to themselves", async () => {
    const a = await createUser();
    const b = await createUser({ tenantId: a.tenantId });
    await call("PUT", "/profile/preferences", { token: a.token, body: { theme: "solarized" } });
    expect((await call("GET", "/profile/preferences", { token: b.token })).body.theme).toBe("nexusedge-dark");
  });

  it("stores push tokens for later delivery, once per token", async () => {
    const user = await createUser();
    const body = { token: "ExponentPushToken[device-1]", platform: "android", device_name: "Pixel" };
    expect((await call("POST", "/push/register", { token: user.token, body })).status).toBe(200);
    expect((await call("POST", "/push/register", { token: user.token, body })).body).toEqual({ message: "Push token registered" });
    const tokens = await User.pushTokens(user.tenantId, user.userId);
    expect(tokens).toHaveLength(1);
    expect(tokens[0]).toMatchObject({ token: body.token, platform: "android", deviceName: "Pixel" });
  });

  it("answers 401 to anonymous profile calls", async () => {
    for (const [method, path] of [["GET", "/profile"], ["GET", "/profile/preferences"], ["POST", "/push/register"], ["POST", "/mfa/setup"]] as const) {
      expect((await call(method, path, { body: method === "POST" ? {} : undefined })).status).toBe(401);
    }
  });
});
