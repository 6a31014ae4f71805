/**
 * The one WebSocket test client: it keeps every JSON message it receives (with
 * the time it arrived) from the moment it connects, so no message is missed
 * between awaits; tests read them by matching (`waitFor`, `of`) or in order (`next`).
 */
import { afterAll, inject } from "vitest";
import WebSocket from "ws";
import type { TestUser } from "./users";

export const wsUrl = inject("wsUrl");

const open = new Set<EventClient>();
// after the file, not each test: a client opened in beforeAll serves the whole file
afterAll(() => {
  for (const client of open) client.terminate();
});

export class EventClient {
  readonly events: { at: number; data: any }[] = [];
  private waiters: (() => void)[] = [];
  /** how many events `next` has handed out */
  private read = 0;

  private constructor(readonly socket: WebSocket) {
    open.add(this);
    socket.on("message", (raw) => {
      this.events.push({ at: Date.now(), data: JSON.parse(raw.toString()) });
      for (const wake of this.waiters.splice(0)) wake();
    });
    socket.once("close", () => open.delete(this));
  }

  /** Opens `path` (default /ws) with the user's token in the query. */
  static open(user: TestUser, path = "/ws"): Promise<EventClient> {
    return EventClient.connect(`${wsUrl.replace(/\/ws$/, "")}${path}?token=${encodeURIComponent(user.token)}`);
  }

  /** Opens `url` as given; rejects with `HTTP <status>` when the upgrade is refused. */
  static connect(url: string, protocols?: string[]): Promise<EventClient> {
    const socket = new WebSocket(url, protocols);
    return new Promise((resolve, reject) => {
      const client = new EventClient(socket);
      socket.once("open", () => resolve(client));
      socket.once("unexpected-response", (_request, response) => reject(new Error(`HTTP ${response.statusCode}`)));
      socket.once("error", reject);
    });
  }

  send(message: unknown): void {
    this.socket.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  async subscribe(topic: string): Promise<any> {
    this.send({ action: "subscribe", topic });
    return this.waitFor((event) => (event.type === "subscribed" || event.type === "error") && event.topic === topic, 5_000);
  }

  /** Resolves with the first event matching `match` (already received or still to come). */
  async waitFor(match: (event: any) => boolean, timeoutMs = 60_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find((event) => match(event.data));
      if (found) return found.data;
      if (!(await this.arrival(deadline))) throw new Error(`no matching event within ${timeoutMs} ms; got ${JSON.stringify(this.events.map((e) => e.data.type))}`);
    }
  }

  /** The next event in arrival order that `next` has not handed out yet. */
  async next(timeoutMs = 15_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    while (this.read >= this.events.length) {
      if (!(await this.arrival(deadline))) throw new Error("no message");
    }
    return this.events[this.read++]!.data;
  }

  of(type: string, runId?: string): any[] {
    return this.events.map((event) => event.data).filter((data) => data.type === type && (runId === undefined || data.run_id === runId));
  }

  close(): void {
    this.socket.close();
  }

  terminate(): void {
    this.socket.terminate();
    open.delete(this);
  }

  /** Waits for a message until `deadline`; false when none came. */
  private async arrival(deadline: number): Promise<boolean> {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    const before = this.events.length;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, left);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return this.events.length > before;
  }
}
