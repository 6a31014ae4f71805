/** Shared building blocks of every page: layout, errors, lists that page, forms, figures. */
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { useQuery, type QueryKey } from "@tanstack/preact-query";
import { errorText } from "./api/errors";
import { onSessionChange, sessionState } from "./api/session";

export function Page(props: { title: string; actions?: ComponentChildren; children: ComponentChildren }) {
  useEffect(() => {
    document.title = `${props.title} · Flint`;
  }, [props.title]);
  return (
    <section class="page" aria-labelledby="page-title">
      <header class="page-header">
        <h1 id="page-title" tabIndex={-1}>
          {props.title}
        </h1>
        {props.actions && <div class="actions">{props.actions}</div>}
      </header>
      {props.children}
    </section>
  );
}

export function Card(props: { title?: string; children: ComponentChildren; class?: string }) {
  return (
    <section class={`card ${props.class ?? ""}`} aria-label={props.title}>
      {props.title && <h2>{props.title}</h2>}
      {props.children}
    </section>
  );
}

/** The API's own error sentence, announced to screen readers. */
export function ErrorNote(props: { error: unknown }) {
  if (!props.error) return null;
  return (
    <p class="error" role="alert">
      {errorText(props.error)}
    </p>
  );
}

export function Notice(props: { children: ComponentChildren }) {
  return (
    <p class="notice" role="status">
      {props.children}
    </p>
  );
}

export function Loading(props: { label?: string }) {
  return (
    <p class="muted" role="status" aria-live="polite">
      {props.label ?? "Loading…"}
    </p>
  );
}

/** Loading, error or the content, for one query. */
export function Loaded<T>(props: { query: { data?: T; error: unknown; isPending: boolean }; children: (data: T) => ComponentChildren }) {
  if (props.query.error) return <ErrorNote error={props.query.error} />;
  if (props.query.isPending || props.query.data === undefined) return <Loading />;
  return <>{props.children(props.query.data)}</>;
}

/**
 * A cursor-paged list: the API answers a page and the next page's cursor;
 * earlier cursors are kept so "Previous" works too.
 */
export function usePagedList<T>(key: QueryKey, load: (cursor: string | undefined) => Promise<{ items: T[]; next: string | null }>) {
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const query = useQuery({ queryKey: [...key, cursor ?? ""], queryFn: () => load(cursor), placeholderData: (previous) => previous });
  return {
    query,
    page: cursors.length,
    hasNext: Boolean(query.data?.next),
    next: () => query.data?.next && setCursors([...cursors, query.data.next]),
    previous: () => cursors.length > 1 && setCursors(cursors.slice(0, -1)),
  };
}

/** Pages of a list the API answers whole (targets, deployments, workers), so long lists stay readable. */
export function useClientPages<T>(items: T[] | undefined, pageSize: number) {
  const [page, setPage] = useState(1);
  const last = Math.max(1, Math.ceil((items?.length ?? 0) / pageSize));
  const current = Math.min(page, last);
  return {
    items: items?.slice((current - 1) * pageSize, current * pageSize) ?? [],
    page: current,
    hasNext: current < last,
    next: () => setPage(current + 1),
    previous: () => setPage(Math.max(1, current - 1)),
  };
}

export function Pager(props: { page: number; hasNext: boolean; onNext: () => void; onPrevious: () => void; label: string }) {
  if (props.page === 1 && !props.hasNext) return null;
  return (
    <nav class="pager" aria-label={`${props.label} pages`}>
      <button type="button" onClick={props.onPrevious} disabled={props.page === 1}>
        Previous
      </button>
      <span>Page {props.page}</span>
      <button type="button" onClick={props.onNext} disabled={!props.hasNext}>
        Next
      </button>
    </nav>
  );
}

export function Field(props: { label: string; hint?: string; children: JSX.Element; id: string }) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.hint && (
        <small id={`${props.id}-hint`} class="hint">
          {props.hint}
        </small>
      )}
    </div>
  );
}

export function Badge(props: { value: string }) {
  return <span class={`badge badge-${props.value.replace(/[^a-z_]/gi, "")}`}>{props.value.replace(/_/g, " ")}</span>;
}

export function Stat(props: { label: string; value: ComponentChildren }) {
  return (
    <div class="stat">
      <dt>{props.label}</dt>
      <dd>{props.value}</dd>
    </div>
  );
}

export function Stats(props: { children: ComponentChildren }) {
  return <dl class="stats">{props.children}</dl>;
}

export function CopyButton(props: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      onClick={async () => {
        await navigator.clipboard?.writeText(props.text).catch(() => undefined);
        setCopied(true);
        setTimeout(() => setCopied(false), 2000);
      }}
    >
      {copied ? "Copied" : props.label ?? "Copy"}
    </button>
  );
}

export function ProgressBar(props: { value: number; label: string }) {
  const percent = Math.max(0, Math.min(100, Math.round(props.value)));
  return (
    <div class="progress">
      <progress max={100} value={percent} aria-label={props.label} />
      <span>{percent} %</span>
    </div>
  );
}

/** A table that scrolls sideways on phones; focusable so keyboard users can scroll it too. */
export function TableWrap(props: { label: string; children: ComponentChildren }) {
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={props.label}>
      {props.children}
    </div>
  );
}

/** Runs a request for a form or button, keeping the inputs and showing the API's error when it fails. */
export function useAction() {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const run = async (work: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  const submit = (work: () => Promise<void>) => (event: Event) => {
    event.preventDefault();
    void run(work);
  };
  return { error, busy, run, submit };
}

/** The session, re-rendering when it changes (sign-in, sign-out, refresh, MFA enrolment). */
export function useSession() {
  const [state, setState] = useState(sessionState());
  useEffect(() => onSessionChange(() => setState(sessionState())), []);
  return state;
}

export const useSessionUser = () => useSession().user;

// ------------------------------------------------------------ formatting

export const fmt = {
  bytes(value: number | null | undefined): string {
    if (value === null || value === undefined) return "–";
    const units = ["B", "KB", "MB", "GB", "TB"];
    let size = value;
    let unit = 0;
    while (size >= 1024 && unit < units.length - 1) {
      size /= 1024;
      unit++;
    }
    return `${size.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
  },
  number(value: unknown, digits = 3): string {
    if (typeof value !== "number" || !Number.isFinite(value)) return "–";
    if (Number.isInteger(value)) return value.toLocaleString("en-US");
    return Math.abs(value) >= 1000 ? value.toFixed(0) : value.toPrecision(digits);
  },
  percent(value: unknown): string {
    return typeof value === "number" && Number.isFinite(value) ? `${(value * 100).toFixed(1)} %` : "–";
  },
  date(value: string | null | undefined, timeZone?: string): string {
    if (!value) return "–";
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) return value;
    try {
      return date.toLocaleString("en-GB", { timeZone, dateStyle: "medium", timeStyle: "short" });
    } catch {
      return date.toISOString();
    }
  },
  duration(seconds: number | null | undefined): string {
    if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
    if (seconds < 60) return `${Math.round(seconds)} s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
    return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
  },
  label(value: string): string {
    return value.replace(/_/g, " ");
  },
};
