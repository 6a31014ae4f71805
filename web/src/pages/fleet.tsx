/**
 * The fleet: counts and average health of the workers (live from the tenant
 * channel's worker.online / worker.offline, polled as a fallback), and for
 * admins every worker with its approval, approving self-enrolled ones, and
 * the enrolment tokens controllers register with.
 */
import { useState } from "preact/hooks";
import { useMutation, useQuery, useQueryClient } from "@tanstack/preact-query";
import { api, unwrap } from "../api/client";
import { useLive } from "../api/realtime";
import { can } from "../api/session";
import type { components } from "../api/schema";
import { Badge, Card, CopyButton, ErrorNote, Field, Loaded, Notice, Page, Pager, Stat, Stats, TableWrap, fmt, useClientPages, useSessionUser } from "../ui";

type Worker = components["schemas"]["Worker"];
type Token = components["schemas"]["EnrolmentToken"];
type Approval = Worker["approval"];

/** Every query of this page starts with it, so one invalidation refreshes them all. */
const FLEET = ["fleet"] as const;
/** In case the live channel is down, look again now and then. */
const POLL_MS = 15_000;
const PAGE_SIZE = 20;

const percent = (value: number | null | undefined) => (value === null || value === undefined ? "–" : `${fmt.number(value)} %`);

export function FleetPage() {
  const user = useSessionUser();
  const admin = can.admin(user);
  const queryClient = useQueryClient();
  // A worker came online or went silent, or the channel (re)connected and may have missed some: read again.
  useLive("tenant", (event) => {
    if (event.type === "worker.online" || event.type === "worker.offline" || event.type === "subscribed") {
      void queryClient.invalidateQueries({ queryKey: FLEET });
    }
  });
  return (
    <Page title="Fleet">
      <OverviewCard />
      {admin ? (
        <>
          <WorkersCard />
          <CreateTokenCard />
          <TokensCard />
        </>
      ) : (
        <p>Admins of your organisation approve controllers and manage the enrolment tokens they register with.</p>
      )}
    </Page>
  );
}

// ------------------------------------------------------------ overview

