/**
 * Synthetic equipment sensor data: realistic multi-sensor series per equipment
 * type, with daily and weekly cycles, correlated sensors, noise and optional
 * injected faults labelled in an `anomaly` column. Deterministic for a seed,
 * streamed row by row so millions of rows never sit in memory.
 */
export * as Synthetic from "./index";

import { once } from "node:events";
import type { Writable } from "node:stream";
import { mulberry32 } from "../ml/rng";

export const EQUIPMENT_TYPES = ["air_handler", "boiler", "pump", "chiller", "fan_coil", "steam"] as const;
export type EquipmentType = (typeof EQUIPMENT_TYPES)[number];

export type FaultKind = "stuck" | "drift" | "spike" | "actuator";

export interface GenerateOptions {
  equipment: EquipmentType;
  rows: number;
  /** Seconds between rows (default 60). */
  intervalSeconds?: number;
  /** PRNG seed (default 1): the same options always give the same file. */
  seed?: number;
  /** Inject faults and add the 0/1 `anomaly` column. */
  faults?: boolean;
  /** First timestamp (default 2026-01-01T00:00:00Z). */
  start?: Date;
}

interface Drivers {
  /** -1..1, peaks mid-afternoon. */
  daily: number;
  /** 0..1 building occupancy (weekdays 06:00-19:00, ramped). */
  occupied: number;
  /** Outside air temperature, degC. */
  outsideAir: number;
  /** 0..1 fraction of the whole series elapsed (slow wear). */
  progress: number;
}

interface Sensor {
  name: string;
  /** Typical variation, used to size faults. */
  scale: number;
  /** Actuators can fail stuck open/closed. */
  actuator?: boolean;
}

type Model = (d: Drivers, noise: (sigma: number) => number) => number[];

const SENSORS: Record<EquipmentType, Sensor[]> = {
  air_handler: [
    { name: "supply_temp", scale: 1 },
    { name: "return_temp", scale: 1 },
    { name: "outside_air_temp", scale: 5 },
    { name: "mixed_air_temp", scale: 2 },
    { name: "fan_speed", scale: 10, actuator: true },
    { name: "damper_position", scale: 15, actuator: true },
    { name: "filter_dp", scale: 20 },
    { name: "supply_static_pressure", scale: 40 },
  ],
  boiler: [
    { name: "supply_water_temp", scale: 4 },
    { name: "return_water_temp", scale: 4 },
    { name: "outside_air_temp", scale: 5 },
    { name: "firing_rate", scale: 15, actuator: true },
    { name: "flue_gas_temp", scale: 15 },
    { name: "stack_o2", scale: 0.8 },
    { name: "water_pressure", scale: 0.1 },
    { name: "gas_flow", scale: 5 },
  ],
  pump: [
    { name: "suction_pressure", scale: 5 },
    { name: "discharge_pressure", scale: 15 },
    { name: "flow_rate", scale: 20 },
    { name: "motor_current", scale: 3 },
    { name: "speed", scale: 150, actuator: true },
    { name: "vibration", scale: 0.5 },
    { name: "bearing_temp", scale: 3 },
    { name: "motor_temp", scale: 4 },
  ],
  chiller: [
    { name: "chw_supply_temp", scale: 0.5 },
    { name: "chw_return_temp", scale: 1 },
    { name: "cw_supply_temp", scale: 2 },
    { name: "cw_return_temp", scale: 2 },
    { name: "compressor_current", scale: 40 },
    { name: "evaporator_pressure", scale: 15 },
    { name: "condenser_pressure", scale: 40 },
    { name: "load_percent", scale: 15, actuator: true },
  ],
  fan_coil: [
    { name: "room_temp", scale: 0.8 },
    { name: "setpoint", scale: 0.5 },
    { name: "supply_air_temp", scale: 2 },
    { name: "fan_speed", scale: 20, actuator: true },
    { name: "valve_position", scale: 20, actuator: true },
    { name: "entering_water_temp", scale: 2 },
    { name: "leaving_water_temp", scale: 2 },
  ],
  steam: [
    { name: "header_pressure", scale: 5 },
    { name: "steam_flow", scale: 400 },
    { name: "steam_temp", scale: 4 },
    { name: "condensate_return_temp", scale: 4 },
    { name: "feedwater_flow", scale: 400 },
    { name: "drum_level", scale: 3 },
    { name: "trap_dp", scale: 2 },
    { name: "valve_position", scale: 15, actuator: true },
  ],
};

const clamp = (value: number, low: number, high: number) => Math.min(high, Math.max(low, value));

