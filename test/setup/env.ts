// Points core's config at the test runtime's services inside every test worker.
import { inject } from "vitest";

Object.assign(process.env, inject("runtimeEnv"));
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
