/**
 * Real database servers for the database connectors' tests and benchmarks:
 * each call starts a fresh, throwaway instance from Debian's packages (see
 * dev/setup.sh) in a temp dir, listening on 127.0.0.1 on a free port, with a
 * user (password auth, never trust) and a database of its own, and resolves
 * once that user can connect. `stop()` ends the server and removes its dir.
 *
 * As root (CI), the servers run as `nobody` (PostgreSQL refuses root) through
 * `setpriv`, whose parent-death signal also ends a server whose test process
 * was killed outright. A test process that exits, or is ended by SIGTERM (as
 * vitest ends its workers), SIGINT or SIGHUP, without `stop()` ends its servers
 * and removes their dirs on its way out; the dirs of one that was killed
 * outright go at the next start.
 *
 * @example
 * const server = await startPostgres();                 // or startMariaDb(), startInfluxDb1()
 * const client = new pg.Client({ connectionString: server.url });
 * try { ... } finally { await client.end(); await server.stop(); }
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { accessSync, chownSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import mysql from "mysql2/promise";
import pg from "pg";

export interface DatabaseServer {
  host: "127.0.0.1";
  port: number;
  /** A user with a password: the owner of `database` (PostgreSQL), all privileges on it (MariaDB), an admin (InfluxDB). */
  user: string;
  password: string;
  database: string;
  /** `postgresql://user:pass@127.0.0.1:port/db`, `mysql://user:pass@127.0.0.1:port/db`, `http://127.0.0.1:port` (InfluxDB). */
  url: string;
  /** Ends the server (its port is closed once this resolves) and removes its temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

export interface ServerOptions {
  /** Letters, digits and `_`; "flint" unless given. */
  user?: string;
  /** Letters, digits, `_` and `-`; random unless given. */
  password?: string;
  /** Letters, digits and `_`; "flint_test" unless given. */
  database?: string;
  /** How long the server may take to accept connections; 60 s unless given. */
  startTimeoutMs?: number;
}