const MODELS: Record<EquipmentType, Model> = {
  air_handler: (d, n) => {
    const fan = d.occupied > 0.5 ? clamp(65 + 12 * d.daily + n(2), 30, 100) : clamp(18 + n(1), 0, 40);
    const economiser = d.outsideAir > 8 && d.outsideAir < 18 ? 60 : 20;
    const damper = d.occupied > 0.5 ? clamp(economiser + 1.5 * (d.outsideAir - 12) + n(2), 10, 100) : clamp(10 + n(0.5), 0, 20);
    const ret = 21.5 + 1.4 * d.occupied + 0.5 * d.daily + n(0.2);
    const mixed = (damper / 100) * d.outsideAir + (1 - damper / 100) * ret + n(0.3);
    const supply = d.occupied > 0.5 ? 13 + 0.08 * (d.outsideAir - 10) + n(0.3) : mixed - 1 + n(0.3);
    const filter = 110 + 90 * d.progress + 0.6 * fan + n(2);
    const staticPressure = 260 * (fan / 100) ** 2 + 20 + n(5);
    return [supply, ret, d.outsideAir, mixed, fan, damper, filter, staticPressure];
  },
  boiler: (d, n) => {
    const demand = clamp((18 - d.outsideAir) / 25, 0.05, 1);
    const firing = clamp(100 * demand + 8 * d.occupied + n(3), 5, 100);
    const supply = 55 + 25 * demand + n(0.6);
    const ret = supply - (8 + 10 * demand) + n(0.5);
    const flue = 120 + 0.9 * firing + n(2);
    const o2 = 4.5 - 0.015 * firing + n(0.15);
    const pressure = 1.8 + 0.1 * demand + n(0.02);
    const gas = 0.22 * firing + n(0.6);
    return [supply, ret, d.outsideAir, firing, flue, o2, pressure, gas];
  },
  pump: (d, n) => {
    const speed = clamp(1150 + 450 * d.occupied + 120 * d.daily + n(15), 800, 1800);
    const ratio = speed / 1750;
    const flow = 180 * ratio + n(3);
    const suction = 45 + n(1);
    const discharge = suction + 95 * ratio ** 2 + n(2);
    const current = 6 + 18 * ratio ** 3 + n(0.3);
    const vibration = 1.2 + 0.8 * ratio + 0.6 * d.progress + Math.abs(n(0.1));
    const bearing = 35 + 15 * ratio + 3 * d.progress + n(0.4);
    const motor = 40 + 25 * ratio ** 2 + n(0.5);
    return [suction, discharge, flow, current, speed, vibration, bearing, motor];
  },
  chiller: (d, n) => {
    const load = clamp(25 + 45 * d.occupied + 2.5 * (d.outsideAir - 10) + n(3), 0, 100);
    const chws = 6.7 + n(0.1) + 0.01 * (100 - load);
    const chwr = chws + 0.055 * load + n(0.15);
    const cws = 24 + 0.35 * (d.outsideAir - 10) + n(0.3);
    const cwr = cws + 0.05 * load + n(0.2);
    const current = 60 + 3.2 * load + n(4);
    const evaporator = 320 + 0.4 * load + 6 * (chws - 6.7) + n(2);
    const condenser = 850 + 2.1 * load + 12 * (cws - 24) + n(6);
    return [chws, chwr, cws, cwr, current, evaporator, condenser, load];
  },
  fan_coil: (d, n) => {
    const setpoint = d.occupied > 0.5 ? 22 : 18;
    const room = setpoint + 0.8 * d.daily + n(0.25);
    const error = room - setpoint;
    const valve = clamp(40 + 35 * error + n(3), 0, 100);
    const fan = d.occupied > 0.5 ? clamp(45 + 30 * Math.abs(error) + n(3), 20, 100) : clamp(10 + n(2), 0, 30);
    const entering = 45 + n(0.4);
    const leaving = entering - 0.09 * valve + n(0.3);
    const supplyAir = room + 0.15 * (leaving - room) * (valve / 100) * 4 + n(0.4);
    return [room, setpoint, supplyAir, fan, valve, entering, leaving];
  },
  steam: (d, n) => {
    const demand = clamp(0.35 + 0.4 * d.occupied + 0.02 * (10 - d.outsideAir), 0.1, 1);
    const valve = clamp(100 * demand + n(2), 0, 100);
    const flow = 4200 * demand + n(60);
    const pressure = 125 - 6 * demand + n(0.8);
    const temp = 178 + 0.12 * (pressure - 120) + n(0.5);
    const condensate = 82 + 6 * demand + n(0.8);
    const feedwater = flow * 1.02 + n(50);
    const level = 50 + n(1.2) + 3 * Math.sin(2 * Math.PI * d.progress * 40);
    const trap = 4 + 3 * demand + n(0.2);
    return [pressure, flow, temp, condensate, feedwater, level, trap, valve];
  },
};

/** The sensor column names of an equipment type (timestamp and anomaly excluded). */
export function sensorsOf(equipment: EquipmentType): string[] {
  return SENSORS[equipment].map((sensor) => sensor.name);
}

/** With windows of ~135 rows on average, roughly 2-3% of rows are anomalous. */
const FAULT_START_PROBABILITY = 0.0002;

interface ActiveFault {
  kind: FaultKind;
  sensor: number;
  remaining: number;
  step: number;
  held: number;
  target: number;
}

/**
 * Yields the CSV text in blocks of rows: header first, then rows of
 * `timestamp,<sensors...>[,anomaly]` with ISO 8601 UTC timestamps.
 */
