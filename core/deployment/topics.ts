/** Lets WebSocket clients subscribe to `deployment:<id>` for their own tenant's deployments. */
import { registerTopic } from "../realtime/topics";
import { get } from "./index";

registerTopic("deployment", (id) => get(id));