/** PostgreSQL (Debian's server, 15 here) with `user` owning `database`. */
export async function startPostgres(options: ServerOptions = {}): Promise<DatabaseServer> {
  const { user, password, database, startTimeoutMs } = credentials(options);
  const bin = postgresBinDir();
  const dir = makeServerDir("pg");
  try {
    const superPassword = randomPassword();
    writeOwned(path.join(dir, "pwfile"), `${superPassword}\n`);
    await run("initdb", path.join(bin, "initdb"), [
      "-D", path.join(dir, "data"), "-U", "postgres", `--pwfile=${path.join(dir, "pwfile")}`,
      "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions",
    ], dir, startTimeoutMs);
    const server = await withFreePorts(async (port) => {
      const instance = launch("postgres", path.join(bin, "postgres"), [
        "-D", path.join(dir, "data"), "-p", String(port), "-c", "listen_addresses=127.0.0.1", "-c", `unix_socket_directories=${dir}`,
        "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "shared_buffers=16MB",
        "-c", "max_connections=50", "-c", "logging_collector=off",
      ], dir, { stop: "SIGINT", emergency: "SIGQUIT" });
      const superuser = { host: "127.0.0.1", port, user: "postgres", password: superPassword, database: "postgres", connectionTimeoutMillis: PROBE_TIMEOUT_MS };
      await untilReady(instance, startTimeoutMs, async () => {
        const client = new pg.Client(superuser);
        client.on("error", () => {});
        await client.connect();
        await client.end();
      });
      try {
        const client = new pg.Client(superuser);
        client.on("error", () => {});
        await client.connect();
        try {
          await client.query(`CREATE ROLE ${pg.escapeIdentifier(user)} LOGIN PASSWORD ${pg.escapeLiteral(password)}`);
          await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)} OWNER ${pg.escapeIdentifier(user)}`);
        } finally {
          await client.end();
        }
      } catch (error) {
        await instance.kill();
        throw error;
      }
      return { instance, port };
    });
    const url = `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${server.port}/${encodeURIComponent(database)}`;
    return { host: "127.0.0.1", port: server.port, user, password, database, url, stop: () => server.instance.stop() };
  } catch (error) {
    removeDir(dir);
    throw error;
  }
}

/** MariaDB (Debian's mariadb-server, 10.11 here) with `user`@`%` holding all privileges on `database`. */
export async function startMariaDb(options: ServerOptions = {}): Promise<DatabaseServer> {
  const { user, password, database, startTimeoutMs } = credentials(options);
  const mariadbd = findBinary(["mariadbd", "mysqld"], "MariaDB server (mariadbd)", "mariadb-server");
  const installDb = findBinary(["mariadb-install-db", "mysql_install_db"], "mariadb-install-db", "mariadb-server");
  const dir = makeServerDir("mariadb");
  // As root, mariadbd wants to be told the account it runs as (setpriv has already switched to it).
  const runUser = unprivileged() ? [`--user=${unprivileged()!.name}`] : [];
  // Small buffers, no performance schema, no binary log, no durability: a throwaway server that starts in about a second.
  const settings = [
    "--skip-name-resolve", "--skip-performance-schema", "--skip-log-bin", "--innodb-buffer-pool-size=16M",
    "--innodb-log-file-size=8M", "--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0", "--key-buffer-size=1M",
  ];
  try {
    await run("mariadb-install-db", installDb, [
      "--no-defaults", `--datadir=${path.join(dir, "data")}`, ...runUser, "--skip-test-db",
      "--auth-root-authentication-method=socket", ...settings,
    ], dir, startTimeoutMs);
    // Run by the server itself before it accepts connections, with full privileges; grant tables stay on.
    writeOwned(path.join(dir, "init.sql"), [
      `CREATE USER IF NOT EXISTS '${user}'@'%' IDENTIFIED BY '${password}';`,
      `CREATE DATABASE IF NOT EXISTS \`${database}\`;`,
      `GRANT ALL PRIVILEGES ON \`${database}\`.* TO '${user}'@'%';`,
      "",
    ].join("\n"));
    const server = await withFreePorts(async (port) => {
      const instance = launch("mariadbd", mariadbd, [
        "--no-defaults", ...runUser, `--datadir=${path.join(dir, "data")}`, `--socket=${path.join(dir, "mysqld.sock")}`,
        `--pid-file=${path.join(dir, "mysqld.pid")}`, `--tmpdir=${dir}`, `--port=${port}`, "--bind-address=127.0.0.1",
        `--init-file=${path.join(dir, "init.sql")}`, ...settings,
      ], dir, { stop: "SIGKILL", emergency: "SIGKILL" });
      await untilReady(instance, startTimeoutMs, async () => {
        const connection = await mysql.createConnection({ host: "127.0.0.1", port, user, password, database, connectTimeout: PROBE_TIMEOUT_MS });
        await connection.end();
      });
      return { instance, port };
    });
    const url = `mysql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${server.port}/${encodeURIComponent(database)}`;
    return { host: "127.0.0.1", port: server.port, user, password, database, url, stop: () => server.instance.stop() };
  } catch (error) {
    removeDir(dir);
    throw error;
  }
}

/**
 * InfluxDB 1.x (Debian's influxdb, 1.6 here: the InfluxQL HTTP API) with auth
 * on, `user` an admin made through the HTTP API, and `database` created.
 * Queries go to `${url}/query` with basic auth (or `u`/`p` parameters).
 */
