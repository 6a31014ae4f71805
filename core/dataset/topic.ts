/**
 * The `dataset:<id>` topic (tenant-scoped lookup): ingest events, and for a
 * new subscriber a snapshot of the dataset's status with `dataset.ready` or
 * `dataset.failed` once ingest is over.
 */
import { DatasetFailed, DatasetReady, message } from "../realtime/events";
import { registerTopic } from "../realtime/topics";
import { failedPayload, get, readyPayload } from "./index";

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
      dataset.status === "ready"
        ? [message(DatasetReady, readyPayload(dataset.id, dataset))]
        : dataset.status === "failed" && dataset.failure
          ? [message(DatasetFailed, failedPayload(dataset.id, dataset.failure))]
          : [];
    return { state, events };
  },
});
