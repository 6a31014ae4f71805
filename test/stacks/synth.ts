/**
 * Synthesizes the real SST app (sst.config.ts + stacks/) offline.
 *
 * - initProject() loads sst.config.ts the way the CLI does (for name, region,
 *   stage and SSM prefix); the stacks come from importing sst.config.ts.
 * - The App is in "deploy" mode but app.finish() is never called: SST builds
 *   Lambda bundles (esbuild) and container images in finish()'s deferred
 *   tasks, so no handler has to exist and nothing is bundled or built. Until
 *   then an SST Function carries inline placeholder code; everything IAM,
 *   event sources, routes and environment are already in place.
 * - Docker image assets are only fingerprinted (the context is filtered by
 *   .dockerignore); asset staging is disabled, so nothing is copied or built.
 * - The account is a fixed fake one: no AWS call is made.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { initProject, useProject } from "sst/project.js";
import { App, type Stack } from "sst/constructs";
import { Template } from "aws-cdk-lib/assertions";
import sstConfig from "../../sst.config";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const ACCOUNT = "123456789012";

export interface Synth {
  app: App;
  stacks: Record<"Storage" | "Realtime" | "Jobs" | "Api" | "Web", Stack>;
  templates: Record<"Storage" | "Realtime" | "Jobs" | "Api" | "Web", Template>;
}

export async function synth(stage: string, context: Record<string, string> = {}): Promise<Synth> {
  process.env.NODE_ENV = "test";
  await initProject({ stage, root: ROOT });
  const { config } = useProject();
  const app = new App(
    { mode: "deploy", stage, name: config.name, region: config.region, account: ACCOUNT },
    { context: { "aws:cdk:disable-asset-staging": true, ...context } },
  );
  await sstConfig.stacks(app);

  const find = (name: string) => {
    const stack = app.node.tryFindChild(app.logicalPrefixedName(name));
    if (!stack) throw new Error(`stack ${name} was not created`);
    return stack as Stack;
  };
  const stacks = {
    Storage: find("Storage"),
    Realtime: find("Realtime"),
    Jobs: find("Jobs"),
    Api: find("Api"),
    Web: find("Web"),
  };
  const templates = {
    Storage: Template.fromStack(stacks.Storage),
    Realtime: Template.fromStack(stacks.Realtime),
    Jobs: Template.fromStack(stacks.Jobs),
    Api: Template.fromStack(stacks.Api),
    Web: Template.fromStack(stacks.Web),
  };
  return { app, stacks, templates };
}
