/**
 * The answers every endpoint group shares for input it cannot take: 405 for a
 * wrong method, 400 request.invalid_path for a path that does not decode,
 * 400 request.invalid_cursor for a cursor that is not the list's own, and
 * 400 request.invalid for input core refuses (never a 500).
 */
import { z } from "zod";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { Auth } from "../../core/auth";
import { createApp } from "../../functions/http/common";
import { call } from "../support/http";
import { createUser, type TestUser } from "../support/users";

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

let alice: TestUser;
let bob: TestUser;
let platformToken: string;

beforeAll(async () => {
  [alice, bob] = await Promise.all([createUser(), createUser()]);
  const login = await Auth.login(inject("admin"));
  if (login.mfaRequired) throw new Error("the seeded admin has no MFA");
  platformToken = login.token;
  // Audit entries for both tenants, so their trails have a second page.
  for (const user of [alice, bob]) {
    for (const theme of ["dark", "light", "dark"]) {
      await call("PUT", "/profile/preferences", { token: user.token, body: { theme } });
    }
  }
});

describe("routing", () => {
  it.each([
    ["PATCH", "/datasets", "GET, POST"],
    ["PUT", "/datasets/ds_01jz0000000000000000000000", "GET, DELETE"],
    ["DELETE", "/auth/login", "POST"],
  ])("answers 405 with Allow for %s %s", async (method, path, allow) => {
    const reply = await call(method, path, { token: alice.token });
    expect(reply.status).toBe(405);
    expect(reply.headers.get("allow")).toBe(allow);
    expect(reply.body).toMatchObject({ code: "route.method_not_allowed", details: { method, allowed: allow.split(", ") } });
  });

  it("answers 404 route.not_found for a path no route has", async () => {
    const reply = await call("GET", "/datasets/ds_1/nothing/here", { token: alice.token });
    expect(reply.status).toBe(404);
    expect(reply.body).toMatchObject({ code: "route.not_found" });
  });
});

describe("path ids", () => {
  it.each(["%ff", "%", "%E2%82", "%C0%AF"])("answers 400 request.invalid_path for %s before asking for credentials", async (id) => {
    for (const [method, path] of [
      ["DELETE", `/datasets/${id}`],
      ["PUT", `/admin/users/${id}`],
      ["POST", `/training/${id}/stop`],
    ] as const) {
      const anonymous = await call(method, path, { body: {} });
      const signedIn = await call(method, path, { token: alice.token, body: {} });
      expect({ path, anonymous: anonymous.status, signedIn: signedIn.status }).toEqual({ path, anonymous: 400, signedIn: 400 });
      expect(signedIn.body).toMatchObject({ code: "request.invalid_path", error: expect.any(String), details: null });
    }
  });

  it("takes a well-formed percent-encoding as part of the id", async () => {
    const reply = await call("DELETE", "/datasets/%25ff", { token: alice.token });
    expect(reply.status).toBe(404);
  });
});

describe("cursors", () => {
  const lists = ["/admin/users", "/admin/tenants", "/training", "/models", "/evaluations", "/audit/logs", "/datasets"];
  const malformed = ["not-a-cursor", b64({ pk: 1 }), b64({ pk: "a", sk: "b", extra: "c" }), b64([]), b64("text"), "%%%"];

  it.each(lists)("refuses a malformed cursor on %s with 400 request.invalid_cursor", async (list) => {
    for (const cursor of malformed) {
      for (const token of [alice.token, platformToken]) {
        const reply = await call("GET", `${list}?cursor=${encodeURIComponent(cursor)}`, { token });
        expect({ cursor, status: reply.status, code: reply.body?.code }).toEqual({ cursor, status: 400, code: "request.invalid_cursor" });
      }
    }
  });

  it("refuses another tenant's cursor", async () => {
    const page = await call("GET", "/audit/logs?limit=1", { token: bob.token });
    expect(page.body.next_cursor).toEqual(expect.any(String));
    const reply = await call("GET", `/audit/logs?cursor=${page.body.next_cursor}`, { token: alice.token });
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ code: "request.invalid_cursor" });
  });

  it("refuses a cursor of another list or another filter of the same list", async () => {
    const trail = await call("GET", "/audit/logs?limit=1", { token: alice.token });
    const byUser = await call("GET", `/audit/logs?limit=1&user_id=${alice.userId}`, { token: alice.token });
    for (const [path, cursor] of [
      ["/datasets", trail.body.next_cursor],
      ["/models", trail.body.next_cursor],
      ["/audit/logs", byUser.body.next_cursor],
      ["/audit/logs?start_date=2001-01-01&end_date=2001-01-02", trail.body.next_cursor],
    ]) {
      const reply = await call("GET", `${path}${path.includes("?") ? "&" : "?"}cursor=${cursor}`, { token: alice.token });
      expect({ path, status: reply.status, code: reply.body?.code }).toEqual({ path, status: 400, code: "request.invalid_cursor" });
    }
  });

  it("pages on with the cursor it handed out", async () => {
    const first = await call("GET", "/audit/logs?limit=1", { token: alice.token });
    const second = await call("GET", `/audit/logs?limit=1&cursor=${first.body.next_cursor}`, { token: alice.token });
    expect(second.status).toBe(200);
    expect(second.body.logs[0].id).not.toBe(first.body.logs[0].id);
  });
});

describe("input core refuses", () => {
  it.each(["ab", "a b!"])("answers 400 request.invalid with the issues for the username %j", async (username) => {
    const reply = await call("POST", "/admin/users", {
      token: alice.token,
      body: { username, email: `${username.replace(/\W/g, "")}x@test.flint.local`, password: "long-enough-password" },
    });
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ code: "request.invalid", details: { issues: [{ path: "username", message: expect.any(String) }] } });
  });

  it("maps a stray ZodError to 400 request.invalid with its issues", async () => {
    const app = createApp();
    app.get("/unwrapped", () => {
      z.object({ count: z.number() }).parse({ count: "three" });
      throw new Error("unreachable");
    });
    const response = await app.request("/api/v1/unwrapped");
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: "request.invalid", details: { issues: [{ path: "count" }] } });
  });
});
