/**
 * Trainer: orchestration only. Every numeric step (forward, backward, optimizer
 * update, validation, scoring) is one ONNX Runtime session.run; JavaScript gathers
 * windows, shuffles indices, draws dropout masks and computes metrics over score arrays.
 */
import * as ort from "onnxruntime-node";
import { invalid } from "../error";
import { validateData, type TrainingData } from "./data";
import { ADAM_BETA1, ADAM_BETA2, buildEvalGraph, buildInferenceModel, buildStepGraph } from "./engine";
import { chooseHyperparameters } from "./defaults";
import { alarmsOf, chooseThreshold, distribution, eventDetection, metricsOf, scoreTimeline, smooth, type Evaluation, type PostProcess } from "./evaluate";
import { createSession } from "./io";
import { fitBaseline, withScoreScale } from "./baselines";
import { defineModel, isSupervised, type ModelDef } from "./models";
import { Rng } from "./rng";
import { chunkedFromMemory, DEFAULT_MEMORY, isChunked, openWindows, type ChunkedData, type MemoryBudget, type StreamingWindows, type WindowSpec } from "./stream";
import { Architecture, effectiveStride, Hyperparameters, HyperparametersGiven, isBaseline, type ArchitectureT, type HyperparametersGivenT, type HyperparametersT } from "./schema";

export interface EpochEvent {
  epoch: number;
  total_epochs: number;
  train_loss: number;
  val_loss: number;
  best_val_loss: number;
  learning_rate: number;
  /**
   * Training time of the run up to the end of this epoch: this attempt since `startedAt`, plus what earlier
   * attempts had spent up to the checkpoint this one resumed from (work after that checkpoint was lost and is
   * not counted). Never decreases from one epoch to the next.
   */
  elapsed_seconds: number;
  /** From the end of the previous epoch (or of this attempt's setup) to the end of this one, callbacks included. */
  epoch_seconds: number;
  /** Of elapsed_seconds, the time every attempt spent before its first batch: loading, graph building, ONNX Runtime session creation. */
  setup_seconds: number;
  estimated_remaining_seconds: number;
}

export interface TrainOptions {
  architecture: ArchitectureT;
  /** the fields left out are chosen from the data (see defaults.ts) */
  hyperparameters?: HyperparametersGivenT;
  /** in-memory columns, or a dataset read chunk by chunk (the worker's columnar copy) */
  data: TrainingData | ChunkedData;
  /** rows per chunk when `data` is in memory (default DEFAULT_CHUNK_ROWS; results do not depend on it) */
  chunkRows?: number;
  /** bytes of segments held for shuffling and kept across epochs (default DEFAULT_MEMORY) */
  memory?: Partial<MemoryBudget>;
  /** at most this many validation / test windows are scored at the end (evenly strided beyond it; default MAX_EVAL_WINDOWS) */
  maxEvalWindows?: number;
  onEpoch?: (e: EpochEvent) => void | Promise<void>;
  /** checked before every batch; true stops cooperatively (state is resumable) */
  shouldStop?: () => boolean | Promise<boolean>;
  /** resume from a state produced by onCheckpoint / TrainResult.checkpoint */
  checkpoint?: Uint8Array;
  onCheckpoint?: (state: Uint8Array, epoch: number) => Promise<void>;
  /** call onCheckpoint every k completed epochs (default 1); it is also called when stopped */
  checkpointEvery?: number;
  /**
   * performance.now() when this attempt began, for a caller whose own preparation (loading the data) should
   * count as training time; default: when train() is called.
   */
  startedAt?: number;
}

