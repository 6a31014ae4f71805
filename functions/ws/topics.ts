/** Registers the tenant-scoped lookups for subscribable topics (imported by the WS handlers). */
import "../../core/deployment/topics";
import "../../core/training/topic";
import "../../core/dataset/topic";
import "../../core/fleet/topics";
export {};
