import type { SSTConfig } from "sst";
import { Storage } from "./stacks/Storage";
import { Realtime } from "./stacks/Realtime";
import { Jobs } from "./stacks/Jobs";
import { Api } from "./stacks/Api";
import { Web } from "./stacks/Web";

export default {
  config(input) {
    return {
      name: "flint",
      region: input.region ?? "us-east-1",
    };
  },
  stacks(app) {
    // App-wide Lambda defaults, set once. Functions override only what differs
    // (timeout, memory, native installs).
    app.setDefaultFunctionProps({
      runtime: "nodejs20.x",
      architecture: "x86_64",
      tracing: "active",
      logRetention: "one_month",
      nodejs: { format: "esm" },
    });
    // Ephemeral stages clean up after themselves; production keeps its data
    // (the table and bucket also set RETAIN explicitly there).
    if (app.stage !== "production") app.setDefaultRemovalPolicy("destroy");

    app.stack(Storage).stack(Realtime).stack(Jobs).stack(Api).stack(Web);
  },
} satisfies SSTConfig;
