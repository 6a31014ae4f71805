/**
 * Which topics the calling actor may subscribe to: its whole tenant, or one
 * of its own runs, datasets or deployments. Another tenant's id is "not found".
 */
import { notFound } from "../error";

type TopicKind = "run" | "dataset" | "deployment";

const resolvers: Partial<Record<TopicKind, (id: string) => Promise<unknown>>> = {};

/** Domain modules register how to look up their resources (tenant-scoped). */
export function registerTopic(kind: TopicKind, resolve: (id: string) => Promise<unknown>): void {
  resolvers[kind] = resolve;
}

/** Throws `<kind>.not_found` unless the topic names a resource of the calling tenant. */
export async function assertTopicVisible(topic: string): Promise<void> {
  if (topic === "tenant") return;
  const [kind, id] = topic.split(":") as [TopicKind, string];
  const resolve = resolvers[kind];
  if (!resolve) throw notFound(kind, id);
  await resolve(id);
}