export async function startInfluxDb1(options: ServerOptions = {}): Promise<DatabaseServer> {
  const { user, password, database, startTimeoutMs } = credentials(options);
  const influxd = findBinary(["influxd"], "InfluxDB server (influxd)", "influxdb");
  const dir = makeServerDir("influx");
  try {
    const server = await withFreePorts(async (port, rpcPort) => {
      const config = path.join(dir, "influxdb.conf");
      // The RPC bind address (backup/restore, 8088 by default) gets a free port too, so that no other instance collides.
      writeOwned(config, [
        "reporting-disabled = true",
        `bind-address = "127.0.0.1:${rpcPort}"`,
        "[meta]",
        `  dir = ${JSON.stringify(path.join(dir, "meta"))}`,
        "  logging-enabled = false",
        "[data]",
        `  dir = ${JSON.stringify(path.join(dir, "data"))}`,
        `  wal-dir = ${JSON.stringify(path.join(dir, "wal"))}`,
        "  query-log-enabled = false",
        "[monitor]",
        "  store-enabled = false",
        "[http]",
        "  enabled = true",
        `  bind-address = "127.0.0.1:${port}"`,
        "  auth-enabled = true",
        "  log-enabled = false",
        "[subscriber]",
        "  enabled = false",
        "[continuous_queries]",
        "  enabled = false",
        "",
      ].join("\n"));
      const instance = launch("influxd", influxd, ["run", "-config", config], dir, { stop: "SIGKILL", emergency: "SIGKILL" });
      const base = `http://127.0.0.1:${port}`;
      await untilReady(instance, startTimeoutMs, async () => {
        const ping = await fetch(`${base}/ping`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
        if (ping.status !== 204) throw new Error(`/ping answered ${ping.status}`);
      });
      try {
        // With auth on and no user yet, InfluxDB 1.x takes exactly this statement without credentials.
        await influxQuery(base, `CREATE USER "${user}" WITH PASSWORD '${password}' WITH ALL PRIVILEGES`);
        await influxQuery(base, `CREATE DATABASE "${database}"`, { user, password });
      } catch (error) {
        await instance.kill();
        throw error;
      }
      return { instance, port };
    });
    const url = `http://127.0.0.1:${server.port}`;
    return { host: "127.0.0.1", port: server.port, user, password, database, url, stop: () => server.instance.stop() };
  } catch (error) {
    removeDir(dir);
    throw error;
  }
}

async function influxQuery(base: string, q: string, auth?: { user: string; password: string }): Promise<void> {
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
  if (auth) headers.authorization = `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString("base64")}`;
  const response = await fetch(`${base}/query`, { method: "POST", headers, body: new URLSearchParams({ q }), signal: AbortSignal.timeout(30_000) });
  const text = await response.text();
  if (!response.ok || text.includes('"error"')) throw new Error(`InfluxDB refused ${q.split(" ").slice(0, 2).join(" ")}: ${response.status} ${text}`);
}

// --- Credentials ---------------------------------------------------------------------------------

function credentials(options: ServerOptions) {
  const user = options.user ?? "flint";
  const password = options.password ?? randomPassword();
  const database = options.database ?? "flint_test";
  // Checked so that they can go into SQL, InfluxQL and URLs as they are.
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,31}$/.test(user)) throw new Error(`user name ${JSON.stringify(user)}: letters, digits and _ only`);
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(database)) throw new Error(`database name ${JSON.stringify(database)}: letters, digits and _ only`);
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(password)) throw new Error("password: letters, digits, _ and - only");
  return { user, password, database, startTimeoutMs: options.startTimeoutMs ?? 60_000 };
}

function randomPassword(): string {
  return `pw_${randomBytes(12).toString("hex")}`;
}

// --- Binaries ------------------------------------------------------------------------------------

function missing(what: string, debianPackage: string, where: string): Error {
  return new Error(`${what} not found (${where}): run \`npm run setup\`, which installs Debian's ${debianPackage} package`);
}

/** /usr/lib/postgresql/<version>/bin of the newest installed server. */
function postgresBinDir(): string {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).filter((name) => /^\d+$/.test(name)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const version of versions) {
    const bin = path.join(root, version, "bin");
    if (isExecutable(path.join(bin, "postgres")) && isExecutable(path.join(bin, "initdb"))) return bin;
  }
  throw missing("PostgreSQL server (postgres, initdb)", "postgresql", `looked in ${root}/*/bin`);
}

function findBinary(names: string[], what: string, debianPackage: string): string {
  const dirs = [...(process.env.PATH ?? "").split(":").filter(Boolean), "/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/sbin"];
  for (const name of names) {
    for (const dir of dirs) {
      const file = path.join(dir, name);
      if (isExecutable(file)) return file;
    }
  }
  throw missing(what, debianPackage, `looked for ${names.join(", ")} in PATH and /usr/sbin`);
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

// --- Users and dirs ------------------------------------------------------------------------------

interface Account {
  name: string;
  uid: number;
  gid: number;
}

let nobody: Account | undefined;

/** As root, the account that the servers run as (`nobody`); otherwise undefined: they run as the current user. */
function unprivileged(): Account | undefined {
  if (process.getuid?.() !== 0) return undefined;
  if (!nobody) {
    const line = readFileSync("/etc/passwd", "utf8").split("\n").find((entry) => entry.startsWith("nobody:"));
    const fields = line?.split(":") ?? [];
    if (fields.length < 4) throw new Error("no `nobody` user in /etc/passwd to run the database servers as (they refuse root)");
    nobody = { name: "nobody", uid: Number(fields[2]), gid: Number(fields[3]) };
  }
  return nobody;
}

/** A temp dir owned by the servers' account; under os.tmpdir(), or /tmp when `nobody` could not reach that. */
function makeServerDir(kind: string): string {
  const account = unprivileged();
  let parent = os.tmpdir();
  if (account && !reachableByOthers(parent)) parent = "/tmp";
  removeOrphanedDirs(parent);
  const dir = mkdtempSync(path.join(parent, `flint-${kind}-${process.pid}-`));
  dirs.add(dir);
  installExitHandler();
  if (account) chownSync(dir, account.uid, account.gid);
  return dir;
}

function removeDir(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    // not ours to fail a test or an exit on
  }
  dirs.delete(dir);
}

