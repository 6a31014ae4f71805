import { beforeAll, describe, expect, it } from "vitest";
import { call } from "../support/http";
import { createUser, type TestUser } from "../support/users";
import { getDataset, uploadMultipart } from "./helpers";

const CSV = "timestamp,flow,pressure\n" +
  Array.from({ length: 40 }, (_, i) => `${new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString()},${10 + (i % 5)},${2 + (i % 3)}`).join("\n") +
  "\n";

const ROUTES: [string, string][] = [
  ["GET", "/datasets/:id"],
  ["GET", "/datasets/:id/preview"],
  ["GET", "/datasets/:id/recommend"],
  ["POST", "/datasets/:id/validate"],
  ["POST", "/datasets/:id/unlock"],
  ["DELETE", "/datasets/:id"],
];

describe("tenancy and roles", () => {
  let owner: TestUser;
  let stranger: TestUser;
  let viewer: TestUser;
  let datasetId: string;

  beforeAll(async () => {
    owner = await createUser();
    [stranger, viewer] = await Promise.all([createUser(), createUser({ tenantId: owner.tenantId, role: "viewer" })]);
    const response = await uploadMultipart(owner, CSV);
    datasetId = response.body.id;
  });

  it.each(ROUTES)("answers 404 to another tenant on %s %s", async (method, path) => {
    const response = await call(method, path.replace(":id", datasetId), { token: stranger.token });
    expect(response.status).toBe(404);
    const body = response.body;
    expect(body.code).toBe("dataset.not_found");
    expect(JSON.stringify(body)).not.toContain("flow");
  });

  it("keeps another tenant's datasets out of the list", async () => {
    const response = await call("GET", "/datasets", { token: stranger.token });
    expect(response.body).toEqual([]);
  });

  it("still has the dataset after the stranger's attempts", async () => {
    expect((await getDataset(owner, datasetId)).body.status).toBe("ready");
  });

  it.each(ROUTES.filter(([method]) => method !== "GET"))("answers 403 to a viewer on %s %s", async (method, path) => {
    const response = await call(method, path.replace(":id", datasetId), { token: viewer.token });
    expect(response.status).toBe(403);
    expect(response.body.code).toBe("auth.forbidden");
  });

  it("answers 403 to a viewer uploading either way", async () => {
    expect((await uploadMultipart(viewer, CSV)).status).toBe(403);
    const presigned = await call("POST", "/datasets/uploads", { token: viewer.token, body: { name: "x", equipment_type: "chiller", file_size_bytes: 100 } });
    expect(presigned.status).toBe(403);
  });

  it.each(ROUTES.filter(([method]) => method === "GET"))("lets a viewer read %s %s", async (method, path) => {
    const response = await call(method, path.replace(":id", datasetId), { token: viewer.token });
    expect(response.status).toBe(200);
  });

  it("answers 401 without a token", async () => {
    expect((await call("GET", "/datasets")).status).toBe(401);
    expect((await call("GET", `/datasets/${datasetId}`)).status).toBe(401);
  });

  it("answers 404 for an id that is not a dataset id", async () => {
    const response = await call("GET", "/datasets/not-an-id", { token: owner.token });
    expect(response.status).toBe(404);
  });
});
