import { Entity, type EntityItem } from "electrodb";
import { entityConfig } from "../db";

/**
 * A trained model. Its ONNX files live in S3 under
 * tenants/<tenant>/models/<modelId>/ (model.onnx float32, model.int8.onnx).
 * The id derives from the training run's id, so a run can only ever create
 * one model, however often its message is delivered.
 */
export const ModelEntity = new Entity(
  {
    model: { entity: "model", version: "1", service: "flint" },
    attributes: {
      tenantId: { type: "string", required: true, readOnly: true },
      modelId: { type: "string", required: true, readOnly: true },
      name: { type: "string", required: true },
      architecture: { type: "string", required: true, readOnly: true },
      datasetId: { type: "string", required: true, readOnly: true },
      equipmentType: { type: "string" },
      trainingRunId: { type: "string", required: true, readOnly: true },
      evaluationId: { type: "string" },
      parameters: { type: "number", required: true },
      featureNames: { type: "list", items: { type: "string" }, required: true },
      hiddenDim: { type: "number" },
      bottleneckDim: { type: "number" },
      numLayers: { type: "number" },
      sequenceLength: { type: "number", required: true },
      hyperparameters: { type: "any", required: true },
      metrics: { type: "any", required: true },
      threshold: { type: "number" },
      fileSizeBytes: { type: "number", required: true },
      quantized: { type: "boolean", default: false },
      quantizedSizeBytes: { type: "number" },
      quantization: { type: "any" },
      /** Trained to the end (`ready`) or cut short by a stop (`ready` with stoppedEarly). */
      status: { type: ["ready", "deleting"] as const, required: true, default: "ready" },
      stoppedEarly: { type: "boolean", default: false },
      epochsTrained: { type: "number" },
      createdAt: { type: "string", required: true, readOnly: true, default: () => new Date().toISOString() },
      updatedAt: { type: "string", watch: "*", set: () => new Date().toISOString(), default: () => new Date().toISOString() },
    },
    indexes: {
      byId: {
        pk: { field: "pk", composite: ["tenantId", "modelId"] },
        sk: { field: "sk", composite: [] },
      },
      byTenant: {
        index: "gsi1",
        pk: { field: "gsi1pk", composite: ["tenantId"] },
        sk: { field: "gsi1sk", composite: ["modelId"] },
      },
    },
  },
  entityConfig,
);

export type ModelItem = EntityItem<typeof ModelEntity>;
