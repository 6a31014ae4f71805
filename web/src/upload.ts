/**
 * Dataset uploads with real progress: small files as multipart to the API,
 * large ones straight to S3 with the presigned PUT the API hands out (the
 * file never passes through a Lambda). XMLHttpRequest, because fetch reports
 * no upload progress.
 */
import { api, unwrap } from "./api/client";
import { ApiError } from "./api/errors";
import { sessionState } from "./api/session";
import type { components } from "./api/schema";

/** Above this, the presigned S3 PUT: API Gateway takes at most 10 MB per request on AWS. */
export const MULTIPART_LIMIT_BYTES = 8 * 1024 * 1024;

export type UploadFields = { name: string; equipment_type: components["schemas"]["DatasetUploadRequest"]["equipment_type"]; location?: string; unit?: string };

function send(method: string, url: string, body: XMLHttpRequestBodyInit, headers: Record<string, string>, onProgress: (fraction: number) => void): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open(method, url);
    // The browser sets Content-Length itself (and refuses a script that tries).
    for (const [name, value] of Object.entries(headers)) if (name.toLowerCase() !== "content-length") request.setRequestHeader(name, value);
    request.upload.onprogress = (event) => event.lengthComputable && onProgress(event.loaded / event.total);
    request.onload = () => resolve({ status: request.status, text: request.responseText });
    request.onerror = () => reject(new TypeError("network error"));
    request.send(body);
  });
}

function apiError(status: number, text: string): ApiError {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return ApiError.fromBody(status, body, `Upload failed (${status})`);
}

/** Uploads `file` and answers the new dataset's id; `onProgress` gets 0..1 as bytes leave the browser. */
export async function uploadDataset(file: File, fields: UploadFields, onProgress: (fraction: number) => void): Promise<string> {
  if (file.size <= MULTIPART_LIMIT_BYTES) {
    const form = new FormData();
    form.set("file", file);
    for (const [key, value] of Object.entries(fields)) if (value) form.set(key, value);
    const token = sessionState().token;
    const answer = await send("POST", "/api/v1/datasets", form, token ? { Authorization: `Bearer ${token}` } : {}, onProgress);
    if (answer.status !== 201) throw apiError(answer.status, answer.text);
    onProgress(1);
    return (JSON.parse(answer.text) as { id: string }).id;
  }
  const upload = await unwrap(api.POST("/api/v1/datasets/uploads", { body: { ...fields, file_size_bytes: file.size } }));
  const answer = await send(upload.method, upload.upload_url, file, upload.headers, onProgress);
  if (answer.status < 200 || answer.status >= 300) {
    throw new ApiError(answer.status, "dataset.upload_failed", `The file could not be stored (S3 answered ${answer.status}). Try again.`);
  }
  onProgress(1);
  return upload.dataset_id;
}
