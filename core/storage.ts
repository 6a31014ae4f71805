/**
 * Object storage (S3 on AWS, s3rver locally). Keys are always tenant-prefixed:
 * `tenants/<tenant>/...`, except `uploads/` where presigned uploads land.
 */
import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketCorsCommand,
  PutObjectCommand,
  NotFound,
  NoSuchKey,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { Upload } from "@aws-sdk/lib-storage";
import type { Readable } from "node:stream";
import { s3 } from "./aws";
import { Config } from "./config";

export async function putObject(key: string, body: Uint8Array | string | Readable, contentType?: string): Promise<void> {
  const upload = new Upload({
    client: s3(),
    params: { Bucket: Config.bucketName(), Key: key, Body: body, ContentType: contentType },
  });
  await upload.done();
}

export async function getObjectBytes(key: string): Promise<Uint8Array> {
  const result = await s3().send(new GetObjectCommand({ Bucket: Config.bucketName(), Key: key }));
  return result.Body!.transformToByteArray();
}

export async function getObjectStream(key: string, range?: string): Promise<Readable> {
  const result = await s3().send(new GetObjectCommand({ Bucket: Config.bucketName(), Key: key, Range: range }));
  return result.Body as Readable;
}

/** Size in bytes, or undefined when the object does not exist. */
export async function headObject(key: string): Promise<{ size: number; etag?: string } | undefined> {
  try {
    const head = await s3().send(new HeadObjectCommand({ Bucket: Config.bucketName(), Key: key }));
    return { size: head.ContentLength ?? 0, etag: head.ETag };
  } catch (error) {
    if (error instanceof NotFound || error instanceof NoSuchKey || (error as { name?: string }).name === "NotFound") {
      return undefined;
    }
    throw error;
  }
}

/** Every key under `prefix` (after `startAfter`, when given), in key order. */
export async function* listKeys(prefix: string, startAfter?: string): AsyncGenerator<string> {
  let token: string | undefined;
  do {
    const page = await s3().send(
      new ListObjectsV2Command({ Bucket: Config.bucketName(), Prefix: prefix, ContinuationToken: token, StartAfter: token ? undefined : startAfter }),
    );
    for (const item of page.Contents ?? []) if (item.Key) yield item.Key;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

export async function deletePrefix(prefix: string): Promise<number> {
  let deleted = 0;
  let token: string | undefined;
  do {
    const page = await s3().send(
      new ListObjectsV2Command({ Bucket: Config.bucketName(), Prefix: prefix, ContinuationToken: token }),
    );
    const keys = (page.Contents ?? []).flatMap((item) => (item.Key ? [{ Key: item.Key }] : []));
    if (keys.length > 0) {
      await s3().send(new DeleteObjectsCommand({ Bucket: Config.bucketName(), Delete: { Objects: keys } }));
      deleted += keys.length;
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return deleted;
}

export async function deleteObject(key: string): Promise<void> {
  await s3().send(new DeleteObjectsCommand({ Bucket: Config.bucketName(), Delete: { Objects: [{ Key: key }] } }));
}

/** A time-limited URL the client PUTs the object to, with a fixed length. */
export function presignPut(key: string, expiresInSeconds: number, contentLength?: number): Promise<string> {
  return getSignedUrl(
    s3(),
    new PutObjectCommand({ Bucket: Config.bucketName(), Key: key, ContentLength: contentLength }),
    { expiresIn: expiresInSeconds },
  );
}

export function presignGet(key: string, expiresInSeconds: number, fileName?: string): Promise<string> {
  return getSignedUrl(
    s3(),
    new GetObjectCommand({
      Bucket: Config.bucketName(),
      Key: key,
      ResponseContentDisposition: fileName ? `attachment; filename="${fileName}"` : undefined,
    }),
    { expiresIn: expiresInSeconds },
  );
}

/** Creates the bucket if missing (local runtime and tests; on AWS the stack owns it). */
/**
 * The local runtime's bucket, with the CORS rule stacks/Storage.ts gives the
 * AWS bucket: the dashboard PUTs large files straight to presigned URLs.
 */
export async function ensureBucket(): Promise<void> {
  try {
    await s3().send(new HeadBucketCommand({ Bucket: Config.bucketName() }));
  } catch {
    await s3().send(new CreateBucketCommand({ Bucket: Config.bucketName() }));
  }
  await s3().send(
    new PutBucketCorsCommand({
      Bucket: Config.bucketName(),
      CORSConfiguration: {
        CORSRules: [{ AllowedMethods: ["PUT", "GET", "HEAD"], AllowedOrigins: ["*"], AllowedHeaders: ["*"], ExposeHeaders: ["ETag"], MaxAgeSeconds: 3600 }],
      },
    }),
  );
}
