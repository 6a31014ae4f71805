import http from "node:http";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { beforeAll, describe, expect, it } from "vitest";
import { withActor } from "../../core/actor";
import { s3 } from "../../core/aws";
import { Billing } from "../../core/billing";
import { MAX_DIRECT_UPLOAD_BYTES, PLANS } from "../../core/billing/plans";
import { Config } from "../../core/config";
import { Dataset } from "../../core/dataset";
import { baseUrl, call } from "../support/http";
import { authHeader, createUser, type TestUser } from "../support/users";
import { getDataset, uploadMultipart, uploadPresigned, waitForIngest } from "./helpers";

async function keysUnder(prefix: string): Promise<string[]> {
  const page = await s3().send(new ListObjectsV2Command({ Bucket: Config.bucketName(), Prefix: prefix }));
  return (page.Contents ?? []).map((item) => item.Key!);
}

async function datasetIds(user: TestUser): Promise<string[]> {
  const response = await call("GET", "/datasets?limit=100", { token: user.token });
  return response.body.map((item: { id: string }) => item.id);
}

const deterministicJunk = (length: number) => {
  let state = 12345;
  return new Uint8Array(length).map(() => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state >>> 24;
  });
};

const tenThousandColumns = () => {
  const names = Array.from({ length: 10_000 }, (_, i) => `sensor_${i}`);
  return `${names.join(",")}\n${names.map((_, i) => i).join(",")}\n`;
};

const BAD_FILES: [string, () => string | Uint8Array, string][] = [
  ["an empty file", () => "", "dataset.empty_file"],
  ["a header only", () => "timestamp,supply_temp\n", "dataset.no_rows"],
  ["binary junk", () => deterministicJunk(4096), "dataset.binary_file"],
  ["non-UTF-8 text", () => Buffer.from("timestamp,note\n2026-01-01T00:00:00Z,caf\xe9 cr\xe8me\n", "latin1"), "dataset.invalid_encoding"],
  ["duplicate header names", () => "t,temp,temp\n1,2,3\n", "dataset.duplicate_header"],
  ["an empty header name", () => "t,,flow\n1,2,3\n", "dataset.empty_header"],
  ["10,000 columns", tenThousandColumns, "dataset.too_many_columns"],
];

describe("bad files through the direct upload", () => {
  let user: TestUser;
  beforeAll(async () => {
    user = await createUser();
  });

  it.each(BAD_FILES)("answers 400 for %s and keeps nothing", async (_label, file, code) => {
    const before = await datasetIds(user);
    const response = await uploadMultipart(user, file());
    expect(response.status).toBe(400);
    const body = response.body;
    expect(body.code).toBe(code);
    expect(body.error.length).toBeGreaterThan(10);
    expect(await datasetIds(user)).toEqual(before);
    expect(await keysUnder(`tenants/${user.tenantId}/`)).toEqual([]);
  });

  it("answers 400 when the multipart body has no file", async () => {
    const response = await uploadMultipart(user, undefined);
    expect(response.status).toBe(400);
    expect(response.body.code).toBe("dataset.file_required");
  });

  it.each([
    ["a JSON body", "application/json", '{"name":"x"}', 415],
    ["a broken multipart body", "multipart/form-data; boundary=zz", "garbage", 400],
  ])("answers a clear 4xx for %s on the upload route", async (_label, contentType, body, status) => {
    const response = await call("POST", "/datasets", { token: user.token, rawBody: body, contentType });
    expect(response.status).toBe(status);
    expect(response.body.code).toBe("request.invalid");
  });

  it.each([
    ["no name", { name: "" }],
    ["an unknown equipment type", { equipment_type: "toaster" }],
  ])("answers 400 for %s", async (_label, fields) => {
    const response = await uploadMultipart(user, "a,b\n1,2\n", fields);
    expect(response.status).toBe(400);
    expect(response.body.code).toBe("request.invalid");
  });

  it("accepts a BOM, CRLF/LF mixed endings and quoted delimiters and newlines", async () => {
    const text = '\ufefftimestamp;note;temp\r\n2026-01-01T00:00:00Z;"a; b";20,5\n2026-01-01T00:01:00Z;"two\r\nlines";21\r\n2026-01-01T00:02:00Z;plain;22\n';
    const response = await uploadMultipart(user, text);
    expect(response.status).toBe(201);
    const body = response.body;
    expect(body).toMatchObject({
      status: "ready",
      row_count: 3,
      columns: ["timestamp", "note", "temp"],
      format: { delimiter: ";", bom: true, line_endings: "mixed", quoted_fields: true },
    });
    expect(body.format.decimal_separator).toBe(",");
    expect(body.column_stats.temp).toMatchObject({ count_numeric: 3, count_non_numeric: 0, min: 20.5, max: 22 });
    const preview = (await call("GET", `/datasets/${body.id}/preview`, { token: user.token })).body;
    expect(preview.rows).toEqual([
      ["2026-01-01T00:00:00Z", "a; b", 20.5],
      ["2026-01-01T00:01:00Z", "two\r\nlines", 21],
      ["2026-01-01T00:02:00Z", "plain", 22],
    ]);
    await call("DELETE", `/datasets/${body.id}`, { token: user.token });
  });

  it("previews missing values as null and text in a numeric column as the file wrote it", async () => {
    const rows = [
      "timestamp,supply_temp,note",
      "2026-01-01T00:00:00Z,20.95,ok",
      "2026-01-01T00:01:00Z,,",
      "2026-01-01T00:02:00Z,N/A,ok",
      "2026-01-01T00:03:00Z,sensor fault,ok",
      "2026-01-01T00:04:00Z,-0.125,ok",
      ",21,ok",
      ...Array.from({ length: 14 }, (_, minute) => `2026-01-01T00:${String(minute + 6).padStart(2, "0")}:00Z,${20 + minute / 4},ok`),
    ];
    const response = await uploadMultipart(user, `${rows.join("\n")}\n`);
    expect(response.status).toBe(201);
    const body = response.body;
    expect(body.column_stats.supply_temp).toMatchObject({ count_non_numeric: 1, count_missing: 2 });
    const preview = (await call("GET", `/datasets/${body.id}/preview?page_size=6`, { token: user.token })).body;
    expect(preview.rows).toEqual([
      ["2026-01-01T00:00:00Z", 20.95, "ok"],
      ["2026-01-01T00:01:00Z", null, null],
      ["2026-01-01T00:02:00Z", null, "ok"],
      ["2026-01-01T00:03:00Z", "sensor fault", "ok"],
      ["2026-01-01T00:04:00Z", -0.125, "ok"],
      [null, 21, "ok"],
    ]);
    await call("DELETE", `/datasets/${body.id}`, { token: user.token });
  });
});

