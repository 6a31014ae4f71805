/**
 * The `dataset:<id>` topic (tenant-scoped lookup): ingest events, and for a
 * new subscriber a snapshot of the dataset's status with `dataset.ready` or
 * `dataset.failed` once ingest is over.
 */
import { registerTopic } from "../realtime/topics";
import { failedEvent, get, readyEvent } from "./index";

registerTopic("dataset", {
  find: get,
  async snapshot(id) {
    const dataset = await get(id);
    const state = {
      id: dataset.id,
      status: dataset.status,
      row_count: dataset.row_count,
      columns: dataset.columns,
      is_validated: dataset.is_validated,
      failure: dataset.failure,
      updated_at: dataset.updated_at,
    };
    const events =
      dataset.status === "ready" ? [readyEvent(dataset.id, dataset)] : dataset.status === "failed" && dataset.failure ? [failedEvent(dataset.id, dataset.failure)] : [];
    return { state, events };
  },
});
