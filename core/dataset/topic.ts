// Lets clients subscribe to `dataset:<id>` for ingest events (tenant-scoped lookup).
import { registerTopic } from "../realtime/topics";
import { get } from "./index";

registerTopic("dataset", (id) => get(id));
