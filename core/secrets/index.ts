/**
 * The secrets vault: credentials a tenant gives Flint, kept encrypted at rest
 * (see ./seal) and never logged, returned or put in an error.
 */
export * as Secrets from "./index";
export { seal, open } from "./seal";