export interface TrainResult {
  stopped: boolean;
  /** every hyperparameter the run trained with */
  hyperparameters: HyperparametersT;
  /** why each hyperparameter the caller left out has its value */
  chosenBecause: Record<string, string>;
  /** why training ended: epochs done, early stopping, the time budget, or a stop request */
  endedBy: "epochs" | "early_stopping" | "time_budget" | "stopped";
  epochsRun: number;
  bestValLoss: number;
  history: { epoch: number; train_loss: number; val_loss: number }[];
  parameters: number;
  model: Uint8Array;
  quantizedModel: Uint8Array;
  quantization: { float_bytes: number; int8_bytes: number; ratio: number; max_abs_score_deviation: number; mean_abs_score_deviation: number };
  threshold: number;
  evaluation: Evaluation;
  metadata: Record<string, string>;
  /** full trainer state at the end (resume from it, e.g. after a stop) */
  checkpoint: Uint8Array;
  /** Training time at return (as EpochEvent.elapsed_seconds), including the final evaluation and export. */
  elapsedSeconds: number;
  /** Of elapsedSeconds, the setup time of every attempt (as EpochEvent.setup_seconds). */
  setupSeconds: number;
}

interface TrainerState {
  epoch: number;
  step: number;
  cursor: number;
  perm: Uint32Array | null;
  /** this epoch's order of training chunks when the training split spans several shuffle blocks */
  order: Uint32Array | null;
  block: number;
  lossSum: number;
  lossCount: number;
  shuffleRng: Rng;
  dropRng: Rng;
  params: Map<string, Float32Array>;
  moments: Map<string, Float32Array>;
  best: Map<string, Float32Array> | null;
  bestValLoss: number;
  bestEpoch: number;
  badEpochs: number;
  done: boolean;
  history: { epoch: number; train_loss: number; val_loss: number }[];
  /** Training time (seconds) up to this state, over every attempt that led to it. */
  elapsed: number;
  /** Of `elapsed`, the attempts' setup time. */
  setup: number;
}

const EVAL_BATCH = 512;
/** Validation / test windows scored at most (score and label arrays: 8 bytes per window). */
export const MAX_EVAL_WINDOWS = 2_000_000;
/** Max validation windows used to measure the int8 score deviation. */
const QUANT_CHECK_WINDOWS = 2048;

export function initialParams(def: ModelDef, rng: Rng): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const p of def.params) {
    const size = p.shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(size);
    if (p.init === "glorot") {
      const limit = Math.sqrt(6 / (p.fanIn + p.fanOut));
      for (let i = 0; i < size; i++) a[i] = (rng.next() * 2 - 1) * limit;
    } else if (p.init === "lstm_bias") {
      const H = p.fanOut;
      for (let i = H; i < 2 * H; i++) a[i] = 1; // forget gate
    }
    out.set(p.name, a);
  }
  return out;
}

// ------------------------------------------------------------------ checkpoint format
// "FLCK" | u32 header length | header JSON | pad to 4 | float32/uint32 blobs

function encodeState(st: TrainerState, meta: { architecture: string; hp: HyperparametersT; fingerprint: string }): Uint8Array {
  const blobs: { key: string; data: Float32Array | Uint32Array }[] = [];
  for (const [k, v] of st.params) blobs.push({ key: `p:${k}`, data: v });
  for (const [k, v] of st.moments) blobs.push({ key: `o:${k}`, data: v });
  if (st.best) for (const [k, v] of st.best) blobs.push({ key: `b:${k}`, data: v });
  if (st.perm) blobs.push({ key: "perm", data: st.perm });
  if (st.order) blobs.push({ key: "order", data: st.order });
  let offset = 0;
  const index = blobs.map((b) => {
    const e = { key: b.key, offset, length: b.data.length };
    offset += b.data.length * 4;
    return e;
  });
  const header = {
    version: 1,
    ...meta,
    epoch: st.epoch,
    step: st.step,
    cursor: st.cursor,
    block: st.block,
    lossSum: st.lossSum,
    lossCount: st.lossCount,
    shuffleRng: Array.from(st.shuffleRng.s),
    dropRng: Array.from(st.dropRng.s),
    bestValLoss: Number.isFinite(st.bestValLoss) ? st.bestValLoss : null,
    bestEpoch: st.bestEpoch,
    badEpochs: st.badEpochs,
    done: st.done,
    history: st.history,
    elapsed: st.elapsed,
    setup: st.setup,
    index,
  };
  const h = new TextEncoder().encode(JSON.stringify(header));
  const pad = (4 - ((8 + h.length) % 4)) % 4;
  const out = new Uint8Array(8 + h.length + pad + offset);
  out.set([0x46, 0x4c, 0x43, 0x4b]);
  new DataView(out.buffer).setUint32(4, h.length, true);
  out.set(h, 8);
  const base = 8 + h.length + pad;
  blobs.forEach((b, i) => out.set(new Uint8Array(b.data.buffer, b.data.byteOffset, b.data.byteLength), base + index[i]!.offset));
  return out;
}

