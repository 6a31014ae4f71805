/**
 * Training time: elapsed_seconds counts each moment of an attempt once, and a resumed attempt adds its own
 * time to what the checkpoint it resumes from had counted (work lost after that checkpoint is not counted).
 * These assertions compare against the wall clock on purpose; the margins only absorb float error.
 */
import { describe, expect, it } from "vitest";
import { train, type EpochEvent, type HyperparametersInput } from "../../core/ml";
import { generate } from "../support/ml";

const HP: HyperparametersInput = { sequence_length: 10, hidden_dim: 8, bottleneck_dim: 4, num_layers: 1, epochs: 4, batch_size: 64, stride: 4, seed: 1, patience: 100 };
const data = generate({ rows: 1500, sensors: 3, period: 60, seed: 5, faults: 4 });
const EPS = 1e-9;
const seconds = (since: number) => (performance.now() - since) / 1000;
const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe("training time", () => {
  it("stays within the wall time of the call while checkpointing every epoch, and covers setup and every epoch", async () => {
    const events: EpochEvent[] = [];
    const startedAt = performance.now();
    // The caller's own preparation (a worker loading the data) counts from startedAt.
    await pause(150);
    const result = await train({
      architecture: "lstm_autoencoder",
      hyperparameters: HP,
      data,
      startedAt,
      onEpoch: async (event) => {
        events.push(event);
        await pause(20); // publishing the event takes time the user waits for
      },
      onCheckpoint: () => pause(20),
    });
    const wall = seconds(startedAt);

    expect(events.map((event) => event.epoch)).toEqual([1, 2, 3, 4]);
    expect(result.elapsedSeconds).toBeLessThanOrEqual(wall + EPS);
    expect(result.elapsedSeconds).toBeGreaterThanOrEqual(events.at(-1)!.elapsed_seconds);
    expect(result.setupSeconds).toBeGreaterThanOrEqual(0.15);
    for (const [index, event] of events.entries()) {
      expect(event.setup_seconds).toBe(result.setupSeconds);
      expect(event.epoch_seconds).toBeGreaterThan(0);
      // Setup and the epochs so far tile the elapsed time: nothing is counted twice or left out.
      const epochsSoFar = events.slice(0, index + 1).reduce((sum, e) => sum + e.epoch_seconds, 0);
      expect(event.elapsed_seconds).toBeCloseTo(event.setup_seconds + epochsSoFar, 6);
      if (index > 0) {
        expect(event.elapsed_seconds).toBeGreaterThan(events[index - 1]!.elapsed_seconds);
        // An epoch after the first includes the previous epoch's callbacks (20 ms event + 20 ms checkpoint).
        expect(event.epoch_seconds).toBeGreaterThanOrEqual(0.04);
      }
    }
    expect(events[0]!.elapsed_seconds).toBeGreaterThanOrEqual(events[0]!.epoch_seconds);
  });

  it("resumes from a checkpoint with the time counted up to it plus the new attempt's, once", async () => {
    const firstStarted = performance.now();
    let saved: Uint8Array | undefined;
    let checkpointedAfter = 0;
    const firstEvents: EpochEvent[] = [];
    // The first attempt checkpoints after epoch 1 and dies after epoch 2, before epoch 2's checkpoint.
    const crash = await train({
      architecture: "lstm_autoencoder",
      hyperparameters: HP,
      data,
      startedAt: firstStarted,
      onEpoch: (event) => {
        firstEvents.push(event);
        if (event.epoch === 2) throw new Error("worker killed");
      },
      onCheckpoint: async (state, epoch) => {
        if (epoch !== 1) return;
        saved = state;
        checkpointedAfter = seconds(firstStarted);
      },
    }).catch((error: unknown) => error);
    expect((crash as Error).message).toBe("worker killed");
    expect(saved).toBeDefined();

    const resumedEvents: EpochEvent[] = [];
    const seenAfter: number[] = [];
    const resumedStarted = performance.now();
    const resumed = await train({
      architecture: "lstm_autoencoder",
      hyperparameters: HP,
      data,
      checkpoint: saved,
      startedAt: resumedStarted,
      onEpoch: (event) => {
        resumedEvents.push(event);
        seenAfter.push(seconds(resumedStarted));
      },
    });
    const resumedWall = seconds(resumedStarted);

    expect(resumedEvents.map((event) => event.epoch)).toEqual([2, 3, 4]);
    const atCheckpoint = firstEvents[0]!.elapsed_seconds;
    // The resumed attempt starts from the checkpoint's count (epoch 1), not from the lost epoch 2.
    expect(resumedEvents[0]!.elapsed_seconds).toBeGreaterThanOrEqual(atCheckpoint + resumedEvents[0]!.epoch_seconds);
    for (const [index, event] of resumedEvents.entries()) {
      expect(event.elapsed_seconds).toBeLessThanOrEqual(checkpointedAfter + seenAfter[index]! + EPS);
      if (index > 0) expect(event.elapsed_seconds).toBeGreaterThan(resumedEvents[index - 1]!.elapsed_seconds);
    }
    // Time up to the checkpoint plus the whole second call bounds it from above.
    expect(resumed.elapsedSeconds).toBeLessThanOrEqual(checkpointedAfter + resumedWall + EPS);
    const resumedEpochs = resumedEvents.reduce((sum, e) => sum + e.epoch_seconds, 0);
    expect(resumed.elapsedSeconds).toBeGreaterThanOrEqual(atCheckpoint + resumedEpochs);
    // Both attempts' setup is counted.
    expect(resumed.setupSeconds).toBeGreaterThan(firstEvents[0]!.setup_seconds);
  });
});
