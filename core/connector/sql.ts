/**
 * The one statement an SQL import may run: a single SELECT (or WITH ...
 * SELECT). Checked before anything is sent, and again by the database where
 * it can (a read-only transaction).
 */
import { invalid } from "../error";

/** The statement without comments, string literals blanked, for keyword checks only. */
function skeleton(query: string): string {
  return query
    .replace(/'(?:[^']|'')*'/g, "''")
    .replace(/"(?:[^"]|"")*"/g, '""')
    .replace(/`[^`]*`/g, "``")
    .replace(/--[^\n]*/g, " ")
    .replace(/\/\*[\s\S]*?\*\//g, " ");
}

/** Writes and DDL anywhere in the statement (a data-modifying CTE, SELECT INTO, INTO OUTFILE). */
const WRITES = /\b(insert\s+into|update\s+[\w."`]+\s+set|delete\s+from|merge\s+into|replace\s+into|into|truncate|drop|alter|create|grant|revoke|for\s+update|for\s+share)\b/i;

/**
 * Returns the query without a trailing semicolon.
 * @throws connector.not_select (400) for anything but one read-only SELECT
 */
export function singleSelect(query: string): string {
  const trimmed = query.trim().replace(/;\s*$/, "");
  const shape = skeleton(trimmed).trim();
  const refuse = (reason: string) => invalid("connector.not_select", `The query must be a single SELECT statement: ${reason}`, { reason });
  if (shape.includes(";")) throw refuse("only one statement may be given");
  if (!/^\(*\s*(select|with)\b/i.test(shape)) throw refuse("it must start with SELECT or WITH");
  const write = WRITES.exec(shape);
  if (write) throw refuse(`it contains ${write[1]!.replace(/\s+/g, " ").toUpperCase()}`);
  return trimmed;
}

/** The query limited to its first `rows` rows, for the probe. */
export function limited(query: string, rows: number): string {
  return `SELECT * FROM (${query}) AS flint_probe LIMIT ${rows}`;
}
