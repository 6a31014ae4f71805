/**
 * SQLite files through better-sqlite3, opened read-only: a file uploaded with
 * the request (kept in the bucket under the tenant, copied to a temp file to
 * read), or one in the import folder the platform is configured with (never
 * any other path on the server). A statement that writes is refused by SQLite
 * itself as well.
 */
import { createWriteStream, realpathSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { setImmediate } from "node:timers/promises";
import Database from "better-sqlite3";
import { Config } from "../../config";
import { DomainError, invalid } from "../../error";
import { getObjectStream } from "../../storage";
import type { SourceRows, Value } from "../rows";
import { timedOut, UPLOADED, type OpenOptions } from "./common";

const YIELD_EVERY_ROWS = 1_000;

/** The file a connection string names, inside the import folder. */
function fileOf(connectionString: string): string {
  const folder = Config.sqliteImportDir();
  if (!folder) {
    throw invalid("connector.sqlite_unavailable", "SQLite files can be imported only from the platform's import folder, and none is configured");
  }
  const wanted = path.resolve(folder, connectionString.replace(/^sqlite:(\/\/)?/i, ""));
  let real: string;
  let realFolder: string;
  try {
    realFolder = realpathSync(folder);
    real = realpathSync(wanted);
  } catch {
    throw invalid("connector.sqlite_not_found", "No such SQLite file in the import folder", { file: path.basename(wanted) });
  }
  if (real !== realFolder && !real.startsWith(realFolder + path.sep)) {
    throw invalid("connector.sqlite_not_found", "No such SQLite file in the import folder", { file: path.basename(wanted) });
  }
  return real;
}

/** A local copy of a tenant's uploaded SQLite file, and how to remove it. */
async function localCopy(tenantId: string, connectionString: string): Promise<{ file: string; remove: () => Promise<void> }> {
  const key = connectionString.slice(UPLOADED.length);
  // Only the tenant's own uploads: a key is never taken from outside the tenant's prefix.
  if (!key.startsWith(`tenants/${tenantId}/`) || key.includes("..")) throw invalid("connector.sqlite_not_found", "No such uploaded SQLite file");
  const dir = await mkdtemp(path.join(os.tmpdir(), "flint-sqlite-"));
  const file = path.join(dir, "source.db");
  try {
    await pipeline(await getObjectStream(key), createWriteStream(file));
  } catch {
    await rm(dir, { recursive: true, force: true });
    throw invalid("connector.sqlite_not_found", "The uploaded SQLite file is gone");
  }
  return { file, remove: () => rm(dir, { recursive: true, force: true }) };
}

export async function openSqlite(tenantId: string, connectionString: string, query: string, options: OpenOptions): Promise<SourceRows> {
  if (connectionString.startsWith(UPLOADED)) {
    const copy = await localCopy(tenantId, connectionString);
    try {
      const source = await openSqliteFile(copy.file, query, options);
      return { ...source, rows: removedAfter(source.rows, copy.remove), close: async () => { await source.close(); await copy.remove(); } };
    } catch (error) {
      await copy.remove();
      throw error;
    }
  }
  return openSqliteFile(fileOf(connectionString), query, options);
}

async function* removedAfter(rows: AsyncIterable<Value[]>, remove: () => Promise<void>): AsyncGenerator<Value[]> {
  try {
    yield* rows;
  } finally {
    await remove();
  }
}

/** Reads `query` from the SQLite file at `file` (already checked to be one Flint may read). */
export async function openSqliteFile(file: string, query: string, options: OpenOptions): Promise<SourceRows> {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch {
    throw invalid("connector.sqlite_not_found", "The file is not a SQLite database", { file: path.basename(file) });
  }
  let statement: Database.Statement;
  try {
    statement = db.prepare(query);
  } catch (error) {
    db.close();
    throw invalid("connector.query_failed", `The query failed: ${(error as Error).message}`, { file: path.basename(file) });
  }
  if (!statement.reader || !statement.readonly) {
    db.close();
    throw invalid("connector.not_select", "The query must be a single SELECT statement: SQLite says it does not only read");
  }
  statement.raw(true);
  const columns = statement.columns().map((column) => column.name);
  const deadline = Date.now() + options.statementTimeoutMs;
  let iterator: IterableIterator<unknown[]>;
  try {
    iterator = statement.iterate() as IterableIterator<unknown[]>;
  } catch (error) {
    db.close();
    throw invalid("connector.query_failed", `The query failed: ${(error as Error).message}`);
  }
  const close = async () => {
    iterator.return?.();
    if (db.open) db.close();
  };
  async function* rows(): AsyncGenerator<Value[]> {
    try {
      let count = 0;
      for (const row of iterator) {
        yield row;
        if (++count % YIELD_EVERY_ROWS === 0) {
          if (Date.now() > deadline) throw timedOut(path.basename(file));
          // better-sqlite3 is synchronous: let the rest of the process breathe.
          await setImmediate();
        }
      }
    } catch (error) {
      if (error instanceof DomainError) throw error;
      throw invalid("connector.query_failed", `The query failed: ${(error as Error).message}`);
    } finally {
      await close();
    }
  }
  return { columns, rows: rows(), close };
}
