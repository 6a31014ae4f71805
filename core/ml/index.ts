/**
 * core/ml — Flint's training / evaluation / export engine. All numeric work runs in
 * ONNX Runtime; models are ONNX files end to end. See README.md for the graph layout.
 */
export { chooseHyperparameters, STEP_BUDGET, type ChosenHyperparameters, type DataShape } from "./defaults";
export { Architecture, Hyperparameters, HyperparametersGiven, effectiveStride, type HyperparametersGivenT, type ArchitectureT, type HyperparametersInput, type HyperparametersT } from "./schema";
export type { TrainingData } from "./data";
export { SPLIT, splitBounds, MIN_CALIBRATION_WINDOWS, MIN_TRAINING_WINDOWS } from "./data";
export { train, type EpochEvent, type TrainOptions, type TrainResult } from "./train";
export { score, readModelMetadata, decodeModel, type DecodedInitializer } from "./io";
export { compareModels, chooseThreshold, aucRoc, averagePrecision, alarmsOf, distribution, THRESHOLD_QUANTILE, FALSE_ALARM_BUDGET, NO_POSTPROCESS, type PostProcess, type Evaluation, type ConfusionMatrix, type ScoreDistribution } from "./evaluate";
export { Graph, OPSET, type Tensor, type Dim, type DType } from "./graph";
export { encodeModel, decodeModelProto, DataType, type ModelMsg } from "./onnx";
export { defineModel, forward, type ModelDef, type ParamSpec } from "./models";
export { buildStepGraph, buildEvalGraph, buildInferenceModel, quantizePerColumn } from "./engine";
export { trainAuto, autoPlan, candidatesFor, AUTO_CANDIDATES, CandidateFigures, type AutoResult, type AutoEpochEvent } from "./auto";
export { injectFaults, INJECTED_FAULTS } from "./inject";
