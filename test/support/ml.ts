/**
 * ML fixtures for tests: synthetic equipment sensor data (a daily-like cycle plus a
 * slower cycle, sensors as correlated mixtures of two latent signals plus noise, and
 * injected faults — stuck sensor, drift, spike bursts, correlation break — marked in a
 * 0/1 label column), small hyperparameters, and a model's weights by name.
 */
import { decodeModel, type HyperparametersInput, type TrainingData } from "../../core/ml";
import { Rng } from "../../core/ml/rng";

/** Small enough to train in seconds, large enough to learn the generated faults. */
export const SMALL: HyperparametersInput = { sequence_length: 20, hidden_dim: 16, bottleneck_dim: 8, num_layers: 1, epochs: 8, batch_size: 32, learning_rate: 0.005, stride: 2, seed: 1 };

/** The initializers of an ONNX model (its weights), by name. */
export function weightsOf(model: Uint8Array): Map<string, Float32Array> {
  return new Map([...decodeModel(model).initializers].map(([name, value]) => [name, value.data as Float32Array]));
}

export interface GenOptions {
  rows: number;
  sensors?: number;
  period?: number;
  noise?: number;
  /** number of fault segments */
  faults?: number;
  faultLength?: [number, number];
  seed?: number;
  /** keep the first `cleanPrefix` fraction of rows fault-free */
  cleanPrefix?: number;
}

function gauss(r: Rng): number {
  const u = Math.max(1e-12, r.next());
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r.next());
}

export function generate(o: GenOptions): TrainingData & { labels: Uint8Array; faultKinds: string[] } {
  const r = new Rng(o.seed ?? 7);
  const n = o.rows;
  const F = o.sensors ?? 6;
  const P = o.period ?? 240;
  const noise = o.noise ?? 0.05;
  const columns = Array.from({ length: F }, () => new Float32Array(n));
  const mix = Array.from({ length: F }, () => [0.5 + r.next(), r.next() - 0.5, 10 * r.next() + 20, 1 + 4 * r.next()] as const);
  for (let t = 0; t < n; t++) {
    const a = Math.sin((2 * Math.PI * t) / P);
    const b = Math.sin((2 * Math.PI * t) / (P * 3.7) + 1.3);
    for (let f = 0; f < F; f++) {
      const [wa, wb, off, sc] = mix[f]!;
      columns[f]![t] = off + sc * (wa * a + wb * b + noise * gauss(r));
    }
  }
  const labels = new Uint8Array(n);
  const faultKinds: string[] = [];
  const count = o.faults ?? Math.max(3, Math.round(n / 400));
  const [lmin, lmax] = o.faultLength ?? [20, 60];
  const first = Math.floor(n * (o.cleanPrefix ?? 0));
  const kinds = ["stuck", "drift", "spikes", "decorrelate"];
  for (let k = 0; k < count; k++) {
    const len = lmin + r.int(lmax - lmin + 1);
    // evenly spread segments so every split gets faults
    const slot = (n - first) / count;
    const start = Math.min(n - len - 1, first + Math.floor(k * slot + r.next() * Math.max(1, slot - len)));
    const f = r.int(F);
    const kind = kinds[k % kinds.length]!;
    faultKinds.push(kind);
    const col = columns[f]!;
    const [, , off, sc] = mix[f]!;
    const v0 = col[start]!;
    for (let t = start; t < start + len; t++) {
      labels[t] = 1;
      const u = (t - start) / len;
      if (kind === "stuck") col[t] = v0;
      else if (kind === "drift") col[t] = col[t]! + sc * (0.5 + 1.5 * u);
      else if (kind === "spikes") col[t] = col[t]! + (r.next() < 0.3 ? sc * (2 + 2 * r.next()) * (r.next() < 0.5 ? -1 : 1) : 0);
      else col[t] = off + sc * 0.8 * Math.sin((2 * Math.PI * t) / (P / 5));
    }
  }
  return { features: Array.from({ length: F }, (_, i) => `sensor_${i}`), columns, labels, samplingIntervalSeconds: 60, faultKinds };
}
