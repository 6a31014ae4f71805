/**
 * A local webhook receiver: an HTTP server on loopback that answers 200 and
 * keeps every delivery's JSON body in arrival order.
 *
 * @example
 * const receiver = await webhookReceiver();
 * await call("POST", "/webhooks", { token, body: { url: receiver.url, events: ["worker.offline"] } });
 * afterAll(() => receiver.close());
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface Delivery {
  id: string;
  type: string;
  created_at: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data: Record<string, any>;
}

export async function webhookReceiver(path = "/hooks"): Promise<{ url: string; received: Delivery[]; close: () => Promise<void> }> {
  const received: Delivery[] = [];
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      received.push(JSON.parse(body) as Delivery);
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
