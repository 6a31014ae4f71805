/**
 * `architecture: "auto"` over real HTTP and WebSocket: every candidate trains on
 * the same upload (400 normal rows of a pump), live progress names the
 * candidate, the leaderboard ranks them, the winner is the run's model, and
 * another candidate can be kept as a model of its own within the plan.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { afterTraining, head, pumpRecording } from "../../core/synthetic/recording";
import { uploadMultipart } from "../datasets/helpers";
import { call } from "../support/http";
import { createUser, type TestUser } from "../support/users";
import { EventClient, isFinal, startRun, TINY, validatedDataset, waitForRun } from "./helpers";

function recordingCsv(rows = 400): string {
  const data = head(pumpRecording({ seed: 4 }), rows);
  const start = Date.parse("2026-11-02T08:00:00Z");
  const lines = [["timestamp", ...data.features].join(",")];
  for (let i = 0; i < data.columns[0]!.length; i++) {
    lines.push([new Date(start + i * 1000).toISOString(), ...data.columns.map((column) => column[i]!.toFixed(5))].join(","));
  }
  return `${lines.join("\n")}\n`;
}

describe("auto: every candidate on the same data, the best one kept", () => {
  let owner: TestUser;
  let datasetId: string;
  let run: any;
  let client: EventClient;

  beforeAll(async () => {
    owner = await createUser({ role: "operator" });
    const upload = await uploadMultipart(owner, recordingCsv(), { name: "Pump test bench", equipment_type: "pump" }, "pump.csv");
    expect(upload.status).toBe(201);
    datasetId = (upload.body as { id: string }).id;
    expect((await call("POST", `/datasets/${datasetId}/validate`, { token: owner.token })).status).toBe(200);
    client = await EventClient.open(owner);
  });

  it("trains every candidate with live progress naming it, and ranks them on the same held-out rows", async () => {
    const started = await call("POST", "/training/start", { token: owner.token, body: { dataset_id: datasetId, architecture: "auto" } });
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({ architecture: "auto", status: "running" });
    expect(started.body.chosen_because.architecture).toContain("pca");
    await client.subscribe(`run:${started.body.id}`);
    run = await waitForRun(owner, started.body.id, isFinal, 120_000);
    expect(run.status).toBe("completed");

    const board = await call("GET", `/training/${run.id}/leaderboard`, { token: owner.token });
    expect(board.status).toBe(200);
    const candidates = board.body.candidates;
    expect(candidates.map((c: any) => c.candidate).sort()).toEqual(["gru_predictor", "iforest", "kmeans", "lstm_autoencoder", "pca"]);
    expect(candidates.map((c: any) => c.rank)).toEqual([1, 2, 3, 4, 5]);
    for (const candidate of candidates) {
      expect(candidate).toMatchObject({ status: "trained", judged_on: "injected_faults" });
      for (const figure of ["f1", "false_alarm_rate", "missed_alarm_rate", "ranking_score", "train_seconds"]) expect(candidate[figure]).toEqual(expect.any(Number));
    }
    // best first by the stated rule
    const scores = candidates.map((c: any) => c.ranking_score);
    expect(scores).toEqual([...scores].sort((a: number, b: number) => b - a));
    expect(board.body.winner).toBe(candidates[0].candidate);
    expect(board.body.ranking_rule).toContain("injected");
    expect(candidates[0].model_id).toBe(run.model_id);
    const model = await call("GET", `/models/${run.model_id}`, { token: owner.token });
    expect(model.body.architecture).toBe(board.body.winner);

    // every candidate's epochs went out live, named, in one increasing count
    const epochs = client.of("epoch_update", run.id).filter((event: any) => !event.snapshot);
    expect(new Set(epochs.map((event: any) => event.candidate))).toEqual(new Set(["gru_predictor", "iforest", "kmeans", "lstm_autoencoder", "pca"]));
    const numbers = epochs.map((event: any) => event.current_epoch);
    expect(numbers).toEqual([...numbers].sort((a: number, b: number) => a - b));
    expect(new Set(numbers).size).toBe(numbers.length);
    expect(run.current_epoch).toBe(candidates.reduce((sum: number, c: any) => sum + c.epochs, 0));
  });

  it("keeps the runner-up as a model of its own, once, with its evaluation", async () => {
    const runnerUp = (await call("GET", `/training/${run.id}/leaderboard`, { token: owner.token })).body.candidates[1];
    const kept = await call("POST", `/training/${run.id}/leaderboard/${runnerUp.candidate}/keep`, { token: owner.token });
    expect(kept.status).toBe(201);
    expect(kept.body).toMatchObject({ architecture: runnerUp.candidate, training_run_id: run.id });
    expect(kept.body.id).not.toBe(run.model_id);
    const evaluation = await call("GET", `/evaluations/${kept.body.evaluation_id}`, { token: owner.token });
    expect(evaluation.status).toBe(200);
    expect(evaluation.body.model_id).toBe(kept.body.id);
    // it scores like any model
    const recording = pumpRecording({ seed: 4 });
    const later = afterTraining(recording, kept.body.sequence_length);
    const rows = Array.from({ length: 80 }, (_, i) => later.columns.map((column) => column[i]!));
    const scored = await call("POST", `/models/${kept.body.id}/score`, { token: owner.token, body: { rows } });
    expect(scored.status).toBe(200);

    const again = await call("POST", `/training/${run.id}/leaderboard/${runnerUp.candidate}/keep`, { token: owner.token });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe("training.candidate_kept");
    const board = await call("GET", `/training/${run.id}/leaderboard`, { token: owner.token });
    expect(board.body.candidates[1].model_id).toBe(kept.body.id);
  });

  it("holds the plan's model limit: the Free plan's two models are used, a third keep is refused", async () => {
    const third = (await call("GET", `/training/${run.id}/leaderboard`, { token: owner.token })).body.candidates[2];
    const refused = await call("POST", `/training/${run.id}/leaderboard/${third.candidate}/keep`, { token: owner.token });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe("plan.model_limit_reached");
  });

  it("answers 404 for candidates that did not train, other tenants' runs and runs that are not auto", async () => {
    const unknown = await call("POST", `/training/${run.id}/leaderboard/sentinel/keep`, { token: owner.token });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe("training.candidate_not_found");
    const stranger = await createUser({ role: "operator" });
    expect((await call("GET", `/training/${run.id}/leaderboard`, { token: stranger.token })).status).toBe(404);
    expect((await call("POST", `/training/${run.id}/leaderboard/pca/keep`, { token: stranger.token })).status).toBe(404);
    const viewer = await createUser({ role: "viewer", tenantId: owner.tenantId });
    expect((await call("POST", `/training/${run.id}/leaderboard/pca/keep`, { token: viewer.token })).status).toBe(403);

    const other = await createUser({ role: "operator" });
    const plain = await startRun(other, await validatedDataset(other, { rows: 1_000 }), TINY);
    const notAuto = await call("GET", `/training/${plain.body.id}/leaderboard`, { token: other.token });
    expect(notAuto.status).toBe(404);
    expect(notAuto.body.code).toBe("training.no_leaderboard");
  });
});

describe("too little data for a calibrated threshold", () => {
  it("answers 400 training.insufficient_data with the rows needed when the run is started, and reserves nothing", async () => {
    const user = await createUser({ role: "operator" });
    const upload = await uploadMultipart(user, recordingCsv(150), { name: "Short pump run", equipment_type: "pump" }, "short.csv");
    expect(upload.status).toBe(201);
    const id = (upload.body as { id: string }).id;
    expect((await call("POST", `/datasets/${id}/validate`, { token: user.token })).status).toBe(200);
    for (const architecture of ["lstm_autoencoder", "auto"]) {
      const refused = await call("POST", "/training/start", { token: user.token, body: { dataset_id: id, architecture } });
      expect(refused.status).toBe(400);
      expect(refused.body).toMatchObject({ code: "training.insufficient_data", details: { rows: 150, sequence_length: 8 } });
      expect(refused.body.details.rows_needed).toBeGreaterThan(150);
    }
    expect((await call("GET", "/training", { token: user.token })).body).toEqual([]);
  });
});
