/**
 * Low-latency delivery of a run's epoch events. Realtime.publish looks the
 * subscribers up (two DynamoDB queries) before sending; during a run the
 * worker already knows them from the previous epoch, so it sends to those at
 * once and then looks up again, sending to anyone who subscribed since. Nobody
 * misses an event and the known subscribers skip the lookup on the hot path.
 *
 * A newcomer also gets the previous event again, first: it may have
 * subscribed just after that event's lookup and read its snapshot just before
 * that epoch's record was written, and would otherwise never see that epoch.
 */
import { logger } from "../logger";
import { Realtime, Topic } from "../realtime";
import { message, type PayloadOf, type RealtimeEventDefinition } from "../realtime/events";

export class LiveChannel {
  private known: string[] | undefined;
  private previous: Uint8Array | undefined;

  constructor(
    private readonly tenantId: string,
    private readonly runId: string,
  ) {}

  private async lookup(): Promise<string[]> {
    const topics = [Topic.tenant(this.tenantId).name, Topic.run(this.tenantId, this.runId).name];
    const pages = await Promise.all(
      // Strongly consistent, like Realtime.publish: a subscription stored just before must be found.
      topics.map((topic) => Realtime.SubscriptionEntity.query.byTopic({ tenantId: this.tenantId, topic }).go({ pages: "all", consistent: true })),
    );
    return [...new Set(pages.flatMap((page) => page.data.map((item) => item.connectionId)))];
  }

  private async sendAll(connectionIds: string[], data: Uint8Array): Promise<void> {
    await Promise.all(connectionIds.map((id) => Realtime.send(id, data).catch(() => false)));
  }

  /**
   * Sends a run event, with the run's `run_id`, to every subscriber of the run
   * (and of its tenant). Delivery failures are logged, not thrown.
   *
   * @throws EventPayloadError on the local runtime when the payload breaks the event's schema
   */
  async publish<D extends RealtimeEventDefinition<string, "run">>(definition: D, payload: Omit<PayloadOf<D>, "run_id">): Promise<void> {
    const data = new TextEncoder().encode(JSON.stringify(message(definition, { ...payload, run_id: this.runId } as PayloadOf<D>)));
    try {
      const sent = new Set(this.known ?? []);
      if (this.known) await this.sendAll(this.known, data);
      this.known = await this.lookup();
      const newcomers = this.known.filter((id) => !sent.has(id));
      const previous = this.previous;
      if (previous) await this.sendAll(newcomers, previous);
      await this.sendAll(newcomers, data);
      this.previous = data;
    } catch (error) {
      logger.warn("live publish failed", { runId: this.runId, error: error as Error });
    }
  }
}
