/**
 * Small helpers for the dataset tests: multipart and presigned uploads over
 * real HTTP, and bounded polling until an ingest settles.
 */
import { call, type Reply } from "../support/http";
import type { TestUser } from "../support/users";

export interface UploadFields {
  name?: string;
  equipment_type?: string;
  location?: string;
  unit?: string;
}

/** POST /datasets as multipart; `file` undefined sends no file part. */
export async function uploadMultipart(
  user: TestUser,
  file: string | Uint8Array | undefined,
  fields: UploadFields = {},
  fileName = "data.csv",
): Promise<Reply> {
  const form = new FormData();
  form.set("name", fields.name ?? "Test dataset");
  form.set("equipment_type", fields.equipment_type ?? "air_handler");
  if (fields.location) form.set("location", fields.location);
  if (fields.unit) form.set("unit", fields.unit);
  if (file !== undefined) {
    const bytes = typeof file === "string" ? new TextEncoder().encode(file) : file;
    form.set("file", new Blob([bytes], { type: "text/csv" }), fileName);
  }
  return call("POST", "/datasets", { token: user.token, rawBody: form });
}

/** POST /datasets/uploads then PUT the bytes to the presigned URL. */
export async function uploadPresigned(
  user: TestUser,
  file: string | Uint8Array,
  fields: UploadFields = {},
): Promise<{ datasetId: string; uploadUrl: string; put: Reply }> {
  const bytes = typeof file === "string" ? new TextEncoder().encode(file) : file;
  const response = await call("POST", "/datasets/uploads", {
    token: user.token,
    body: {
      name: fields.name ?? "Presigned dataset",
      equipment_type: fields.equipment_type ?? "air_handler",
      file_size_bytes: bytes.byteLength,
    },
  });
  if (response.status !== 201) throw new Error(`POST /datasets/uploads answered ${response.status}: ${JSON.stringify(response.body)}`);
  const body = response.body as { dataset_id: string; upload_url: string };
  const put = await call("PUT", body.upload_url, { rawBody: bytes });
  return { datasetId: body.dataset_id, uploadUrl: body.upload_url, put };
}

export function getDataset(user: TestUser, id: string): Promise<Reply> {
  return call("GET", `/datasets/${id}`, { token: user.token });
}

/** Polls GET /datasets/:id until the status leaves pending_upload/processing (bounded). */
export async function waitForIngest(user: TestUser, id: string, timeoutMs = 20_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  let delay = 50;
  for (;;) {
    const { status, body } = await getDataset(user, id);
    if (status !== 200) throw new Error(`GET /datasets/${id} answered ${status}`);
    if (body.status !== "pending_upload" && body.status !== "processing") return body;
    if (Date.now() > deadline) throw new Error(`dataset ${id} still ${body.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(500, delay * 2);
  }
}

/** Straightforward two-pass statistics for cross-checking (sample std). */
export function referenceStats(values: number[]): { min: number; max: number; mean: number; std: number } {
  const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
  const variance = values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (values.length - 1);
  return { min: Math.min(...values), max: Math.max(...values), mean, std: Math.sqrt(variance) };
}