export function* csvBlocks(options: GenerateOptions, rowsPerBlock = 2000): Generator<string> {
  const interval = options.intervalSeconds ?? 60;
  const sensors = SENSORS[options.equipment];
  const model = MODELS[options.equipment];
  const rng = mulberry32(options.seed ?? 1);
  const faultRng = mulberry32((options.seed ?? 1) ^ 0x9e3779b9);
  let spare: number | undefined;
  const gaussian = (sigma: number) => {
    if (spare !== undefined) {
      const value = spare * sigma;
      spare = undefined;
      return value;
    }
    const u = Math.max(rng(), 1e-12);
    const v = rng();
    const radius = Math.sqrt(-2 * Math.log(u));
    spare = radius * Math.sin(2 * Math.PI * v);
    return radius * Math.cos(2 * Math.PI * v) * sigma;
  };
  const start = (options.start ?? new Date("2026-01-01T00:00:00Z")).getTime();
  const header = ["timestamp", ...sensors.map((sensor) => sensor.name), ...(options.faults ? ["anomaly"] : [])];
  yield `${header.join(",")}\n`;
  let outsideNoise = 0;
  let fault: ActiveFault | undefined;
  let block = "";
  let inBlock = 0;
  for (let row = 0; row < options.rows; row++) {
    const ms = start + row * interval * 1000;
    const date = new Date(ms);
    const hour = date.getUTCHours() + date.getUTCMinutes() / 60;
    const weekday = date.getUTCDay() >= 1 && date.getUTCDay() <= 5;
    const occupied = weekday ? clamp(Math.min(hour - 6, 19 - hour) * 2, 0, 1) : 0;
    const dayOfYear = (ms / 86_400_000) % 365;
    outsideNoise = 0.98 * outsideNoise + gaussian(0.25);
    const drivers: Drivers = {
      daily: Math.sin((2 * Math.PI * (hour - 9)) / 24),
      occupied,
      outsideAir: 9 + 7 * Math.sin((2 * Math.PI * (hour - 9)) / 24) - 8 * Math.cos((2 * Math.PI * dayOfYear) / 365) + outsideNoise,
      progress: options.rows > 1 ? row / (options.rows - 1) : 0,
    };
    const values = model(drivers, gaussian);
    let anomaly = 0;
    if (options.faults) {
      if (!fault && faultRng() < FAULT_START_PROBABILITY) {
        fault = startFault(faultRng, sensors, values);
      }
      if (fault) {
        anomaly = 1;
        applyFault(fault, values, sensors);
        if (--fault.remaining <= 0) fault = undefined;
      }
    }
    let line = formatIso(ms);
    for (let k = 0; k < values.length; k++) line += `,${values[k]!.toFixed(2)}`;
    if (options.faults) line += `,${anomaly}`;
    block += `${line}\n`;
    if (++inBlock === rowsPerBlock) {
      yield block;
      block = "";
      inBlock = 0;
    }
  }
  if (block) yield block;
}

function startFault(rng: () => number, sensors: Sensor[], values: number[]): ActiveFault {
  const kinds: FaultKind[] = ["stuck", "drift", "spike", "actuator"];
  let kind = kinds[Math.floor(rng() * kinds.length)]!;
  let sensor = Math.floor(rng() * sensors.length);
  if (kind === "actuator") {
    const actuators = sensors.flatMap((item, index) => (item.actuator ? [index] : []));
    if (actuators.length === 0) kind = "stuck";
    else sensor = actuators[Math.floor(rng() * actuators.length)]!;
  }
  const remaining = kind === "spike" ? 1 + Math.floor(rng() * 3) : 30 + Math.floor(rng() * 210);
  return { kind, sensor, remaining, step: 0, held: values[sensor]!, target: rng() < 0.5 ? 0 : 100 };
}

function applyFault(fault: ActiveFault, values: number[], sensors: Sensor[]): void {
  const scale = sensors[fault.sensor]!.scale;
  fault.step++;
  switch (fault.kind) {
    case "stuck":
      values[fault.sensor] = fault.held;
      break;
    case "drift":
      values[fault.sensor] = values[fault.sensor]! + fault.step * scale * 0.03;
      break;
    case "spike":
      values[fault.sensor] = values[fault.sensor]! + 8 * scale;
      break;
    case "actuator":
      values[fault.sensor] = fault.target;
      break;
  }
}

function formatIso(ms: number): string {
  const iso = new Date(ms).toISOString();
  return iso.endsWith(".000Z") ? `${iso.slice(0, -5)}Z` : iso;
}

/** Writes the whole CSV to `out`, honouring backpressure; resolves with the bytes written. */
export async function writeCsv(options: GenerateOptions, out: Writable): Promise<number> {
  let bytes = 0;
  for (const block of csvBlocks(options)) {
    bytes += Buffer.byteLength(block);
    if (!out.write(block)) await once(out, "drain");
  }
  return bytes;
}

/** The whole CSV as one string (small files: tests, fixtures). */
export function csvString(options: GenerateOptions): string {
  return [...csvBlocks(options)].join("");
}
