/**
 * `npm run bench [-- ingest ml quality realtime compile load memory connectors dashboard]`: every benchmark, each
 * printing its figures next to the alternatives measured in the same run.
 */
// Figures only: keep the local runtime's request logs and the SDK's Node-version notice out of them.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
process.env.FLINT_LOG_LEVEL ??= "ERROR";

const all = ["ingest", "ml", "quality", "realtime", "compile", "load", "memory", "connectors", "dashboard"] as const;
type Bench = (typeof all)[number];

const requested = process.argv.slice(2).filter((arg): arg is Bench => (all as readonly string[]).includes(arg));
const selected: readonly Bench[] = requested.length > 0 ? requested : all;

const runners: Record<Bench, () => Promise<unknown>> = {
  ingest: async () => (await import("./ingest")).benchIngest(),
  ml: async () => (await import("./ml")).benchMl(),
  quality: async () => (await import("./quality")).benchQuality(),
  realtime: async () => {
    const result = await (await import("./realtime")).benchRealtime();
    console.log(JSON.stringify(result, null, 2));
  },
  compile: async () => (await import("./compile")).benchCompile(),
  load: async () => {
    const { benchLoad, printLoad } = await import("./load");
    printLoad(await benchLoad());
  },
  memory: async () => (await import("./memory")).benchMemory(),
  connectors: async () => {
    const { benchConnectors, printConnectors } = await import("./connectors");
    printConnectors(await benchConnectors());
  },
  dashboard: async () => {
    const { benchDashboard, printDashboard } = await import("./dashboard");
    printDashboard(await benchDashboard());
  },
};

for (const name of selected) {
  console.log(`\n=== ${name} ===`);
  const started = Date.now();
  await runners[name]();
  console.log(`(${name}: ${((Date.now() - started) / 1000).toFixed(1)} s)`);
}
process.exit(0);
export {};
