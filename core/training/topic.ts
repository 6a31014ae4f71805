/** Makes `run:<id>` subscribable: only the calling tenant's own runs resolve. */
import { registerTopic } from "../realtime/topics";
import { TrainingRun } from "./index";

registerTopic("run", (id) => TrainingRun.get(id));
