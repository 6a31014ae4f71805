/**
 * SQLite files through better-sqlite3, opened read-only, from the one import
 * folder the platform is configured with (never any other path on the
 * server). A statement that writes is refused by SQLite itself as well.
 */
import { realpathSync } from "node:fs";
import path from "node:path";
import { setImmediate } from "node:timers/promises";
import Database from "better-sqlite3";
import { Config } from "../../config";
import { DomainError, invalid } from "../../error";
import type { SourceRows, Value } from "../rows";
import { timedOut, type OpenOptions } from "./common";

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

export async function openSqlite(connectionString: string, query: string, options: OpenOptions): Promise<SourceRows> {
  const file = fileOf(connectionString);
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
