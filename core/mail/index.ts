/**
 * Outgoing email. On AWS messages go through SES; locally each message is a
 * JSON file under `<dataDir>/outbox/`, so tests and developers can read the
 * verification codes and reset links without a mail server. Log lines carry
 * the recipient and subject only, never the body (it holds codes and links).
 */
export * as Mail from "./index";

import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { SESClient } from "@aws-sdk/client-ses";
import { Config } from "../config";
import { createId } from "../id";
import { logger } from "../logger";

export interface Message {
  to: string;
  subject: string;
  text: string;
}

export interface StoredMessage extends Message {
  id: string;
  from: string;
  sentAt: string;
}

let ses: SESClient | undefined;

function outboxDir(): string {
  return path.join(Config.dataDir(), "outbox");
}

/**
 * Sends one plain-text email. Throws whatever SES throws on AWS; locally it
 * only fails when the outbox directory cannot be written.
 */
export async function send(message: Message): Promise<void> {
  const from = Config.mailFrom();
  if (Config.isLocal()) {
    const id = createId("msg");
    const stored: StoredMessage = { id, from, sentAt: new Date().toISOString(), ...message };
    await mkdir(outboxDir(), { recursive: true });
    await writeFile(path.join(outboxDir(), `${id}.json`), JSON.stringify(stored, null, 2), { mode: 0o600 });
    logger.info("mail written to local outbox", { messageId: id, to: message.to, subject: message.subject });
    return;
  }
  // Loaded on first send: every function imports this module through Auth, few of them send mail.
  const { SESClient, SendEmailCommand } = await import("@aws-sdk/client-ses");
  ses ??= new SESClient({ region: Config.region() });
  await ses.send(
    new SendEmailCommand({
      Source: from,
      Destination: { ToAddresses: [message.to] },
      Message: {
        Subject: { Data: message.subject, Charset: "UTF-8" },
        Body: { Text: { Data: message.text, Charset: "UTF-8" } },
      },
    }),
  );
  logger.info("mail sent", { to: message.to, subject: message.subject });
}

/**
 * The latest message in the local outbox addressed to `to` (case-insensitive),
 * or undefined. For tests and local development only.
 */
export async function readOutbox(to: string): Promise<StoredMessage | undefined> {
  let names: string[];
  try {
    names = await readdir(outboxDir());
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  // Ids are ULIDs, so name order is send order.
  const wanted = to.toLowerCase();
  for (const name of names.filter((n) => n.endsWith(".json")).sort().reverse()) {
    const message = JSON.parse(await readFile(path.join(outboxDir(), name), "utf8")) as StoredMessage;
    if (message.to.toLowerCase() === wanted) return message;
  }
  return undefined;
}