function OverviewCard() {
  const overview = useQuery({
    queryKey: [...FLEET, "overview"],
    queryFn: () => unwrap(api.GET("/api/v1/workers/overview")),
    refetchInterval: POLL_MS,
  });
  return (
    <Card title="Overview">
      <Loaded query={overview}>
        {(data) => (
          <>
            <Stats>
              <Stat label="Total" value={fmt.number(data.total)} />
              <Stat label="Online" value={fmt.number(data.online)} />
              <Stat label="Offline" value={fmt.number(data.offline)} />
              <Stat label="Pending approval" value={fmt.number(data.pending_approval)} />
              <Stat label="Average CPU" value={percent(data.average_cpu_usage_percent)} />
              <Stat label="Average memory" value={percent(data.average_memory_usage_percent)} />
              <Stat label="Average disk" value={percent(data.average_disk_usage_percent)} />
            </Stats>
            <p class="muted">Counts are of approved workers; the averages are of those online.</p>
            <h3>Groups</h3>
            {data.groups.length === 0 ? (
              <p>No approved workers yet.</p>
            ) : (
              <TableWrap label="Groups table">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Group</th>
                      <th scope="col" class="num">
                        Online
                      </th>
                      <th scope="col" class="num">
                        Workers
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.groups.map((group) => (
                      <tr key={group.group ?? ""}>
                        <td>{group.group ?? <span class="muted">no group</span>}</td>
                        <td class="num">{fmt.number(group.online)}</td>
                        <td class="num">{fmt.number(group.total)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </TableWrap>
            )}
          </>
        )}
      </Loaded>
    </Card>
  );
}

// ------------------------------------------------------------ workers (admin)

function WorkersCard() {
  const queryClient = useQueryClient();
  const [filter, setFilter] = useState<Approval | "">("");
  const [groups, setGroups] = useState<Record<string, string>>({});
  const workers = useQuery({
    queryKey: [...FLEET, "workers", filter],
    queryFn: () => unwrap(api.GET("/api/v1/admin/workers", { params: { query: filter ? { approval: filter } : {} } })),
    refetchInterval: POLL_MS,
  });
  const pages = useClientPages(workers.data, PAGE_SIZE);
  const decide = useMutation({
    mutationFn: ({ worker, approve }: { worker: Worker; approve: boolean }) => {
      const group = groups[worker.id]?.trim();
      return unwrap(
        api.PATCH("/api/v1/admin/workers/{id}/approve", {
          params: { path: { id: worker.id } },
          body: { is_approved: approve, ...(group ? { group } : {}) },
        }),
      );
    },
    onSuccess: (worker) => {
      setGroups(({ [worker.id]: _done, ...rest }) => rest);
      void queryClient.invalidateQueries({ queryKey: FLEET });
    },
  });
  const decided = decide.data;
  return (
    <Card title="Workers" class="stack">
      <div class="row compact">
        <Field id="workers-filter" label="Show">
          <select id="workers-filter" value={filter} onChange={(event) => setFilter(event.currentTarget.value as Approval | "")}>
            <option value="">All workers</option>
            <option value="pending">Pending approval</option>
            <option value="approved">Approved</option>
            <option value="rejected">Rejected</option>
          </select>
        </Field>
      </div>
      {decided && (
        <Notice>
          {decided.approval === "approved"
            ? `${decided.name} is approved${decided.group ? ` (group ${decided.group})` : ""}: its device credential works from now on.`
            : `${decided.name} is rejected: its device credential stays refused.`}
        </Notice>
      )}
      <ErrorNote error={decide.error} />
      <Loaded query={workers}>
        {(list) =>
          list.length === 0 ? (
            <p>{filter ? "No worker matches." : "No workers yet. Create an enrolment token below and enrol a controller with it."}</p>
          ) : (
            <TableWrap label="Workers table">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Hostname</th>
                    <th scope="col">Arch</th>
                    <th scope="col">Group</th>
                    <th scope="col">Approval</th>
                    <th scope="col">Status</th>
                    <th scope="col">Last seen</th>
                    <th scope="col" class="num">
                      CPU
                    </th>
                    <th scope="col" class="num">
                      Memory
                    </th>
                    <th scope="col" class="num">
                      Disk
                    </th>
                    <th scope="col">Decision</th>
                  </tr>
                </thead>
                <tbody>
                  {pages.items.map((worker) => (
                    <tr key={worker.id}>
                      <td>
                        {worker.name}
                        {worker.os_info && <div class="muted">{worker.os_info}</div>}
                      </td>
                      <td>{worker.hostname ?? "–"}</td>
                      <td>{worker.arch}</td>
                      <td>{worker.group ?? <span class="muted">none</span>}</td>
                      <td>
                        <Badge value={worker.approval} />
                      </td>
                      <td>
                        <Badge value={worker.status} />
                      </td>
                      <td>{worker.last_seen ? fmt.date(worker.last_seen) : "never"}</td>
                      <td class="num">{percent(worker.cpu_usage_percent)}</td>
                      <td class="num">{percent(worker.memory_usage_percent)}</td>
                      <td class="num">{percent(worker.disk_usage_percent)}</td>
                      <td>
                        {worker.approval === "pending" ? (
                          <div class="decision">
                            <label for={`group-${worker.id}`}>
                              Group<span class="sr-only"> for {worker.name}</span> (optional)
                            </label>
                            <input
                              id={`group-${worker.id}`}
                              maxLength={64}
                              placeholder={worker.group ?? ""}
                              value={groups[worker.id] ?? ""}
                              onInput={(event) => setGroups({ ...groups, [worker.id]: event.currentTarget.value })}
                            />
                            <div class="actions">
                              <button type="button" class="primary" disabled={decide.isPending} onClick={() => decide.mutate({ worker, approve: true })}>
                                Approve<span class="sr-only"> {worker.name}</span>
                              </button>
                              <button type="button" class="danger" disabled={decide.isPending} onClick={() => decide.mutate({ worker, approve: false })}>
                                Reject<span class="sr-only"> {worker.name}</span>
                              </button>
                            </div>
                          </div>
                        ) : (
                          <span class="muted">{worker.approval}</span>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
          )
        }
      </Loaded>
      <Pager label="Workers" page={pages.page} hasNext={pages.hasNext} onNext={pages.next} onPrevious={pages.previous} />
    </Card>
  );
}

// ------------------------------------------------------------ enrolment tokens (admin)

/** The shell line a controller enrols with: its hostname as the name, `uname -srm` (whose machine word tells the arch) as os_info. */
function enrolCommand(token: string): string {
  const body = `{"enrolment_token":"${token}","name":"'"$(hostname)"'","os_info":"'"$(uname -srm)"'"}`;
  return `curl -X POST ${location.origin}/api/v1/workers/register -H 'Content-Type: application/json' -d '${body}'`;
}

function IssuedToken(props: { token: string; name: string | null; onDone: () => void }) {
  const command = enrolCommand(props.token);
  return (
    <div role="status" class="field">
      <p>
        <strong>Enrolment token{props.name ? ` “${props.name}”` : ""}.</strong> Copy it now: it will not be shown again.
      </p>
      <p class="secret">{props.token}</p>
      <div class="actions">
        <CopyButton text={props.token} label="Copy token" />
      </div>
      <p>On the controller, this enrols it (the answer holds its device credential, also shown once); then approve it under Workers:</p>
      <pre class="command">
        <code>{command}</code>
      </pre>
      <div class="actions">
        <CopyButton text={command} label="Copy command" />
        <button type="button" onClick={props.onDone}>
          I have stored it
        </button>
      </div>
    </div>
  );
}

function CreateTokenCard() {
  const queryClient = useQueryClient();
  const empty = { name: "", hours: "24", maxUses: "1", unlimited: false, group: "" };
  const [form, setForm] = useState(empty);
  const create = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST("/api/v1/admin/workers/enrolment-tokens", {
          body: {
            ...(form.name.trim() ? { name: form.name.trim() } : {}),
            ...(form.group.trim() ? { group: form.group.trim() } : {}),
            expires_in_hours: Number(form.hours),
            max_uses: form.unlimited ? null : Number(form.maxUses),
          },
        }),
      ),
    onSuccess: () => {
      setForm(empty);
      void queryClient.invalidateQueries({ queryKey: [...FLEET, "tokens"] });
    },
  });
  const set = (field: "name" | "hours" | "maxUses" | "group") => (event: { currentTarget: HTMLInputElement }) => setForm({ ...form, [field]: event.currentTarget.value });
  return (
    <Card title="Create an enrolment token" class="stack">
      {create.data ? (
        <IssuedToken token={create.data.token} name={create.data.name} onDone={() => create.reset()} />
      ) : (
        <form
          onSubmit={(event) => {
            event.preventDefault();
            create.mutate();
          }}
        >
          <p class="muted">Controllers register themselves with a token and wait for an admin's approval.</p>
          <div class="row top">
            <Field id="token-name" label="Name (optional)">
              <input id="token-name" maxLength={100} value={form.name} onInput={set("name")} />
            </Field>
            <Field id="token-group" label="Group (optional)" hint="The group enrolled workers join; you can change it when approving.">
              <input id="token-group" maxLength={64} value={form.group} onInput={set("group")} aria-describedby="token-group-hint" />
            </Field>
          </div>
          <div class="row top">
            <Field id="token-hours" label="Expires in (hours)" hint="1 to 720 (30 days).">
              <input id="token-hours" type="number" inputMode="numeric" required min={1} max={720} step={1} value={form.hours} onInput={set("hours")} aria-describedby="token-hours-hint" />
            </Field>
            <Field id="token-max-uses" label="Max uses" hint="How many controllers may enrol with it.">
              <input
                id="token-max-uses"
                type="number"
                inputMode="numeric"
                required={!form.unlimited}
                disabled={form.unlimited}
                min={1}
                max={10_000}
                step={1}
                value={form.maxUses}
                onInput={set("maxUses")}
                aria-describedby="token-max-uses-hint"
              />
            </Field>
          </div>
          <div class="check">
            <input id="token-unlimited" type="checkbox" checked={form.unlimited} onChange={(event) => setForm({ ...form, unlimited: event.currentTarget.checked })} />
            <label for="token-unlimited">Unlimited uses until it expires</label>
          </div>
          <ErrorNote error={create.error} />
          <div>
            <button class="primary" disabled={create.isPending}>
              {create.isPending ? "Creating…" : "Create token"}
            </button>
          </div>
        </form>
      )}
    </Card>
  );
}

function tokenState(token: Token): string {
  if (token.revoked) return "revoked";
  if (token.usable) return "usable";
  return Date.parse(token.expires_at) <= Date.now() ? "expired" : "used_up";
}

function TokensCard() {
  const queryClient = useQueryClient();
  const tokens = useQuery({ queryKey: [...FLEET, "tokens"], queryFn: () => unwrap(api.GET("/api/v1/admin/workers/enrolment-tokens")) });
  const pages = useClientPages(tokens.data, PAGE_SIZE);
  const revoke = useMutation({
    mutationFn: (token: Token) => unwrap(api.DELETE("/api/v1/admin/workers/enrolment-tokens/{id}", { params: { path: { id: token.id } } })),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: [...FLEET, "tokens"] }),
  });
  const label = (token: Token) => token.name ?? token.id;
  return (
    <Card title="Enrolment tokens">
      <ErrorNote error={revoke.error} />
      <Loaded query={tokens}>
        {(list) =>
          list.length === 0 ? (
            <p>No enrolment tokens yet.</p>
          ) : (
            <TableWrap label="Enrolment tokens table">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Group</th>
                    <th scope="col" class="num">
                      Uses / max
                    </th>
                    <th scope="col">Expires</th>
                    <th scope="col">State</th>
                    <th scope="col">Revoke</th>
                  </tr>
                </thead>
                <tbody>
                  {pages.items.map((token) => (
                    <tr key={token.id}>
                      <td>{token.name ?? <span class="muted">{token.id}</span>}</td>
                      <td>{token.group ?? <span class="muted">none</span>}</td>
                      <td class="num">
                        {token.uses} / {token.max_uses ?? "unlimited"}
                      </td>
                      <td>{fmt.date(token.expires_at)}</td>
                      <td>
                        <Badge value={tokenState(token)} />
                      </td>
                      <td>
                        {token.revoked ? (
                          <span class="muted">revoked</span>
                        ) : (
                          <button
                            type="button"
                            class="danger"
                            disabled={revoke.isPending}
                            onClick={() =>
                              confirm(`Revoke the enrolment token ${label(token)}? No controller can enrol with it any more; workers it enrolled stay.`) && revoke.mutate(token)
                            }
                          >
                            Revoke<span class="sr-only"> token {label(token)}</span>
                          </button>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
          )
        }
      </Loaded>
      <Pager label="Enrolment tokens" page={pages.page} hasNext={pages.hasNext} onNext={pages.next} onPrevious={pages.previous} />
    </Card>
  );
}
