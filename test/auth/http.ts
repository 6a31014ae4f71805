// Kept only for test/api/errors.test.ts, which imports `call` from here; the client is test/support/http.ts.
export { baseUrl, call, type Reply } from "../support/http";
