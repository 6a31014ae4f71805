/**
 * Training-readiness checks over the statistics the ingest gathered from every
 * row. Issues are worded for people, e.g.
 * "Column 'supply_temp': mixed types detected (numeric: 85000, string: 1400)".
 */
import type { Profile } from "./analyze";

/** Fewer rows than this cannot make even a handful of training windows. */
export const MIN_TRAINING_ROWS = 10;

function percent(part: number, whole: number): string {
  return `${((100 * part) / whole).toFixed(2)}%`;
}

/** Every problem that keeps the dataset from training; empty when it is valid. */
export function issuesOf(profile: Profile): string[] {
  const issues: string[] = [];
  const rows = profile.row_count;
  if (rows < MIN_TRAINING_ROWS) {
    issues.push(`Dataset has ${rows} row${rows === 1 ? "" : "s"}; at least ${MIN_TRAINING_ROWS} are needed for training`);
  }
  if (profile.ragged_rows > 0) {
    issues.push(
      `${profile.ragged_rows} row${profile.ragged_rows === 1 ? " has" : "s have"} a different number of fields than the header (first at row ${profile.first_ragged_row})`,
    );
  }
  let numericColumns = 0;
  for (const name of profile.columns) {
    if (name === profile.timestamp_column) {
      if (profile.invalid_timestamps > 0) {
        issues.push(`Column '${name}': ${profile.invalid_timestamps} values are not valid timestamps`);
      }
      if (profile.out_of_order_timestamps > 0) {
        issues.push(`Column '${name}': ${profile.out_of_order_timestamps} timestamps are earlier than the row before`);
      }
      continue;
    }
    const stats = profile.column_stats[name];
    if (!stats) continue;
    if (stats.count_numeric > 0 && stats.count_non_numeric > 0) {
      issues.push(`Column '${name}': mixed types detected (numeric: ${stats.count_numeric}, string: ${stats.count_non_numeric})`);
    }
    if (stats.count_missing > 0) {
      issues.push(`Column '${name}': ${stats.count_missing} missing values (${percent(stats.count_missing, rows)})`);
    }
    if (stats.count_numeric > 0 && stats.count_non_numeric === 0) numericColumns++;
  }
  const sensors = numericColumns - (profile.label_column ? 1 : 0);
  if (sensors < 1) issues.push("No numeric sensor columns found");
  return issues;
}
