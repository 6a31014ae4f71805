/**
 * Synthetic sensor CSVs for demos, tests and benchmarks:
 *
 *   npm run gen -- --equipment air_handler --rows 86400 --out ahu.csv [--faults] [--seed 1] [--interval 60]
 */
import { createWriteStream } from "node:fs";
import { finished } from "node:stream/promises";
import { parseArgs } from "node:util";
import { Synthetic } from "../core/synthetic";

const { EQUIPMENT_TYPES } = Synthetic;
type EquipmentType = Synthetic.EquipmentType;

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.stderr.write(
    "usage: npm run gen -- --equipment <type> --rows <n> --out <file.csv> [--faults] [--seed <n>] [--interval <seconds>]\n",
  );
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    equipment: { type: "string", default: "air_handler" },
    rows: { type: "string", default: "86400" },
    out: { type: "string" },
    faults: { type: "boolean", default: false },
    seed: { type: "string", default: "1" },
    interval: { type: "string", default: "60" },
  },
});

const equipment = values.equipment as EquipmentType;
if (!EQUIPMENT_TYPES.includes(equipment)) fail(`--equipment must be one of ${EQUIPMENT_TYPES.join(", ")}`);
const rows = Number(values.rows);
if (!Number.isInteger(rows) || rows < 1) fail("--rows must be a positive integer");
const seed = Number(values.seed);
if (!Number.isInteger(seed)) fail("--seed must be an integer");
const interval = Number(values.interval);
if (!(interval > 0)) fail("--interval must be a positive number of seconds");
if (!values.out) fail("--out is required");

const started = performance.now();
const out = createWriteStream(values.out);
const bytes = await Synthetic.writeCsv({ equipment, rows, seed, faults: values.faults, intervalSeconds: interval }, out);
out.end();
await finished(out);
const seconds = (performance.now() - started) / 1000;
process.stdout.write(
  `wrote ${values.out}: ${rows} rows, ${(bytes / 1024 / 1024).toFixed(1)} MB in ${seconds.toFixed(1)} s\n`,
);
