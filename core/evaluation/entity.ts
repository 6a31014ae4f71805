import { Entity, type EntityItem } from "electrodb";
import { entityConfig } from "../db";

/**
 * The evaluation of a model on its dataset's held-out test split, made when
 * the run finishes; the optional gradient evaluation is added later.
 */
export const EvaluationEntity = new Entity(
  {
    model: { entity: "evaluation", version: "1", service: "flint" },
    attributes: {
      tenantId: { type: "string", required: true, readOnly: true },
      evaluationId: { type: "string", required: true, readOnly: true },
      modelId: { type: "string", required: true, readOnly: true },
      trainingRunId: { type: "string", required: true, readOnly: true },
      datasetId: { type: "string", required: true, readOnly: true },
      metrics: { type: "any", required: true },
      confusionMatrix: { type: "any" },
      trainingCurves: { type: "any", required: true },
      scoreDistribution: { type: "any" },
      details: { type: "any" },
      gradientStatus: { type: ["none", "running", "completed", "failed"] as const, default: "none" },
      gradientEvaluation: { type: "any" },
      gradientError: { type: "string" },
      gradientRequestedAt: { type: "string" },
      createdAt: { type: "string", required: true, readOnly: true, default: () => new Date().toISOString() },
      updatedAt: { type: "string", watch: "*", set: () => new Date().toISOString(), default: () => new Date().toISOString() },
    },
    indexes: {
      byId: {
        pk: { field: "pk", composite: ["tenantId", "evaluationId"] },
        sk: { field: "sk", composite: [] },
      },
      byTenant: {
        index: "gsi1",
        pk: { field: "gsi1pk", composite: ["tenantId"] },
        sk: { field: "gsi1sk", composite: ["evaluationId"] },
      },
    },
  },
  entityConfig,
);

export type EvaluationItem = EntityItem<typeof EvaluationEntity>;
