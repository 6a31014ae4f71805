/**
 * Every endpoint group but meta, for assembling the OpenAPI document. Each is
 * deployed as its own Lambda (stacks/Api.ts) and dispatched by
 * functions/http/routes.ts locally.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Env } from "./common";

type GroupModule = Promise<{ app: OpenAPIHono<Env, any, any> }>;

export const endpointGroups: Record<string, () => GroupModule> = {
  accounts: () => import("./accounts") as unknown as GroupModule,
  admin: () => import("./admin") as unknown as GroupModule,
  datasets: () => import("./datasets") as unknown as GroupModule,
  connections: () => import("./connections") as unknown as GroupModule,
  training: () => import("./training") as unknown as GroupModule,
  models: () => import("./models") as unknown as GroupModule,
  deployments: () => import("./deployments") as unknown as GroupModule,
  secrets: () => import("./secrets") as unknown as GroupModule,
  workers: () => import("./workers") as unknown as GroupModule,
  services: () => import("./services") as unknown as GroupModule,
  billing: () => import("./billing") as unknown as GroupModule,
  "stripe-webhook": () => import("./stripe-webhook") as unknown as GroupModule,
};
