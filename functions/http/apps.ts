/**
 * Every endpoint group, each deployed as its own Lambda (stacks/Api.ts). The
 * local runtime mounts the same apps on one port, and the OpenAPI document is
 * assembled from them.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Env } from "./common";

export const endpointGroups: Record<string, () => Promise<{ app: OpenAPIHono<Env, any, any> }>> = {};
