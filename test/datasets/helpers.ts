/**
 * Small helpers for the dataset tests: multipart and presigned uploads over
 * real HTTP, and bounded polling until an ingest settles.
 */
import { inject } from "vitest";
import { authHeader, type TestUser } from "../support/users";

export const baseUrl = inject("baseUrl");
export const api = (path: string) => `${baseUrl}/api/v1${path}`;

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
): Promise<Response> {
  const form = new FormData();
  form.set("name", fields.name ?? "Test dataset");
  form.set("equipment_type", fields.equipment_type ?? "air_handler");
  if (fields.location) form.set("location", fields.location);
  if (fields.unit) form.set("unit", fields.unit);
  if (file !== undefined) {
    const bytes = typeof file === "string" ? new TextEncoder().encode(file) : file;
    form.set("file", new Blob([bytes], { type: "text/csv" }), fileName);
  }
  return fetch(api("/datasets"), { method: "POST", headers: authHeader(user), body: form });
}

/** POST /datasets/uploads then PUT the bytes to the presigned URL. */
export async function uploadPresigned(
  user: TestUser,
  file: string | Uint8Array,
  fields: UploadFields = {},
): Promise<{ datasetId: string; uploadUrl: string; put: Response }> {
  const bytes = typeof file === "string" ? new TextEncoder().encode(file) : file;
  const response = await fetch(api("/datasets/uploads"), {
    method: "POST",
    headers: { ...authHeader(user), "content-type": "application/json" },
    body: JSON.stringify({
      name: fields.name ?? "Presigned dataset",
      equipment_type: fields.equipment_type ?? "air_handler",
      file_size_bytes: bytes.byteLength,
    }),
  });
  if (response.status !== 201) throw new Error(`POST /datasets/uploads answered ${response.status}: ${await response.text()}`);
  const body = (await response.json()) as { dataset_id: string; upload_url: string };
  const put = await fetch(body.upload_url, { method: "PUT", body: bytes });
  return { datasetId: body.dataset_id, uploadUrl: body.upload_url, put };
}

export async function getDataset(user: TestUser, id: string): Promise<{ status: number; body: any }> {
  const response = await fetch(api(`/datasets/${id}`), { headers: authHeader(user) });
  return { status: response.status, body: await json(response) };
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

/** The JSON body of a response, untyped (tests assert its shape). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function json(response: Response): Promise<any> {
  return response.json();
}