function decodeState(bytes: Uint8Array): { st: TrainerState; architecture: string; hp: HyperparametersT; fingerprint: string } {
  if (bytes.length < 8 || bytes[0] !== 0x46 || bytes[1] !== 0x4c || bytes[2] !== 0x43 || bytes[3] !== 0x4b) throw invalid("training.invalid_checkpoint", "Not a Flint trainer checkpoint");
  const hl = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + hl)));
  const pad = (4 - ((8 + hl) % 4)) % 4;
  const base = 8 + hl + pad;
  const body = bytes.slice(base); // aligned copy
  const params = new Map<string, Float32Array>();
  const moments = new Map<string, Float32Array>();
  let best: Map<string, Float32Array> | null = null;
  let perm: Uint32Array | null = null;
  let order: Uint32Array | null = null;
  for (const e of header.index as { key: string; offset: number; length: number }[]) {
    if (e.key === "perm" || e.key === "order") {
      const indices = new Uint32Array(body.buffer, e.offset, e.length).slice();
      if (e.key === "perm") perm = indices;
      else order = indices;
      continue;
    }
    const data = new Float32Array(body.buffer, e.offset, e.length).slice();
    const kind = e.key.slice(0, 2);
    const name = e.key.slice(2);
    if (kind === "p:") params.set(name, data);
    else if (kind === "o:") moments.set(name, data);
    else (best ??= new Map()).set(name, data);
  }
  return {
    architecture: header.architecture,
    hp: header.hp,
    fingerprint: header.fingerprint,
    st: {
      epoch: header.epoch,
      step: header.step,
      cursor: header.cursor,
      perm,
      order,
      block: header.block ?? 0,
      lossSum: header.lossSum,
      lossCount: header.lossCount,
      shuffleRng: new Rng(Uint32Array.from(header.shuffleRng)),
      dropRng: new Rng(Uint32Array.from(header.dropRng)),
      params,
      moments,
      best,
      bestValLoss: header.bestValLoss ?? Infinity,
      bestEpoch: header.bestEpoch,
      badEpochs: header.badEpochs,
      done: header.done,
      history: header.history,
      elapsed: header.elapsed ?? 0,
      setup: header.setup ?? 0,
    },
  };
}

// ------------------------------------------------------------------ training

/** 1 where any of the label and the `back` labels before it is 1 (last-row labels → "holds a labelled row"). */
function anyInWindow(labels: Float32Array, back: number): Float32Array {
  const out = new Float32Array(labels.length);
  let last = -Infinity;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]) last = i;
    out[i] = i - last <= back ? 1 : 0;
  }
  return out;
}

function f32(data: Float32Array, dims: number[]): ort.Tensor {
  return new ort.Tensor("float32", data, dims);
}

/**
 * Loss and score of every window of `spec` with the evaluation graph (normalised inputs,
 * parameters as inputs), streamed in batches of EVAL_BATCH; without `collect` only the mean loss.
 */
