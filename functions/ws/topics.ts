/** Registers the tenant-scoped lookups for subscribable topics (imported by the WS handlers). */
export {};
