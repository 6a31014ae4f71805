/**
 * The whole path over real HTTP and WebSocket against the local runtime:
 * dataset → training with live progress → model download and scoring with a
 * fresh ONNX Runtime session → evaluation → gradient evaluation → compare →
 * delete.
 */
import * as ort from "onnxruntime-node";
import { beforeAll, describe, expect, it } from "vitest";
import { alarmsOf } from "../../core/ml";
import { call } from "../support/http";
import { createUser, type TestUser } from "../support/users";
import { EventClient, isFinal, startRun, TINY, validatedDataset, waitForRun } from "./helpers";

describe("training flow", () => {
  let alice: TestUser;
  let datasetId: string;
  let run: any;
  let client: EventClient;

  beforeAll(async () => {
    alice = await createUser({ role: "operator" });
    datasetId = await validatedDataset(alice, { rows: 2_000 });
    client = await EventClient.open(alice);
  });

  it("starts a run that is running at once when a slot is free", async () => {
    const started = await startRun(alice, datasetId);
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({ status: "running", dataset_id: datasetId, architecture: "lstm_autoencoder", total_epochs: 3 });
    expect(started.body.id).toMatch(/^tr_/);
    // what the user gave is kept; the rest is chosen from the dataset, each with its reason
    expect(started.body.hyperparameters).toMatchObject({ ...TINY, smoothing_windows: expect.any(Number), persistence_n: expect.any(Number) });
    expect(started.body.chosen_because).not.toHaveProperty("epochs");
    expect(started.body.chosen_because.smoothing_windows).toEqual(expect.any(String));
    expect(started.body.started_at).toEqual(expect.any(String));
    run = started.body;
    const subscribed = await client.subscribe(`run:${run.id}`);
    expect(subscribed.type).toBe("subscribed");
  });

  it("streams every epoch in order and then the completion over the WebSocket", async () => {
    const complete = await client.waitFor((event) => event.type === "training_complete" && event.run_id === run.id, 60_000);
    // Subscribing raced the first epoch at most; every live event after it arrives in order (a snapshot's
    // replayed epochs, marked snapshot: true, may arrive between live ones).
    const epochs = client.of("epoch_update", run.id).filter((event) => !event.snapshot);
    const numbers = epochs.map((event) => event.current_epoch);
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    expect(numbers.at(-1)).toBe(3);
    for (const event of epochs) {
      expect(event).toMatchObject({ total_epochs: 3, run_id: run.id });
      for (const field of ["train_loss", "val_loss", "best_val_loss", "learning_rate", "elapsed_seconds", "estimated_remaining_seconds"]) {
        expect(typeof event[field]).toBe("number");
      }
    }
    expect(complete).toMatchObject({ status: "completed", current_epoch: 3, total_epochs: 3, model_id: expect.stringMatching(/^mdl_/) });
    expect(complete.final_metrics).toHaveLength(3);
    expect(complete.best_val_loss).toBe(Math.min(...complete.final_metrics.map((m: any) => m.val_loss)));
  });

  it("reports the finished run with its metrics and model", async () => {
    const finished = await waitForRun(alice, run.id, isFinal);
    expect(finished).toMatchObject({
      status: "completed",
      current_epoch: 3,
      total_epochs: 3,
      model_id: expect.stringMatching(/^mdl_/),
      evaluation_id: expect.stringMatching(/^eval_/),
      estimated_remaining_seconds: 0,
    });
    expect(finished.best_val_loss).toBeGreaterThan(0);
    expect(finished.training_time_seconds).toBeGreaterThan(0);
    expect(finished.completed_at).toEqual(expect.any(String));
    const epochs = await call("GET", `/training/${run.id}/epochs`, { token: alice.token });
    expect(epochs.body.map((e: any) => e.epoch)).toEqual([1, 2, 3]);
    const list = await call("GET", "/training", { token: alice.token });
    expect(list.body.map((r: any) => r.id)).toContain(run.id);
    run = finished;
  });

  it("downloads a model that scores in a fresh ONNX Runtime session", async () => {
    const model = await call("GET", `/models/${run.model_id}`, { token: alice.token });
    expect(model.status).toBe(200);
    expect(model.body).toMatchObject({
      id: run.model_id,
      architecture: "lstm_autoencoder",
      dataset_id: datasetId,
      equipment_type: "air_handler",
      training_run_id: run.id,
      hidden_dim: 8,
      bottleneck_dim: 4,
      num_layers: 1,
      sequence_length: 10,
      quantized: true,
      status: "ready",
      stopped_early: false,
      file_path: `/api/v1/models/${run.model_id}/download`,
    });
    expect(model.body.input_features).toBe(model.body.feature_names.length);
    expect(model.body.feature_names).not.toContain("anomaly");
    expect(model.body.metrics.reconstruction_error_threshold).toBeGreaterThan(0);

    const download = await call("GET", `/models/${run.model_id}/download`, { token: alice.token });
    expect(download.status).toBe(200);
    expect(download.headers.get("content-type")).toBe("application/octet-stream");
    const bytes = download.bytes;
    expect(bytes.length).toBe(model.body.file_size_bytes);

    const session = await ort.InferenceSession.create(bytes);
    const F = model.body.input_features;
    const input = new Float32Array(2 * 10 * F).map((_, i) => 15 + (i % 7));
    const output = await session.run({ [session.inputNames[0]!]: new ort.Tensor("float32", input, [2, 10, F]) });
    const scores = output.score!.data as Float32Array;
    expect(scores).toHaveLength(2);
    expect(Number.isFinite(scores[0]!)).toBe(true);

    const quantized = await call("GET", `/models/${run.model_id}/download?quantized=true`, { token: alice.token });
    const int8 = quantized.bytes;
    expect(int8.length).toBe(model.body.quantized_size_bytes);
    expect(int8.length).toBeLessThan(bytes.length);
  });

  it("scores JSON rows and CSV text to the same windows", async () => {
    const model = (await call("GET", `/models/${run.model_id}`, { token: alice.token })).body;
    const rows = Array.from({ length: 14 }, (_, r) => model.feature_names.map((_: string, f: number) => 20 + Math.sin(r + f)));
    const scored = await call("POST", `/models/${run.model_id}/score`, { token: alice.token, body: { rows } });
    expect(scored.status).toBe(200);
    expect(scored.body).toMatchObject({ model_id: run.model_id, rows: 14, windows: 5, sequence_length: 10 });
    expect(scored.body.scores).toHaveLength(5);
    // flags are the model's alarms: smoothed scores over the threshold, persisting as its post-processing says
    const { postprocess } = scored.body;
    expect(postprocess.smoothing_windows).toBeGreaterThan(1);
    const expected = alarmsOf(scored.body.scores, scored.body.threshold, postprocess);
    expect(scored.body.smoothed_scores.map((v: number) => v.toFixed(4))).toEqual(Array.from(expected.smoothed, (v) => v.toFixed(4)));
    expect(scored.body.flags).toEqual(Array.from(expected.alarms, (a) => a === 1));
    // each window names the sensor with the largest share of its score
    expect(scored.body.contributions).toHaveLength(5);
    scored.body.contributions.forEach((shares: number[], w: number) => {
      expect(shares).toHaveLength(scored.body.feature_names.length);
      expect(shares.reduce((a, b) => a + b, 0)).toBeCloseTo(scored.body.scores[w], 4);
      expect(scored.body.top_sensors[w]).toBe(scored.body.feature_names[shares.indexOf(Math.max(...shares))]);
    });

    const csv = [model.feature_names.join(","), ...rows.map((row) => row.join(","))].join("\n");
    const viaCsv = await call("POST", `/models/${run.model_id}/score`, { token: alice.token, rawBody: csv, contentType: "text/csv" });
    const csvBody = viaCsv.body;
    expect(viaCsv.status, JSON.stringify(csvBody)).toBe(200);
    expect(csvBody.scores.map((s: number) => s.toFixed(4))).toEqual(scored.body.scores.map((s: number) => s.toFixed(4)));
  });

  it("answers 400 for rows that do not fit the model", async () => {
    const ragged = await call("POST", `/models/${run.model_id}/score`, { token: alice.token, body: { rows: Array.from({ length: 12 }, () => [1, 2]) } });
    expect(ragged.status).toBe(400);
    expect(ragged.body.code).toBe("scoring.invalid_rows");
    const short = await call("POST", `/models/${run.model_id}/score`, { token: alice.token, body: { rows: [[1]] } });
    expect(short.status).toBe(400);
  });

  it("has the evaluation with metrics, confusion matrix and training curves", async () => {
    const evaluation = await call("GET", `/evaluations/${run.evaluation_id}`, { token: alice.token });
    expect(evaluation.status).toBe(200);
    expect(evaluation.body).toMatchObject({ id: run.evaluation_id, model_id: run.model_id, gradient_evaluation: null, gradient_status: "none" });
    expect(evaluation.body.training_curves.epochs).toEqual([1, 2, 3]);
    expect(evaluation.body.training_curves.val_loss).toHaveLength(3);
    expect(evaluation.body.metrics.val_loss).toBe(run.best_val_loss);
    // The synthetic data carries an anomaly column, so classification metrics exist.
    expect(evaluation.body.metrics).toHaveProperty("f1");
    expect(Object.keys(evaluation.body.confusion_matrix).sort()).toEqual(["false_negative", "false_positive", "true_negative", "true_positive"]);
    for (const name of ["false_alarm_rate", "missed_alarm_rate"]) expect(evaluation.body.metrics[name]).toEqual(expect.any(Number));
    // ranking metrics need both classes in the test split: both or neither
    expect(evaluation.body.metrics.auc_pr === null).toBe(evaluation.body.metrics.auc_roc === null);
    expect(evaluation.body.postprocess).toEqual({
      smoothing_windows: run.hyperparameters.smoothing_windows,
      persistence_n: run.hyperparameters.persistence_n,
      persistence_m: run.hyperparameters.persistence_m,
    });
    expect(evaluation.body.threshold_rule).toContain("peaks over threshold");
    const events = evaluation.body.event_detection;
    expect(events.detected).toBeLessThanOrEqual(events.events);
    expect(events.event_recall).toBe(events.events ? events.detected / events.events : null);
    // the timeline covers every test window in at most 500 points
    const timeline = evaluation.body.score_timeline;
    expect(timeline.max_score.length).toBeLessThanOrEqual(500);
    expect(timeline.max_score.length * timeline.bucket).toBeGreaterThanOrEqual(evaluation.body.score_distribution.count);
    expect(Math.max(...timeline.max_score)).toBeCloseTo(evaluation.body.score_distribution.max, 4);
    expect(timeline.label).toHaveLength(timeline.max_score.length);
    const list = await call("GET", `/evaluations?model_id=${run.model_id}`, { token: alice.token });
    expect(list.body.map((e: any) => e.id)).toEqual([run.evaluation_id]);
  });

  it("runs the gradient evaluation asynchronously", async () => {
    const started = await call("POST", `/evaluations/${run.evaluation_id}/gradient`, { token: alice.token });
    expect(started.status).toBe(202);
    expect(started.body).toEqual({ status: "running", message: "Gradient evaluation started" });
    const deadline = Date.now() + 30_000;
    let body: any;
    do {
      await new Promise((resolve) => setTimeout(resolve, 250));
      body = (await call("GET", `/evaluations/${run.evaluation_id}`, { token: alice.token })).body;
    } while (body.gradient_status === "running" && Date.now() < deadline);
    expect(body.gradient_status).toBe("completed");
    const gradient = body.gradient_evaluation;
    const model = (await call("GET", `/models/${run.model_id}`, { token: alice.token })).body;
    expect(gradient.sensor_contribution.map((s: any) => s.sensor).sort()).toEqual([...model.feature_names].sort());
    const shares = gradient.sensor_contribution.reduce((sum: number, s: any) => sum + s.share, 0);
    expect(shares).toBeCloseTo(1, 2);
    expect(gradient.score_distribution.count).toBe(gradient.evaluated_windows);
    expect(gradient.threshold_sweep.some((t: any) => t.is_model_threshold)).toBe(true);
    expect(gradient.labelled).toBe(true);
    expect(gradient.latency.p50_ms).toBeGreaterThan(0);
    expect(Object.keys(gradient.metric_definitions)).toEqual(expect.arrayContaining(["sensor_contribution", "threshold_sweep", "latency"]));
  });

  it("compares two models and names the winner", async () => {
    const second = await startRun(alice, datasetId, { ...TINY, epochs: 1, hidden_dim: 4 }, "gru_predictor");
    expect(second.status).toBe(201);
    const finished = await waitForRun(alice, second.body.id, isFinal);
    expect(finished.status).toBe("completed");
    const comparison = await call("POST", `/models/${run.model_id}/compare`, { token: alice.token, body: { compare_with: finished.model_id } });
    expect(comparison.status).toBe(200);
    expect(comparison.body.models.map((m: any) => m.id)).toEqual([run.model_id, finished.model_id]);
    expect([run.model_id, finished.model_id]).toContain(comparison.body.winner);
    expect(comparison.body.advantage).toHaveProperty("val_loss");
    const self = await call("POST", `/models/${run.model_id}/compare`, { token: alice.token, body: { compare_with: run.model_id } });
    expect(self.status).toBe(400);
  });

  it("refuses a third model on the Free plan before training starts", async () => {
    const third = await startRun(alice, datasetId);
    expect(third.status).toBe(403);
    expect(third.body.code).toBe("plan.model_limit_reached");
  });

  it("deletes a model with its files", async () => {
    const viewer = await createUser({ tenantId: alice.tenantId, role: "viewer" });
    expect((await call("DELETE", `/models/${run.model_id}`, { token: viewer.token })).status).toBe(403);
    const deleted = await call("DELETE", `/models/${run.model_id}`, { token: alice.token });
    expect(deleted.status).toBe(204);
    expect((await call("GET", `/models/${run.model_id}`, { token: alice.token })).status).toBe(404);
    expect((await call("GET", `/models/${run.model_id}/download`, { token: alice.token })).status).toBe(404);
    expect((await call("GET", `/evaluations/${run.evaluation_id}`, { token: alice.token })).status).toBe(404);
    client.close();
  });
});
