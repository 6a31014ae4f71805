import { describe, expect, it } from "vitest";
import { train, type HyperparametersInput } from "../../core/ml";
import { anyLabel, gather, prepare, windowStarts } from "../../core/ml/data";
import { chunkedFromMemory, openWindows, type StreamingWindows, type WindowSpec } from "../../core/ml/stream";
import { generate, weightsOf } from "../support/ml";

const SMALL: HyperparametersInput = { sequence_length: 20, hidden_dim: 16, bottleneck_dim: 8, num_layers: 1, epochs: 3, batch_size: 32, learning_rate: 0.005, stride: 3, seed: 1 };
const CHUNK = 700;
const data = generate({ rows: 5000, sensors: 4, period: 120, seed: 3, faults: 24 });
data.columns[0]!.fill(NaN, 0, 7); // a leading gap: filled with the training mean
data.columns[1]!.fill(NaN, 695, 712); // a gap across a chunk boundary: forward-filled from the previous chunk

async function streamed(windows: StreamingWindows, spec: WindowSpec): Promise<{ x: Float32Array; labels: Float32Array }> {
  const width = 20 * windows.F;
  const x = new Float32Array(spec.count * width);
  const labels = new Float32Array(spec.count);
  let at = 0;
  for await (const batch of windows.batches(spec, 512)) {
    x.set(batch.x, at * width);
    labels.set(batch.labels!, at);
    at += batch.count;
  }
  expect(at).toBe(spec.count);
  return { x, labels };
}

describe("training data read chunk by chunk", () => {
  it("gives the whole-dataset statistics and every window, those across chunk boundaries included", async () => {
    const T = 20;
    const stride = 3;
    const whole = prepare(data, T);
    const windows = await openWindows(chunkedFromMemory(data, CHUNK), { architecture: "lstm_autoencoder", supervised: false, seq: T, stride });
    try {
      expect(windows.mean).toEqual(whole.mean);
      expect(windows.std).toEqual(whole.std);
      expect(windows.bounds).toEqual(whole.bounds);
      for (const [split, s] of [["train", stride], ["val", stride], ["val", 1], ["test", 1]] as const) {
        const starts = windowStarts(whole.bounds[split][0], whole.bounds[split][1], T, s);
        const crossing = Array.from(starts).filter((start) => Math.floor(start / CHUNK) !== Math.floor((start + T - 1) / CHUNK));
        expect(crossing.length).toBeGreaterThan(0);
        const spec = windows.spec(split, s, false);
        expect(spec.count).toBe(starts.length);
        const { x } = await streamed(windows, spec);
        expect(x).toEqual(gather(whole.norm, whole.F, T, starts, 0, starts.length));
      }
      // unsupervised training leaves out windows holding a labelled row
      const anomalous = anyLabel(data.labels, T);
      const kept = Array.from(windowStarts(0, whole.bounds.train[1], T, stride)).filter((start) => !anomalous(start));
      const trainSpec = windows.spec("train", stride, true);
      expect(trainSpec.count).toBe(kept.length);
      expect(windows.training.windows).toBe(kept.length);
      expect((await streamed(windows, trainSpec)).x).toEqual(gather(whole.norm, whole.F, T, kept, 0, kept.length));
    } finally {
      await windows.release();
    }
  });

  it.each(["lstm_autoencoder", "sentinel"] as const)("%s trains to the same model whatever the chunk size", async (architecture) => {
    const whole = await train({ architecture, hyperparameters: SMALL, data });
    const chunked = await train({ architecture, hyperparameters: SMALL, data, chunkRows: CHUNK });
    expect(chunked.history).toEqual(whole.history);
    expect(chunked.evaluation).toEqual(whole.evaluation);
    expect(Buffer.from(chunked.model).equals(Buffer.from(whole.model))).toBe(true);
  });

  it("with a shuffle buffer smaller than the training split, learns from blocks of shuffled chunks and resumes at the same batch", async () => {
    // two chunks of 700 rows (+ 19 carried rows) × 4 features per block: the 5 training chunks make 3 blocks
    const memory = { shuffleBytes: 2 * (CHUNK + 19) * 4 * 4, cacheBytes: 0 };
    const hp = { ...SMALL, dropout: 0.2 };
    const full = await train({ architecture: "lstm_autoencoder", hyperparameters: hp, data, chunkRows: CHUNK, memory });
    expect(full.history[2]!.val_loss).toBeLessThan(full.history[0]!.val_loss);
    const whole = await train({ architecture: "lstm_autoencoder", hyperparameters: hp, data });
    expect(full.bestValLoss).toBeLessThan(whole.bestValLoss * 1.5);

    let batches = 0;
    let perEpoch = 0;
    let saved: Uint8Array | undefined;
    const first = await train({
      architecture: "lstm_autoencoder",
      hyperparameters: hp,
      data,
      chunkRows: CHUNK,
      memory,
      onEpoch: (event) => {
        if (event.epoch === 1) perEpoch = batches;
      },
      // stop in the middle of epoch 2, inside its second block
      shouldStop: () => ++batches > perEpoch * 1.5 && perEpoch > 0,
      onCheckpoint: async (state) => {
        saved = state;
      },
    });
    expect(first.stopped).toBe(true);
    const resumed = await train({ architecture: "lstm_autoencoder", hyperparameters: hp, data, chunkRows: CHUNK, memory, checkpoint: saved });
    expect(resumed.history).toEqual(full.history);
    expect(weightsOf(resumed.model)).toEqual(weightsOf(full.model));
  });
});