describe("bad files through the presigned upload", () => {
  let user: TestUser;
  beforeAll(async () => {
    user = await createUser();
    await withActor({ type: "system" }, () => Billing.setPlan({ tenant_id: user.tenantId, tier: "enterprise" }));
  });

  // Independent uploads: run side by side to keep the suite fast.
  it.concurrent.each(BAD_FILES.filter(([label]) => label !== "an empty file"))(
    "marks the dataset failed for %s, with the reason and no columnar data",
    async (_label, file, code) => {
      const { datasetId } = await uploadPresigned(user, file());
      const dataset = await waitForIngest(user, datasetId);
      expect(dataset.status).toBe("failed");
      expect(dataset.failure.code).toBe(code);
      expect(dataset.failure.reason.length).toBeGreaterThan(10);
      expect(dataset.row_count).toBeNull();
      expect(await keysUnder(`tenants/${user.tenantId}/datasets/${datasetId}/`)).toEqual([]);
      const preview = await call("GET", `/datasets/${datasetId}/preview`, { token: user.token });
      expect(preview.status).toBe(409);
      const validate = await call("POST", `/datasets/${datasetId}/validate`, { token: user.token });
      expect(validate.status).toBe(409);
    },
  );

  it("refuses to hand out a URL for an empty file", async () => {
    const response = await call("POST", "/datasets/uploads", { token: user.token, body: { name: "empty", equipment_type: "pump", file_size_bytes: 0 } });
    expect(response.status).toBe(400);
  });

  it("ignores a second upload to the same URL and a redelivered message", async () => {
    const original = "timestamp,flow\n2026-01-01T00:00:00Z,1\n2026-01-01T00:01:00Z,2\n";
    const { datasetId, uploadUrl } = await uploadPresigned(user, original);
    const first = await waitForIngest(user, datasetId);
    expect(first.status).toBe("ready");
    const replacement = original.replace(",1\n", ",9\n");
    const second = await call("PUT", uploadUrl, { rawBody: replacement });
    expect(second.status).toBe(200);
    const key = Dataset.sourceKeyOf(user.tenantId, datasetId);
    const again = await withActor({ type: "system", tenantId: user.tenantId }, () =>
      Dataset.ingest({ tenantId: user.tenantId, datasetId, key }),
    );
    expect(again).toBe("ignored");
    const after = (await getDataset(user, datasetId)).body;
    expect(after.column_stats).toEqual(first.column_stats);
    expect(after.updated_at).toBe(first.updated_at);
  });

  it("lets exactly one of several concurrent ingests of the same upload win", async () => {
    const file = "timestamp,flow\n2026-01-01T00:00:00Z,1\n2026-01-01T00:01:00Z,2\n";
    const { datasetId } = await uploadPresigned(user, file);
    const attempts = await Promise.allSettled(
      [1, 2, 3].map(() =>
        withActor({ type: "system", tenantId: user.tenantId }, () => Dataset.ingest({ tenantId: user.tenantId, datasetId })),
      ),
    );
    const ingested = attempts.filter((attempt) => attempt.status === "fulfilled" && attempt.value === "ingested");
    expect(ingested.length).toBeLessThanOrEqual(1);
    const dataset = await waitForIngest(user, datasetId);
    expect(dataset).toMatchObject({ status: "ready", row_count: 2 });
    const keys = await keysUnder(`tenants/${user.tenantId}/datasets/${datasetId}/columnar/`);
    const attemptsWithData = new Set(keys.map((key) => key.split("/")[5]));
    expect(attemptsWithData.size).toBe(1);
  });
});

