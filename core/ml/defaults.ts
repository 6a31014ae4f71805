/**
 * Hyperparameters chosen from the data for every field the user left out, each
 * with the reason it was chosen (shown on the run as `chosen_because`). The aim
 * is a model that learns on a first upload of a few hundred rows as well as on
 * months of data: windows that fit the recording, enough optimizer steps, and a
 * model no larger than the data can train.
 */
import { splitBounds } from "./data";
import { Hyperparameters, isBaseline, type ArchitectureT, type HyperparametersGivenT, type HyperparametersT } from "./schema";

export interface DataShape {
  rows: number;
  features: number;
  samplingIntervalSeconds?: number;
}

export interface ChosenHyperparameters {
  hyperparameters: HyperparametersT;
  /** Why each field the user left out has its value. */
  chosen_because: Record<string, string>;
}

/** Optimizer steps a run aims for when the user sets no epoch count. */
export const STEP_BUDGET = 2_000;
/** Training windows per epoch beyond which the training stride grows. */
const WINDOWS_PER_EPOCH = 50_000;
/** Below this many training windows the smaller model is chosen. */
const SMALL_DATA_WINDOWS = 5_000;

function duration(rows: number, interval?: number): string {
  if (!interval) return `${rows} rows`;
  const seconds = rows * interval;
  const text = seconds < 120 ? `${Math.round(seconds)} s` : seconds < 7_200 ? `${Math.round(seconds / 60)} min` : `${(seconds / 3_600).toFixed(1)} h`;
  return `${rows} rows (${text})`;
}

function floorPow2(value: number): number {
  return 2 ** Math.floor(Math.log2(Math.max(1, value)));
}

/**
 * Fills in the hyperparameters the user did not give from the dataset's shape.
 * Given values are kept as they are (and validated by the same schema).
 */
export function chooseHyperparameters(architecture: ArchitectureT, shape: DataShape, given: HyperparametersGivenT = {}): ChosenHyperparameters {
  const because: Record<string, string> = {};
  const chosen: Partial<HyperparametersT> = {};
  const pick = <K extends keyof HyperparametersT>(key: K, value: HyperparametersT[K], reason: string): HyperparametersT[K] => {
    if (given[key] !== undefined) return given[key] as HyperparametersT[K];
    because[key] = reason;
    chosen[key] = value;
    return value;
  };
  const rows = shape.rows;
  const interval = shape.samplingIntervalSeconds;

  // Short windows: an alarm starts up to a window late and lingers up to a window after a fault clears
  // (measured on the pump recordings: windows of 20 rows gave a third of the false-alarm rate of 60).
  const longest = 20;
  const fitting = Math.max(8, Math.min(longest, Math.floor(rows / 20)));
  const seq = pick(
    "sequence_length",
    fitting,
    fitting === longest
      ? `windows of ${duration(longest, interval)}: alarms start at most one window late and end at most one window after the fault`
      : `windows of ${duration(fitting, interval)}: a twentieth of the ${rows} rows, so training, validation and test each hold many overlapping windows`,
  );
  let trainRows: number;
  try {
    const bounds = splitBounds(rows, seq);
    trainRows = bounds.train[1] - bounds.train[0];
  } catch {
    // too few rows: training reports training.insufficient_data with the numbers
    trainRows = Math.max(seq, Math.floor(rows * 0.7));
  }
  const windowsAtStride1 = Math.max(1, trainRows - seq + 1);
  const strideChosen = Math.max(1, Math.min(Math.max(1, Math.round(seq / 6)), Math.ceil(windowsAtStride1 / WINDOWS_PER_EPOCH)));
  const stride =
    pick(
    "stride",
    strideChosen,
    strideChosen === 1
      ? `every window: the training split has ${windowsAtStride1} windows, few enough to use them all each epoch`
      : `every ${strideChosen}th window: keeps an epoch near ${WINDOWS_PER_EPOCH} of the ${windowsAtStride1} training windows`,
  ) ?? strideChosen;
  const windows = Math.floor((trainRows - seq) / stride) + 1;
  const small = windows < SMALL_DATA_WINDOWS;
  const batch = pick(
    "batch_size",
    Math.max(16, Math.min(64, floorPow2(windows / 16))),
    `${Math.max(16, Math.min(64, floorPow2(windows / 16)))}: at least 16 optimizer steps per epoch over ${windows} training windows`,
  );
  if (isBaseline(architecture)) {
    pick("epochs", 1, "fitted in closed form: one pass over the training windows, no epochs");
    const clusters = Math.max(2, Math.min(16, Math.floor(windows / 50)));
    if (architecture === "kmeans") pick("clusters", clusters, `${clusters} clusters: about 50 training windows each, at most 16`);
    return finishAlarms(small, pick, given, chosen, because);
  }
  const hidden = pick(
    "hidden_dim",
    small ? 32 : 64,
    small ? `32: ${windows} training windows are too few for a larger model to generalise` : `64: ${windows} training windows support the larger model`,
  );
  pick("num_layers", small ? 1 : 2, small ? "1 layer: small data" : "2 layers: enough data for a deeper model");
  pick("bottleneck_dim", Math.max(4, Math.min(hidden / 2, Math.ceil(shape.features * 1.5))), "half the hidden size, and no more than 1.5 × the sensors so the model must compress");
  const stepsPerEpoch = Math.ceil(windows / batch);
  const epochs = pick(
    "epochs",
    Math.max(3, Math.min(300, Math.ceil(STEP_BUDGET / stepsPerEpoch))),
    `${STEP_BUDGET} optimizer steps at ${stepsPerEpoch} per epoch (bounded by time_budget_seconds and early stopping)`,
  );
  pick("patience", Math.max(10, Math.round(epochs / 8)), `early stopping after ${Math.max(10, Math.round(epochs / 8))} epochs without a better validation loss`);
  pick("dropout", small ? 0 : 0.1, small ? "none: early stopping regularises a small model, and dropout slows what it learns from few windows" : "0.1 on the non-recurrent activations");
  pick("learning_rate", small ? 0.003 : 0.001, small ? "0.003: few steps on a small model" : "0.001: Adam's usual rate for a larger model");
  return finishAlarms(small, pick, given, chosen, because);
}

type Pick = <K extends keyof HyperparametersT>(key: K, value: HyperparametersT[K], reason: string) => HyperparametersT[K];

/** Alarm post-processing (average a few windows and ask a condition to persist before raising it), then the whole set. */
function finishAlarms(
  small: boolean,
  pick: Pick,
  given: HyperparametersGivenT,
  chosen: Partial<HyperparametersT>,
  because: Record<string, string>,
): ChosenHyperparameters {
  const smoothing = pick("smoothing_windows", small ? 3 : 5, `mean of ${small ? 3 : 5} consecutive window scores before the threshold: one noisy window never raises an alarm`);
  const m = pick("persistence_m", Math.max(3, smoothing), "alarm persistence window");
  pick("persistence_n", Math.max(2, Math.ceil((m * 2) / 3)), `an alarm needs ${Math.max(2, Math.ceil((m * 2) / 3))} of the last ${m} smoothed scores over the threshold`);
  return { hyperparameters: Hyperparameters.parse({ ...given, ...chosen }), chosen_because: because };
}
