import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import mysql from "mysql2/promise";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { startInfluxDb1, startMariaDb, startPostgres, type DatabaseServer } from "./servers";

// The real servers of test/support/servers.ts: each starts, takes its user's
// password (and only that), answers a query, and is gone after stop(), or when
// the test process that started it exits or dies without stop().

const START = 60_000;

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function until(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return condition();
}

function influxAuth(server: DatabaseServer, password = server.password): string {
  return `Basic ${Buffer.from(`${server.user}:${password}`).toString("base64")}`;
}

describe("test/support/servers", () => {
  it("starts PostgreSQL, where its user logs in with its password and owns its database", { timeout: START }, async () => {
    const server = await startPostgres();
    try {
      expect(server.url).toBe(`postgresql://${server.user}:${server.password}@127.0.0.1:${server.port}/${server.database}`);
      const client = new pg.Client({ connectionString: server.url });
      await client.connect();
      try {
        const { rows } = await client.query("SELECT current_user AS who, current_database() AS db, 1 + 1 AS two");
        expect(rows).toEqual([{ who: server.user, db: server.database, two: 2 }]);
        await client.query("CREATE TABLE readings (t timestamptz PRIMARY KEY, v double precision)");
      } finally {
        await client.end();
      }
      const wrong = new pg.Client({ ...server, password: `${server.password}x` });
      await expect(wrong.connect()).rejects.toThrow(/password authentication failed/);
    } finally {
      await server.stop();
    }
    expect(await isListening(server.port)).toBe(false);
  });

  it("starts MariaDB, where its user logs in with its password and has its database", { timeout: START }, async () => {
    const server = await startMariaDb();
    try {
      expect(server.url).toBe(`mysql://${server.user}:${server.password}@127.0.0.1:${server.port}/${server.database}`);
      const connection = await mysql.createConnection(server.url);
      try {
        const [rows] = await connection.query("SELECT CURRENT_USER() AS who, DATABASE() AS db, 1 + 1 AS two");
        expect(rows).toEqual([{ who: `${server.user}@%`, db: server.database, two: 2 }]);
        await connection.query("CREATE TABLE readings (t DATETIME(3) PRIMARY KEY, v DOUBLE)");
      } finally {
        await connection.end();
      }
      await expect(mysql.createConnection({ ...server, password: `${server.password}x` })).rejects.toThrow(/Access denied/);
    } finally {
      await server.stop();
    }
    expect(await isListening(server.port)).toBe(false);
  });

  it("starts InfluxDB 1.x with auth on, its admin user and its database", { timeout: START }, async () => {
    const server = await startInfluxDb1();
    try {
      expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
      const query = (authorization?: string) =>
        fetch(`${server.url}/query?${new URLSearchParams({ q: "SHOW DATABASES" })}`, { headers: authorization ? { authorization } : {} });
      const shown = await query(influxAuth(server));
      expect(shown.status).toBe(200);
      const body = (await shown.json()) as { results: { series?: { values: string[][] }[] }[] };
      expect(body.results[0]?.series?.[0]?.values.flat()).toContain(server.database);
      expect((await query()).status).toBe(401);
      expect((await query(influxAuth(server, `${server.password}x`))).status).toBe(401);
    } finally {
      await server.stop();
    }
    expect(await isListening(server.port)).toBe(false);
  });

  describe("a test process that ends without stop()", () => {
    /**
     * Runs a Node process that starts PostgreSQL and InfluxDB with `tmp` as its
     * TMPDIR, prints their ports, then exits ("exit") or waits to be ended ("wait").
     */
    async function child(tmp: string, ending: "exit" | "wait") {
      const script = path.join(tmp, "child.mts");
      writeFileSync(
        script,
        [
          `import { startPostgres, startInfluxDb1 } from ${JSON.stringify(pathToFileURL(path.resolve("test/support/servers.ts")).href)};`,
          "const servers = [await startPostgres(), await startInfluxDb1()];",
          "console.log(JSON.stringify(servers.map((server) => server.port)));",
          ending === "exit" ? "process.exit(0);" : "setInterval(() => {}, 1000);",
        ].join("\n"),
      );
      const process_ = spawn(process.execPath, ["--import", "tsx", script], {
        cwd: path.resolve("."),
        env: { ...process.env, TMPDIR: tmp },
        stdio: ["ignore", "pipe", "inherit"],
      });
      const exited = new Promise<void>((resolve) => process_.once("exit", () => resolve()));
      const ports = await new Promise<number[]>((resolve, reject) => {
        let out = "";
        process_.stdout.on("data", (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes("\n")) resolve(JSON.parse(out.split("\n")[0]!) as number[]);
        });
        void exited.then(() => reject(new Error(`child exited (${process_.exitCode}) before its servers started`)));
      });
      expect(ports).toHaveLength(2);
      return { ports, process: process_, exited };
    }

    /** A TMPDIR of the test's own, which `nobody` (the servers' account under root) can reach. */
    function tempDir(): string {
      const tmp = mkdtempSync(path.join(os.tmpdir(), "flint-servers-test-"));
      chmodSync(tmp, 0o755);
      return tmp;
    }

    const serverDirs = (tmp: string) => readdirSync(tmp).filter((name) => name.startsWith("flint-"));

    it("ends its servers and removes their dirs when it exits", { timeout: START * 2 }, async () => {
      const tmp = tempDir();
      try {
        const { ports, exited } = await child(tmp, "exit");
        await exited;
        for (const port of ports) expect(await isListening(port)).toBe(false);
        expect(serverDirs(tmp)).toEqual([]);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });

    it("ends its servers and removes their dirs when SIGTERM ends it (as vitest ends its workers)", { timeout: START * 2 }, async () => {
      const tmp = tempDir();
      try {
        const { ports, process: process_, exited } = await child(tmp, "wait");
        process_.kill("SIGTERM");
        await exited;
        expect(process_.signalCode).toBe("SIGTERM");
        for (const port of ports) expect(await isListening(port)).toBe(false);
        expect(serverDirs(tmp)).toEqual([]);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });

    it("ends its servers when it is killed outright (parent-death signal); the next start removes their dirs", { timeout: START * 3 }, async () => {
      const tmp = tempDir();
      try {
        const killed = await child(tmp, "wait");
        for (const port of killed.ports) expect(await isListening(port)).toBe(true);
        killed.process.kill("SIGKILL");
        await killed.exited;
        for (const port of killed.ports) expect(await until(async () => !(await isListening(port)), 10_000)).toBe(true);
        expect(serverDirs(tmp)).toHaveLength(2);
        const next = await child(tmp, "exit");
        await next.exited;
        expect(serverDirs(tmp)).toEqual([]);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });
  });
});
