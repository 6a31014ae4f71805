/**
 * The HTTP route table: which endpoint group (one Lambda each) serves which
 * API Gateway route. stacks/Api.ts deploys it and the local runtime dispatches
 * with it, so both expose exactly the same surface.
 */
export interface EndpointGroup {
  /** functions/http/<name>.ts exports `app` and `handler`. */
  name: string;
  routes: string[];
}

export const endpointGroupRoutes: EndpointGroup[] = [
  {
    name: "meta",
    routes: ["GET /health", "GET /.well-known/jwks.json", "GET /api/v1/openapi.json", "GET /api/v1/system/metrics"],
  },
  {
    name: "accounts",
    routes: [
      "ANY /api/v1/auth/{proxy+}",
      "ANY /api/v1/mfa/{proxy+}",
      "ANY /api/v1/profile",
      "ANY /api/v1/profile/{proxy+}",
      "ANY /api/v1/push/{proxy+}",
    ],
  },
  { name: "admin", routes: ["ANY /api/v1/admin/{proxy+}", "ANY /api/v1/audit/{proxy+}"] },
  // Controllers' telemetry is data coming in: the datasets group (its body limit) takes it.
  { name: "datasets", routes: ["ANY /api/v1/datasets", "ANY /api/v1/datasets/{proxy+}", "POST /api/v1/devices/telemetry", "ANY /api/v1/upload/{proxy+}"] },
  { name: "connections", routes: ["ANY /api/v1/connections", "ANY /api/v1/connections/{proxy+}"] },
  {
    name: "training",
    routes: ["ANY /api/v1/training", "ANY /api/v1/training/{proxy+}", "ANY /api/v1/webhooks", "ANY /api/v1/webhooks/{proxy+}"],
  },
  {
    name: "models",
    routes: ["ANY /api/v1/models", "ANY /api/v1/models/{proxy+}", "ANY /api/v1/evaluations", "ANY /api/v1/evaluations/{proxy+}"],
  },
  {
    name: "deployments",
    routes: ["ANY /api/v1/deployments", "ANY /api/v1/deployments/{proxy+}", "ANY /api/v1/devices/{proxy+}"],
  },
  { name: "secrets", routes: ["ANY /api/v1/secrets", "ANY /api/v1/secrets/{proxy+}"] },
  // The fleet's admin routes are more specific than the admin group's /admin/{proxy+}.
  {
    name: "workers",
    routes: ["ANY /api/v1/workers/{proxy+}", "ANY /api/v1/admin/workers", "ANY /api/v1/admin/workers/{proxy+}"],
  },
  { name: "services", routes: ["ANY /api/v1/services", "ANY /api/v1/services/{proxy+}", "GET /api/v1/system/stats"] },
  { name: "billing", routes: ["ANY /api/v1/billing/{proxy+}"] },
  { name: "stripe-webhook", routes: ["POST /api/v1/billing/webhook"] },
];

export interface RouteMatcher {
  group: string;
  method: string;
  pattern: RegExp;
  /** Higher wins, like API Gateway's most-specific match. */
  specificity: number;
}

/** Compiles the table into matchers ordered most specific first. */
export function compileRoutes(groups: EndpointGroup[] = endpointGroupRoutes): RouteMatcher[] {
  return groups
    .flatMap((group) =>
      group.routes.map((route) => {
        const [method, path] = route.split(" ") as [string, string];
        const greedy = path.includes("{proxy+}");
        const source = path
          .split("/")
          .map((segment) =>
            segment === "{proxy+}" ? ".+" : /^\{[^}]+\}$/.test(segment) ? "[^/]+" : segment.replace(/[.*+?^$()|[\]\\{}]/g, "\\$&"),
          )
          .join("/");
        return {
          group: group.name,
          method,
          pattern: new RegExp(`^${source}$`),
          specificity: (greedy ? 0 : 1000) + (method === "ANY" ? 0 : 100) + path.length,
        };
      }),
    )
    .sort((a, b) => b.specificity - a.specificity);
}

export function matchRoute(matchers: RouteMatcher[], method: string, path: string): string | undefined {
  return matchers.find((m) => (m.method === "ANY" || m.method === method) && m.pattern.test(path))?.group;
}