describe("plan limits", () => {
  it("answers 403 for one byte over the plan's size on both paths", async () => {
    const user = await createUser();
    const limit = PLANS.free.max_dataset_size_bytes;
    const presigned = await call("POST", "/datasets/uploads", { token: user.token, body: { name: "big", equipment_type: "boiler", file_size_bytes: limit + 1 } });
    expect(presigned.status).toBe(403);
    expect(presigned.body.code).toBe("plan.dataset_size_limit_reached");
    const atLimit = await call("POST", "/datasets/uploads", { token: user.token, body: { name: "fits", equipment_type: "boiler", file_size_bytes: limit } });
    expect(atLimit.status).toBe(201);
    const multipart = await uploadMultipart(user, new Uint8Array(limit + 1).fill(49));
    expect(multipart.status).toBe(403);
    expect(multipart.body.code).toBe("plan.dataset_size_limit_reached");
  });

  it("answers 413 for one byte over the direct upload cap, whatever the plan", async () => {
    // Checked in core: a 100 MB multipart body through HTTP would take most of this suite's time budget.
    const user = await createUser({ role: "operator" });
    await withActor({ type: "system" }, () => Billing.setPlan({ tenant_id: user.tenantId, tier: "enterprise" }));
    const actor = { type: "user" as const, userId: user.userId, username: user.username, tenantId: user.tenantId, role: "operator" as const, superadmin: false, sessionId: "test" };
    const upload = withActor(actor, () =>
      Dataset.upload({ name: "huge", equipment_type: "pump", file: new Uint8Array(MAX_DIRECT_UPLOAD_BYTES + 1) }),
    );
    await expect(upload).rejects.toMatchObject({ kind: "too_large", code: "dataset.file_too_large" });
    expect(await datasetIds(user)).toEqual([]);
  });

  it("answers 413 over HTTP from the announced length of a body beyond the direct upload cap", async () => {
    const user = await createUser();
    // Announces 200 MB but sends only a few bytes: the server must answer from the header alone.
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = http.request(
        `${baseUrl}/api/v1/datasets`,
        {
          method: "POST",
          headers: {
            ...authHeader(user),
            "content-type": "multipart/form-data; boundary=x",
            "content-length": String(MAX_DIRECT_UPLOAD_BYTES * 2),
          },
        },
        (response) => {
          let text = "";
          response.on("data", (chunk) => (text += chunk));
          response.on("end", () => {
            resolve({ status: response.statusCode ?? 0, body: text });
            request.destroy();
          });
        },
      );
      request.on("error", reject);
      request.write("--x\r\n");
    });
    expect(status).toBe(413);
    expect(JSON.parse(body).code).toBe("request.too_large");
  });

  it("answers 403 for a dataset beyond the plan's count", async () => {
    const user = await createUser();
    const small = "a,b\n1,2\n";
    for (let i = 0; i < PLANS.free.max_datasets; i++) {
      expect((await uploadMultipart(user, small, { name: `d${i}` })).status).toBe(201);
    }
    const response = await uploadMultipart(user, small, { name: "one too many" });
    expect(response.status).toBe(403);
    expect(response.body.code).toBe("plan.dataset_limit_reached");
    const viaUrl = await call("POST", "/datasets/uploads", { token: user.token, body: { name: "one too many", equipment_type: "pump", file_size_bytes: 10 } });
    expect(viaUrl.status).toBe(403);
  });
});