/** Removes the dirs of servers whose test process died without removing them (its pid is in the name). */
function removeOrphanedDirs(parent: string): void {
  for (const name of readdirSync(parent)) {
    const owner = /^flint-(?:pg|mariadb|influx)-(\d+)-/.exec(name)?.[1];
    if (owner && owner !== String(process.pid) && !existsSync(`/proc/${owner}`)) removeDir(path.join(parent, name));
  }
}

function reachableByOthers(dir: string): boolean {
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    if ((statSync(current).mode & 0o001) === 0) return false;
    if (current === path.dirname(current)) return true;
  }
}

function writeOwned(file: string, content: string): void {
  writeFileSync(file, content, { mode: 0o600 });
  const account = unprivileged();
  if (account) chownSync(file, account.uid, account.gid);
}

// --- Processes -----------------------------------------------------------------------------------

interface Signals {
  /** What stop() sends first (10 s later, SIGKILL). */
  stop: NodeJS.Signals;
  /** What the 'exit' handler and the parent-death signal send. */
  emergency: NodeJS.Signals;
}

interface Instance {
  name: string;
  child: ChildProcess;
  dir: string;
  signals: Signals;
  /** The last lines that the server printed, for errors; after drained(), all of them up to its exit. */
  log(): string;
  drained(): Promise<void>;
  exited: Promise<void>;
  hasExited(): boolean;
  /** Ends the server and forgets it; its dir stays (a failed start tries again in it). */
  kill(): Promise<void>;
  /** kill(), then removes its dir. */
  stop(): Promise<void>;
}

/** Servers still running, and the temp dirs not yet removed: what the 'exit' handler ends and removes. */
const live = new Set<Instance>();
const dirs = new Set<string>();
let exitHandlerInstalled = false;

function installExitHandler(): void {
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  process.on("exit", stopAllNow);
  for (const name of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    const onSignal = () => {
      stopAllNow();
      // Alone, this listener has taken the signal's default (ending the process) away: give it back and raise it again.
      if (process.listenerCount(name) === 1) {
        process.off(name, onSignal);
        process.kill(process.pid, name);
      }
    };
    process.on(name, onSignal);
  }
}

/** The command line that runs `file` as the servers' account and ends it with `signal` when this process dies. */
function command(file: string, args: string[], deathSignal: NodeJS.Signals): [string, string[]] {
  const account = unprivileged();
  const setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].find(isExecutable);
  if (!setpriv) {
    if (account) throw new Error("setpriv (util-linux) is needed to run the database servers as nobody");
    return [file, args];
  }
  const drop = account ? [`--reuid=${account.uid}`, `--regid=${account.gid}`, "--clear-groups"] : [];
  return [setpriv, [...drop, `--pdeathsig=${deathSignal.replace(/^SIG/, "")}`, "--", file, ...args]];
}

function childEnv(dir: string): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", HOME: dir, LC_ALL: "C", LANG: "C", TZ: process.env.TZ ?? "UTC" };
}

function spawnLogged(name: string, file: string, args: string[], dir: string, deathSignal: NodeJS.Signals) {
  const [cmd, cmdArgs] = command(file, args, deathSignal);
  const child = spawn(cmd, cmdArgs, { cwd: dir, env: childEnv(dir), stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-16_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      exitCode = code ?? (signal ? -1 : null);
      resolve();
    });
    child.once("error", (error) => {
      output += `\n${name}: ${error.message}`;
      exitCode = -1;
      resolve();
    });
  });
  // 'close' comes once the pipes are drained too: what an error message waits for (briefly: a server's own child may hold them).
  const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const drained = () => Promise.race([closed, new Promise<void>((resolve) => setTimeout(resolve, 500))]);
  return { child, log: () => output.trim().split("\n").slice(-30).join("\n"), exited, drained, exitCode: () => exitCode };
}