async function evalWindows(
  session: ort.InferenceSession,
  def: ModelDef,
  windows: StreamingWindows,
  params: Map<string, Float32Array>,
  spec: WindowSpec,
  options: { collect: boolean; weightOf?: (label: number) => number },
): Promise<{ loss: Float32Array; score: Float32Array; labels?: Float32Array; meanLoss: number }> {
  const n = options.collect ? spec.count : 0;
  const loss = new Float32Array(n);
  const score = new Float32Array(n);
  const labels = options.collect && windows.labelled ? new Float32Array(n) : undefined;
  const T = def.seq;
  const F = def.features;
  const paramFeeds: Record<string, ort.Tensor> = {};
  for (const p of def.params) paramFeeds[p.name] = f32(params.get(p.name)!, p.shape);
  let lossSum = 0;
  let at = 0;
  for await (const batch of windows.batches(spec, EVAL_BATCH)) {
    const feeds: Record<string, ort.Tensor> = { ...paramFeeds, x: f32(batch.x, [batch.count, T, F]) };
    if (def.supervised) {
      feeds.label = f32(batch.labels!, [batch.count]);
      feeds.weight = f32(options.weightOf ? Float32Array.from(batch.labels!, options.weightOf) : new Float32Array(batch.count).fill(1), [batch.count]);
    }
    const out = await session.run(feeds, ["loss", "score"]);
    const batchLoss = out["loss"]!.data as Float32Array;
    for (const v of batchLoss) lossSum += v;
    if (options.collect) {
      loss.set(batchLoss, at);
      score.set(out["score"]!.data as Float32Array, at);
      labels?.set(batch.labels!, at);
    }
    at += batch.count;
  }
  return { loss, score, labels, meanLoss: at ? lossSum / at : NaN };
}

/**
 * Train one model end to end: prepare data (70/15/15 chronological split, z-score from the
 * training split), run epochs of one-session.run-per-batch steps with early stopping, then
 * evaluate on the validation/test splits and export float32 + int8 ONNX models.
 *
 * Resuming: pass `checkpoint` (from `onCheckpoint` or `TrainResult.checkpoint`) with the same
 * data; the checkpoint's hyperparameters are used (only `epochs` may be raised/lowered), and
 * the run continues from the exact batch where it stopped, ending with the same weights as an
 * uninterrupted run.
 *
 * Errors (DomainError "invalid"): training.labels_required, training.invalid_data,
 * training.insufficient_data, training.checkpoint_mismatch, training.invalid_checkpoint,
 * training.diverged.
 */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const attemptStarted = options.startedAt ?? performance.now();
  const architecture = Architecture.parse(options.architecture);
  if (!isChunked(options.data)) validateData(options.data);
  const data = isChunked(options.data) ? options.data : chunkedFromMemory(options.data, options.chunkRows);
  const given = HyperparametersGiven.parse(options.hyperparameters ?? {});
  const chosen = chooseHyperparameters(architecture, { rows: data.rows, features: data.features.length, samplingIntervalSeconds: data.samplingIntervalSeconds }, given);
  let hp = chosen.hyperparameters;
  if (isSupervised(architecture, hp) && !data.labelled)
    throw invalid("training.labels_required", architecture === "sentinel" ? "The sentinel architecture needs a 0/1 label column" : "loss \"bce\" needs a 0/1 label column", { architecture });

  let resumed: ReturnType<typeof decodeState> | undefined;
  if (options.checkpoint) {
    resumed = decodeState(options.checkpoint);
    if (resumed.architecture !== architecture) throw invalid("training.checkpoint_mismatch", "Checkpoint was written for another architecture", { checkpoint: resumed.architecture, architecture });
    hp = Hyperparameters.parse({ ...resumed.hp, ...(options.hyperparameters?.epochs !== undefined ? { epochs: options.hyperparameters.epochs } : {}) });
  }
  const T = hp.sequence_length;
  const stride = effectiveStride(hp);
  const supervised = isSupervised(architecture, hp);
  const windows = await openWindows(data, { architecture, supervised, seq: T, stride }, { ...DEFAULT_MEMORY, ...options.memory });
  try {
    return await trainOn(windows, architecture, hp, chosen.chosen_because, resumed, options, attemptStarted);
  } finally {
    await windows.release();
  }
}

