/**
 * The trainer's view of a dataset: its columnar copy read from S3 chunk by
 * chunk (numeric sensors as features, the label column as 0/1 labels), so a
 * run's memory is bounded by a few chunks plus the model whatever the
 * dataset's size.
 */
import { openNumericChunks } from "../dataset/chunks";
import { invalid } from "../error";
import type { ChunkedData } from "../ml/stream";

/**
 * Opens a dataset for training.
 * @throws dataset.not_found, dataset.not_ready, training.invalid_data (a chunk lacks a feature)
 */
export async function openTrainingData(tenantId: string, datasetId: string): Promise<ChunkedData> {
  const chunks = await openNumericChunks(tenantId, datasetId);
  const features = chunks.columns.filter((name) => name !== chunks.labelColumn);
  const labelColumn = chunks.labelColumn && chunks.columns.includes(chunks.labelColumn) ? chunks.labelColumn : undefined;
  return {
    features,
    rows: chunks.rows,
    chunkRows: chunks.chunkRows,
    labelled: labelColumn !== undefined,
    samplingIntervalSeconds: chunks.samplingIntervalSeconds,
    read: async (index) => {
      const numeric = await chunks.read(index);
      const columns = features.map((name) => {
        const column = numeric[name];
        if (!column) throw invalid("training.invalid_data", `Chunk ${index} of the dataset has no column '${name}'`, { chunk: index, feature: name });
        return column;
      });
      const labelValues = labelColumn ? numeric[labelColumn] : undefined;
      return { columns, labels: labelValues ? Uint8Array.from(labelValues, (value) => (value >= 0.5 ? 1 : 0)) : undefined };
    },
  };
}
