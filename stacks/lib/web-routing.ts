/**
 * How the dashboard's distribution (stacks/Web.ts) routes a request: which
 * paths go to the HTTP API, and the viewer-request function for the rest.
 */
import { DOCS_PATH } from "../../core/web/headers";

/** What the distribution sends to the HTTP API: /api and the route table's root routes. */
export const API_PATH_PATTERNS = ["/api/*", "/health", "/.well-known/*"];

/**
 * Routing at the edge, the same rules as the local runtime's (dev/web.ts):
 * /docs → /docs/, the docs folder's index page, and index.html for a path
 * with no file extension (the dashboard's own routes). The API's paths never
 * run it (their own behaviours).
 */
export const VIEWER_REQUEST_CODE = `function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri === "${DOCS_PATH}") {
    return { statusCode: 302, statusDescription: "Found", headers: { location: { value: "${DOCS_PATH}/" } } };
  }
  if (uri === "${DOCS_PATH}/") request.uri = "${DOCS_PATH}/index.html";
  else if (uri.split("/").pop().indexOf(".") === -1) request.uri = "/index.html";
  return request;
}`;
