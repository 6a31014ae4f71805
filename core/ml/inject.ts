/**
 * Faults injected into a user's own normal data, so models can be compared on
 * detection when the data has no labels: a drift, a stuck sensor, spikes, a
 * step and a noise burst, each on one sensor, sized from that sensor's spread
 * (its training standard deviation) and labelled row by row.
 */
import { Rng } from "./rng";

export const INJECTED_FAULTS = ["drift", "stuck", "spike", "step", "noise_burst"] as const;
export type InjectedFault = (typeof INJECTED_FAULTS)[number];

export interface Injected {
  columns: Float32Array[];
  labels: Uint8Array;
  events: { fault: InjectedFault; sensor: number; from: number; to: number }[];
}

/**
 * Copies `columns` and injects one fault of each kind in turn into evenly spaced
 * segments of `length` rows (normal rows of at least `length` between them).
 * `spread[f]` is sensor f's typical variation (its training std).
 */
export function injectFaults(columns: Float32Array[], spread: ArrayLike<number>, options: { length: number; seed?: number }): Injected {
  const rows = columns[0]?.length ?? 0;
  const out = columns.map((column) => Float32Array.from(column));
  const labels = new Uint8Array(rows);
  const rng = new Rng(options.seed ?? 17);
  const length = Math.max(4, options.length);
  const events: Injected["events"] = [];
  const slots = Math.floor(rows / (2 * length));
  for (let e = 0; e < slots; e++) {
    const fault = INJECTED_FAULTS[e % INJECTED_FAULTS.length]!;
    const sensor = rng.int(out.length);
    const from = e * 2 * length + length;
    const to = Math.min(rows, from + length);
    const column = out[sensor]!;
    const size = 3 * Math.max(spread[sensor] ?? 1, 1e-6);
    const held = column[from]!;
    for (let t = from; t < to; t++) {
      const u = (t - from + 1) / (to - from);
      if (fault === "drift") column[t] = column[t]! + size * u;
      else if (fault === "stuck") column[t] = held;
      else if (fault === "spike") column[t] = column[t]! + ((t - from) % 3 === 0 ? (rng.next() < 0.5 ? -2 : 2) * size : 0);
      else if (fault === "step") column[t] = column[t]! + size;
      else column[t] = column[t]! + size * (rng.next() * 2 - 1);
      labels[t] = 1;
    }
    events.push({ fault, sensor, from, to });
  }
  return { columns: out, labels, events };
}
