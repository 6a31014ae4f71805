/**
 * The live channel: one WebSocket per signed-in tab, authenticated with the
 * access token as the `bearer, <token>` subprotocol (never in the URL, which
 * proxies log), topics (`run:<id>`, `dataset:<id>`, `deployment:<id>`,
 * `service:<id>`, `tenant`) subscribed on demand and again after every reconnect, whose
 * snapshot then brings the page up to date.
 */
import { useEffect, useRef } from "preact/hooks";
import { onSessionChange, sessionState } from "./session";

export type LiveEvent = { type: string; [field: string]: unknown };
type Listener = (event: LiveEvent) => void;

const topics = new Map<string, Set<Listener>>();
let socket: WebSocket | undefined;
let retryDelay = 500;
let retryTimer: ReturnType<typeof setTimeout> | undefined;

function socketUrl(): string {
  const configured = import.meta.env.VITE_WS_URL as string | undefined;
  if (configured) return configured;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

function send(message: object) {
  if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

function connect() {
  const token = sessionState().token;
  if (!token || socket) return;
  const ws = new WebSocket(socketUrl(), ["bearer", token]);
  socket = ws;
  ws.onopen = () => {
    retryDelay = 500;
    for (const topic of topics.keys()) send({ action: "subscribe", topic });
  };
  ws.onmessage = (message) => {
    let event: LiveEvent;
    try {
      event = JSON.parse(String(message.data)) as LiveEvent;
    } catch {
      return;
    }
    for (const listener of listenersOf(event)) listener(event);
  };
  ws.onclose = () => {
    if (socket === ws) socket = undefined;
    if (topics.size === 0 || !sessionState().token) return;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 15_000);
  };
}

/**
 * Who hears an event: replies name their topic; live events name their
 * resource by id (`run:<id>`, ...), and reach `tenant` subscribers as well,
 * as the server sends them; tenant-wide events (`worker.online`, ...) name no
 * resource and go to `tenant` only.
 */
function listenersOf(event: LiveEvent): Set<Listener> {
  if (typeof event.topic === "string") return topics.get(event.topic) ?? new Set();
  const resource = topicOf(event);
  const heard = new Set(resource ? topics.get(resource) : undefined);
  // A snapshot replays one resource's history for its own subscriber only.
  if (!resource || event.snapshot !== true) for (const listener of topics.get("tenant") ?? []) heard.add(listener);
  return heard;
}

/**
 * Events name their resource by id; the topic is derived from it. A service's
 * events (`service.*`, `command.updated`) also name the deployment it runs,
 * so `service_id` is looked at before `deployment_id`.
 */
function topicOf(event: LiveEvent): string | undefined {
  if (typeof event.run_id === "string") return `run:${event.run_id}`;
  if (typeof event.service_id === "string") return `service:${event.service_id}`;
  if (typeof event.deployment_id === "string") return `deployment:${event.deployment_id}`;
  if (typeof event.dataset_id === "string") return `dataset:${event.dataset_id}`;
  return undefined;
}

export function subscribe(topic: string, listener: Listener): () => void {
  let listeners = topics.get(topic);
  if (!listeners) {
    listeners = new Set();
    topics.set(topic, listeners);
    send({ action: "subscribe", topic });
  }
  listeners.add(listener);
  connect();
  return () => {
    listeners!.delete(listener);
    if (listeners!.size === 0) {
      topics.delete(topic);
      send({ action: "unsubscribe", topic });
    }
  };
}

// A new token (refresh) is only needed for the next connection; signing out closes the socket.
onSessionChange(() => {
  if (!sessionState().token && socket) {
    socket.close(1000, "Signed out");
    socket = undefined;
  }
});

/** Calls `onEvent` for every event of `topic` while the component is mounted (null: none). */
export function useLive(topic: string | null, onEvent: Listener) {
  const latest = useRef(onEvent);
  latest.current = onEvent;
  useEffect(() => (topic ? subscribe(topic, (event) => latest.current(event)) : undefined), [topic]);
}