async function trainOn(
  windows: StreamingWindows,
  architecture: ArchitectureT,
  hp: HyperparametersT,
  chosenBecause: Record<string, string>,
  resumed: ReturnType<typeof decodeState> | undefined,
  options: TrainOptions,
  attemptStarted: number,
): Promise<TrainResult> {
  const T = hp.sequence_length;
  const stride = effectiveStride(hp);
  if (resumed && resumed.fingerprint !== windows.fingerprint) throw invalid("training.checkpoint_mismatch", "Checkpoint was written for different training data");
  const F = windows.F;
  let def = defineModel(architecture, F, hp);

  // ---- windows per split
  const valLossSpec = windows.spec("val", stride, true);
  let weightOf: ((label: number) => number) | undefined;
  if (def.supervised) {
    const { windows: count, positive: pos } = windows.training;
    const neg = count - pos;
    if (pos === 0 || neg === 0)
      throw invalid("training.labels_required", "The training split needs both normal and failure windows", { positive_windows: pos, negative_windows: neg });
    // class-balanced weights (mean weight over the training windows = 1)
    const wPos = Math.fround(count / (2 * pos));
    const wNeg = Math.fround(count / (2 * neg));
    weightOf = (y) => (y ? wPos : wNeg);
  }

  // ---- state
  const st: TrainerState = resumed?.st ?? {
    epoch: 0,
    step: 0,
    cursor: 0,
    perm: null,
    order: null,
    block: 0,
    lossSum: 0,
    lossCount: 0,
    shuffleRng: new Rng(hp.seed ^ 0x5eed),
    dropRng: new Rng((hp.seed + 0x9e3779b9) >>> 0),
    params: initialParams(def, new Rng(hp.seed)),
    moments: new Map(),
    best: null,
    bestValLoss: Infinity,
    bestEpoch: 0,
    badEpochs: 0,
    done: false,
    history: [],
    elapsed: 0,
    setup: 0,
  };
  // baselines are fitted in closed form (a refit after a resume is as quick as reading a checkpoint)
  const fitted = isBaseline(architecture) ? await fitBaseline(architecture as "pca" | "kmeans" | "iforest", windows, windows.spec("train", stride, true), hp) : undefined;
  if (fitted) {
    def = fitted.def;
    Object.assign(st, { epoch: 0, done: false, history: [], best: null, bestValLoss: Infinity });
  }
  const step = fitted ? undefined : buildStepGraph(def);
  if (step && !resumed) for (const p of def.params) for (const k of step.stateKinds) st.moments.set(`${k}.${p.name}`, new Float32Array(st.params.get(p.name)!.length));
  const stepSession = step ? await createSession(step.bytes, "train") : undefined;
  const evalSession = await createSession(buildEvalGraph(def), "train");
  const metaCommon = { architecture, hp, fingerprint: windows.fingerprint };

  // Earlier attempts count up to the state resumed from; st.elapsed is overwritten at each checkpoint, so the
  // base is read once here (adding this attempt's time to a checkpointed elapsed would count it twice).
  const priorElapsed = st.elapsed;
  const elapsed = (at = performance.now()) => priorElapsed + (at - attemptStarted) / 1000;
  const loopStarted = performance.now();
  st.setup += (loopStarted - attemptStarted) / 1000;
  let epochStarted = loopStarted;
  const startEpoch = st.epoch;
  let stopped = false;
  let endedBy: TrainResult["endedBy"] = "epochs";
  const B = hp.batch_size;
  const p = hp.dropout;
  const keep = 1 / (1 - p);

  try {
    if (fitted) {
      // the score is scaled so normal training windows score about 1, then it is one "epoch"
      const trainSpec = windows.spec("train", stride, true);
      const probe = new Map(fitted.params);
      if (architecture === "pca") probe.set("pca.weights", Float32Array.of(0, 1));
      const raw = (await evalWindows(evalSession, def, windows, probe, trainSpec, { collect: false })).meanLoss;
      st.params = withScoreScale(fitted, { q: raw, score: raw });
      const trainLoss = (await evalWindows(evalSession, def, windows, st.params, trainSpec, { collect: false })).meanLoss;
      const valLoss = (await evalWindows(evalSession, def, windows, st.params, valLossSpec, { collect: false })).meanLoss;
      st.epoch = 1;
      st.done = true;
      st.best = st.params;
      st.bestValLoss = valLoss;
      st.bestEpoch = 1;
      st.history.push({ epoch: 1, train_loss: trainLoss, val_loss: valLoss });
      const at = performance.now();
      await options.onEpoch?.({
        epoch: 1,
        total_epochs: 1,
        train_loss: trainLoss,
        val_loss: valLoss,
        best_val_loss: valLoss,
        learning_rate: 0,
        elapsed_seconds: elapsed(at),
        epoch_seconds: (at - loopStarted) / 1000,
        setup_seconds: st.setup,
        estimated_remaining_seconds: 0,
      });
    }
    outer: while (stepSession && step && st.epoch < hp.epochs && !st.done) {
      while (windows.pending(st, B)) {
        if (options.shouldStop && (await options.shouldStop())) {
          stopped = true;
          break outer;
        }
        const batch = await windows.next(st, B);
        const bs = batch.count;
        const feeds: Record<string, ort.Tensor> = { x: f32(batch.x, [bs, T, F]) };
        if (def.supervised) {
          feeds.label = f32(batch.labels!, [bs]);
          feeds.weight = f32(Float32Array.from(batch.labels!, weightOf!), [bs]);
        }
        for (const m of def.masks) {
          const mask = new Float32Array(bs * m.dim);
          for (let i = 0; i < mask.length; i++) mask[i] = st.dropRng.next() < p ? 0 : keep;
          feeds[m.name] = f32(mask, [bs, m.dim]);
        }
        for (const prm of def.params) {
          feeds[prm.name] = f32(st.params.get(prm.name)!, prm.shape);
          for (const k of step.stateKinds) feeds[`${k}.${prm.name}`] = f32(st.moments.get(`${k}.${prm.name}`)!, prm.shape);
        }
        const t = st.step + 1;
        feeds.lr = f32(Float32Array.of(hp.learning_rate), []);
        feeds.c1 = f32(Float32Array.of(1 / (1 - ADAM_BETA1 ** t)), []);
        feeds.c2 = f32(Float32Array.of(1 / (1 - ADAM_BETA2 ** t)), []);
        const out = await stepSession.run(feeds);
        const loss = (out["loss"]!.data as Float32Array)[0]!;
        if (!Number.isFinite(loss)) throw invalid("training.diverged", "Training loss became non-finite; lower the learning rate", { epoch: st.epoch + 1, step: t });
        for (const prm of def.params) {
          st.params.set(prm.name, out[`new.${prm.name}`]!.data as Float32Array);
          for (const k of step.stateKinds) st.moments.set(`${k}.${prm.name}`, out[`new.${k}.${prm.name}`]!.data as Float32Array);
        }
        st.step = t;
        st.lossSum += loss * bs;
        st.lossCount += bs;
      }
      // ---- epoch end
      const valLoss = (await evalWindows(evalSession, def, windows, st.params, valLossSpec, { collect: false, weightOf })).meanLoss;
      const trainLoss = st.lossCount ? st.lossSum / st.lossCount : NaN;
      st.lossSum = 0;
      st.lossCount = 0;
      st.epoch++;
      st.history.push({ epoch: st.epoch, train_loss: trainLoss, val_loss: valLoss });
      if (valLoss < st.bestValLoss) {
        st.bestValLoss = valLoss;
        st.bestEpoch = st.epoch;
        st.best = new Map(st.params); // arrays are never mutated (each step returns new ones)
        st.badEpochs = 0;
      } else if (++st.badEpochs >= hp.patience) {
        st.done = true;
        endedBy = "early_stopping";
      }
      if (!st.done && st.epoch < hp.epochs && elapsed() > hp.time_budget_seconds) {
        st.done = true;
        endedBy = "time_budget";
      }
      windows.endEpoch(st);
      const epochEnded = performance.now();
      const el = elapsed(epochEnded);
      const epochSeconds = (epochEnded - epochStarted) / 1000;
      epochStarted = epochEnded;
      const perEpoch = (epochEnded - loopStarted) / 1000 / Math.max(1, st.epoch - startEpoch);
      await options.onEpoch?.({
        epoch: st.epoch,
        total_epochs: hp.epochs,
        train_loss: trainLoss,
        val_loss: valLoss,
        best_val_loss: st.bestValLoss,
        learning_rate: hp.learning_rate,
        elapsed_seconds: el,
        epoch_seconds: epochSeconds,
        setup_seconds: st.setup,
        estimated_remaining_seconds: st.done ? 0 : perEpoch * (hp.epochs - st.epoch),
      });
      const every = options.checkpointEvery ?? 1;
      if (options.onCheckpoint && every > 0 && st.epoch % every === 0 && st.epoch < hp.epochs && !st.done) {
        st.elapsed = elapsed();
        await options.onCheckpoint(encodeState(st, metaCommon), st.epoch);
      }
    }
    if (stopped) endedBy = "stopped";
    st.elapsed = elapsed();
    const checkpoint = encodeState(st, metaCommon);
    if (stopped && options.onCheckpoint) await options.onCheckpoint(checkpoint, st.epoch);

    // ---- evaluation and export with the best weights
    const finalParams = st.best ?? st.params;
    // stride-1 windows, evenly strided beyond maxEvalWindows so the score arrays stay bounded
    const maxEval = options.maxEvalWindows ?? MAX_EVAL_WINDOWS;
    const evalSpec = (split: "val" | "test") => windows.spec(split, Math.max(1, Math.ceil(windows.spec(split, 1, false).count / maxEval)), false);
    const valSpec = evalSpec("val");
    const testSpec = evalSpec("test");
    const valEval = await evalWindows(evalSession, def, windows, finalParams, valSpec, { collect: true });
    const testEval = await evalWindows(evalSession, def, windows, finalParams, testSpec, { collect: true });
    // the threshold is calibrated on validation scores smoothed as in the field; alarms add persistence
    const postprocess: PostProcess = { smoothing_windows: hp.smoothing_windows, persistence_n: hp.persistence_n, persistence_m: hp.persistence_m };
    const valScores = smooth(valEval.score, postprocess.smoothing_windows);
    // calibrate on windows free of any labelled row: a forecast window labelled by its last row may still hold a fault
    const calibrationLabels = valEval.labels && architecture !== "lstm_autoencoder" ? anyInWindow(valEval.labels, Math.ceil((T - 1) / valSpec.stride)) : valEval.labels;
    const { threshold, rule } = chooseThreshold(def.supervised ? "sentinel" : architecture, valScores, calibrationLabels);
    const test = alarmsOf(testEval.score, threshold, postprocess);
    let metrics: Evaluation["metrics"] = null;
    let cm: Evaluation["confusion_matrix"] = null;
    if (testEval.labels) {
      const r = metricsOf(test.alarms, testEval.labels, test.smoothed);
      metrics = r.metrics;
      cm = r.cm;
    }
    let alarms = 0;
    for (const a of test.alarms) alarms += a;
    const evaluation: Evaluation = {
      threshold,
      threshold_rule: rule,
      window_label_rule: windows.labelled
        ? architecture === "lstm_autoencoder"
          ? "window is anomalous if any of its rows is labelled 1"
          : "window takes the label of its last row"
        : null,
      val_windows: valScores.length,
      test_windows: test.smoothed.length,
      metrics,
      confusion_matrix: cm,
      score_distribution: distribution(test.smoothed),
      validation_score_distribution: distribution(valScores),
      expected_alarm_rate: test.alarms.length ? alarms / test.alarms.length : 0,
      postprocess,
      event_detection: testEval.labels ? eventDetection(test.alarms, testEval.labels) : null,
      score_timeline: scoreTimeline(test.smoothed, test.alarms, testEval.labels),
      training_curves: { epochs: st.history.map((h) => h.epoch), train_loss: st.history.map((h) => h.train_loss), val_loss: st.history.map((h) => h.val_loss) },
    };

    const parameters = def.params.reduce((s, q) => s + q.shape.reduce((a, b) => a * b, 1), 0);
    const metadata: Record<string, string> = {
      "flint.format": "1",
      architecture,
      task: def.supervised ? "classification" : architecture === "lstm_autoencoder" ? "reconstruction" : fitted ? "distance" : "forecast",
      features: JSON.stringify(windows.features),
      n_features: String(F),
      sequence_length: String(T),
      threshold: String(threshold),
      threshold_rule: rule,
      hyperparameters: JSON.stringify({ ...hp, stride }),
      postprocess: JSON.stringify(postprocess),
      normalisation: JSON.stringify({ method: "zscore", mean: Array.from(windows.mean), std: Array.from(windows.std) }),
      training_data_sha256: windows.fingerprint,
      score: architecture === "pca"
        ? "T²/K + Q/mean training Q of the standardised window statistics (last row, mean, std per sensor)"
        : architecture === "kmeans"
          ? "squared distance of the standardised window statistics to the nearest cluster of normal windows, over its training mean"
          : architecture === "iforest"
            ? "isolation score 2^(−mean path length / c(256)) of the standardised window statistics over the trees, in (0, 1)"
          : def.supervised ? "failure probability σ(logit) in [0,1]" : architecture === "lstm_autoencoder" ? `mean ${hp.loss === "bce" ? "mse" : hp.loss} reconstruction error over time and features (normalised units)` : `mean ${hp.loss === "bce" ? "mse" : hp.loss} error of the last-step forecast over features (normalised units)`,
      window_label_rule: evaluation.window_label_rule ?? "",
      outputs: JSON.stringify(["score", architecture === "lstm_autoencoder" ? "reconstruction" : fitted ? "statistics" : def.supervised ? "health" : "forecast"]),
      parameters: String(parameters),
      best_epoch: String(st.bestEpoch),
      val_loss: String(st.bestValLoss),
      sampling_interval_seconds: options.data.samplingIntervalSeconds !== undefined ? String(options.data.samplingIntervalSeconds) : "",
    };
    const norm = { mean: windows.mean, std: windows.std };
    const model = buildInferenceModel(def, finalParams, norm, metadata, false);
    const quantizedModel = buildInferenceModel(def, finalParams, norm, metadata, true);

    // ---- int8 deviation on (up to QUANT_CHECK_WINDOWS evenly spaced) validation windows
    const nv = valSpec.count;
    const k = Math.min(nv, QUANT_CHECK_WINDOWS);
    const pick = Uint32Array.from({ length: k }, (_, i) => Math.floor((i * nv) / k));
    const [fs, qs] = await Promise.all([createSession(model), createSession(quantizedModel)]);
    let maxDev = 0;
    let sumDev = 0;
    try {
      for (let from = 0; from < k; from += EVAL_BATCH) {
        const to = Math.min(k, from + EVAL_BATCH);
        const x = f32(await windows.rawWindows(valSpec, pick.subarray(from, to)), [to - from, T, F]);
        const a = (await fs.run({ input: x }, ["score"]))["score"]!.data as Float32Array;
        const b = (await qs.run({ input: x }, ["score"]))["score"]!.data as Float32Array;
        for (let i = 0; i < a.length; i++) {
          const d = Math.abs(a[i]! - b[i]!);
          sumDev += d;
          if (d > maxDev) maxDev = d;
        }
      }
    } finally {
      await Promise.all([fs.release(), qs.release()]);
    }
    return {
      stopped,
      hyperparameters: { ...hp, stride },
      chosenBecause,
      endedBy,
      epochsRun: st.epoch,
      bestValLoss: st.bestValLoss,
      history: st.history,
      parameters,
      model,
      quantizedModel,
      quantization: {
        float_bytes: model.length,
        int8_bytes: quantizedModel.length,
        ratio: quantizedModel.length / model.length,
        max_abs_score_deviation: maxDev,
        mean_abs_score_deviation: k ? sumDev / k : 0,
      },
      threshold,
      evaluation,
      metadata,
      checkpoint,
      elapsedSeconds: elapsed(),
      setupSeconds: st.setup,
    };
  } finally {
    await Promise.all([stepSession?.release(), evalSession.release()]);
  }
}