/** Runs a one-shot setup command (initdb, mariadb-install-db) to its end; throws with its output if it fails. */
async function run(name: string, file: string, args: string[], dir: string, timeoutMs: number): Promise<void> {
  const { child, log, exited, drained, exitCode } = spawnLogged(name, file, args, dir, "SIGKILL");
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  await exited;
  clearTimeout(timer);
  if (exitCode() !== 0) {
    await drained();
    throw new Error(`${name} failed (exit ${exitCode()}):\n${log()}`);
  }
}

/** Starts a long-running server; it is ended by stop(), by this process's exit, or by this process's death. */
function launch(name: string, file: string, args: string[], dir: string, signals: Signals): Instance {
  const spawned = spawnLogged(name, file, args, dir, signals.emergency);
  // Neither the server nor its pipes keep the test process alive: a forgotten stop() is the exit handler's.
  spawned.child.unref();
  for (const stream of [spawned.child.stdout, spawned.child.stderr]) (stream as net.Socket | null)?.unref();
  let killing: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  const instance: Instance = {
    name,
    child: spawned.child,
    dir,
    signals,
    log: spawned.log,
    drained: spawned.drained,
    exited: spawned.exited,
    hasExited: () => spawned.exitCode() !== undefined,
    kill: () =>
      (killing ??= (async () => {
        if (!instance.hasExited()) {
          spawned.child.kill(signals.stop);
          const timer = setTimeout(() => spawned.child.kill("SIGKILL"), 10_000);
          await spawned.exited;
          clearTimeout(timer);
        }
        live.delete(instance);
      })()),
    stop: () =>
      (stopping ??= (async () => {
        await instance.kill();
        removeDir(dir);
      })()),
  };
  live.add(instance);
  installExitHandler();
  return instance;
}

/** The 'exit' handler: synchronous, so it signals each server, waits (briefly) until they are gone, and removes the dirs. */
function stopAllNow(): void {
  const instances = [...live];
  for (const instance of instances) signal(instance.child, instance.signals.emergency);
  const deadline = Date.now() + 5_000;
  for (const instance of instances) {
    while (isRunning(instance.child) && Date.now() < deadline) sleepSync(20);
    if (isRunning(instance.child)) signal(instance.child, "SIGKILL");
    while (isRunning(instance.child) && Date.now() < deadline + 2_000) sleepSync(20);
  }
  live.clear();
  for (const dir of [...dirs]) removeDir(dir);
}

function signal(child: ChildProcess, name: NodeJS.Signals): void {
  try {
    if (child.pid) process.kill(child.pid, name);
  } catch {
    // already gone
  }
}

/** Whether the child still runs: a zombie (exited, not yet reaped, as in an 'exit' handler) does not. */
function isRunning(child: ChildProcess): boolean {
  if (!child.pid || child.exitCode !== null || child.signalCode !== null) return false;
  try {
    const stat = readFileSync(`/proc/${child.pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

// --- Ports and readiness -------------------------------------------------------------------------

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

class PortTaken extends Error {}

/** How long one readiness probe may take: something else that holds the port may accept and never answer. */
const PROBE_TIMEOUT_MS = 3_000;

/**
 * Gives `start` two free ports (the server's, and one more for a server that
 * listens on two); when the server could not bind one (taken between the check
 * and the bind by another process), tries again with new ones, up to three times.
 */
async function withFreePorts<T>(start: (port: number, spare: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    let spare = await freePort();
    while (spare === port) spare = await freePort();
    try {
      return await start(port, spare);
    } catch (error) {
      if (!(error instanceof PortTaken) || attempt >= 3) throw error;
    }
  }
}

/** Retries `probe` every 100 ms until it passes; throws (and ends the server) if the server exits or the time runs out. */
async function untilReady(instance: Instance, timeoutMs: number, probe: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    if (instance.hasExited()) {
      await instance.kill();
      await instance.drained();
      const log = instance.log();
      const message = `${instance.name} exited during start:\n${log}`;
      throw /address already in use/i.test(log) ? new PortTaken(message) : new Error(message);
    }
    try {
      // A server that exits while a probe waits ends the wait: the next round reports it.
      const attempt = probe().then(() => true);
      attempt.catch(() => {}); // a probe given up on still settles: not an unhandled rejection
      if (await Promise.race([attempt, instance.exited.then(() => false)])) return;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const log = instance.log();
      await instance.kill();
      throw new Error(`${instance.name} did not accept connections within ${timeoutMs} ms (last: ${String(lastError)}):\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
