/**
 * Training over HTTP on a dataset whose columnar copy spans two S3 chunks:
 * the worker streams it chunk by chunk, and windows that cross the chunk
 * boundary are scored like any other.
 */
import { describe, expect, it } from "vitest";
import { CHUNK_ROWS } from "../../core/dataset/columnar";
import { SPLIT } from "../../core/ml/data";
import { Synthetic } from "../../core/synthetic";
import { call } from "../support/http";
import { createUser } from "../support/users";

describe("training on a dataset of several chunks", () => {
  it("streams every chunk from S3 and keeps the windows across the chunk boundary", async () => {
    const user = await createUser();
    const rows = CHUNK_ROWS + 8_928;
    const form = new FormData();
    form.set("name", "Two chunks");
    form.set("equipment_type", "air_handler");
    form.set("file", new Blob([Synthetic.csvString({ equipment: "air_handler", rows, faults: true, seed: 3 })], { type: "text/csv" }), "two-chunks.csv");
    const uploaded = await call("POST", "/datasets", { token: user.token, rawBody: form });
    expect(uploaded.status).toBe(201);
    expect(uploaded.body.row_count).toBe(rows);
    expect((await call("POST", `/datasets/${uploaded.body.id}/validate`, { token: user.token })).body.valid).toBe(true);

    const sequenceLength = 10;
    const started = await call("POST", "/training/start", {
      token: user.token,
      body: {
        dataset_id: uploaded.body.id,
        architecture: "lstm_autoencoder",
        hyperparameters: { epochs: 1, sequence_length: sequenceLength, hidden_dim: 8, bottleneck_dim: 4, num_layers: 1, batch_size: 256, stride: 50 },
      },
    });
    expect(started.status).toBe(201);
    let run = started.body;
    for (let attempt = 0; attempt < 600 && !["completed", "failed", "stopped"].includes(run.status); attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      run = (await call("GET", `/training/${run.id}`, { token: user.token })).body;
    }
    expect(run.status, run.error).toBe("completed");

    // The test split [valEnd, rows) contains the chunk boundary; stride-1 evaluation windows lie wholly inside it.
    const valEnd = Math.floor(rows * (SPLIT.train + SPLIT.val));
    expect(valEnd).toBeLessThan(CHUNK_ROWS);
    const evaluation = (await call("GET", `/evaluations/${run.evaluation_id}`, { token: user.token })).body;
    const scoredTestWindows = Object.values(evaluation.confusion_matrix as Record<string, number>).reduce((sum, count) => sum + count, 0);
    expect(scoredTestWindows).toBe(rows - valEnd - sequenceLength + 1);
  }, 300_000);
});
