import { describe, expect, it } from "vitest";
import { headObject, putObject } from "../../core/storage";
import { handler } from "../../functions/jobs/retention";
import { scheduledAt } from "../support/events";
import { call } from "../support/http";
import { createUser } from "../support/users";

const DAY = 24 * 60 * 60 * 1000;


describe("retention schedule", () => {
  it("keeps fresh raw uploads and deletes those past the retention period", async () => {
    const key = `uploads/retention-test/${Date.now()}/source.csv`;
    await putObject(key, "timestamp,value\n2026-01-01T00:00:00Z,1\n");

    const today = await handler(scheduledAt(new Date()));
    expect(await headObject(key)).toBeDefined();
    expect(today.dry_run).toBe(false);
    expect(today).toMatchObject({ stuck_runs_requeued: expect.any(Number), queued_runs_started: expect.any(Number) });

    const nextWeek = await handler(scheduledAt(new Date(Date.now() + 8 * DAY)));
    expect(nextWeek.uploads_deleted).toBeGreaterThanOrEqual(1);
    expect(await headObject(key)).toBeUndefined();
  });

  it("deletes a dataset whose upload link expired a day ago without the file arriving", async () => {
    const user = await createUser();
    const created = await call("POST", "/datasets/uploads", { token: user.token, body: { name: "never uploaded", equipment_type: "pump", file_size_bytes: 1000 } });
    expect(created.status).toBe(201);
    const { dataset_id } = created.body as { dataset_id: string };

    await handler(scheduledAt(new Date(Date.now() + 2 * 60 * 60 * 1000)));
    expect((await call("GET", `/datasets/${dataset_id}`, { token: user.token })).status).toBe(200);

    const report = await handler(scheduledAt(new Date(Date.now() + 2 * DAY)));
    expect(report.abandoned_datasets_deleted).toBeGreaterThanOrEqual(1);
    expect((await call("GET", `/datasets/${dataset_id}`, { token: user.token })).status).toBe(404);
  });
});
