/**
 * The fleet: counts and average health of the workers (live from the tenant
 * channel's worker.online / worker.offline, polled as a fallback), the model
 * service on each worker with the fleet-wide service stats, commands to the
 * services for operators (their outcome live from `service:<id>`), a
 * service's recent commands and log; and for admins every worker with its
 * approval, approving self-enrolled ones, and the enrolment tokens
 * controllers register with (and the agent they install).
 */
import { useEffect, useState } from "preact/hooks";
import { useMutation, useQuery, useQueryClient } from "@tanstack/preact-query";
import { api, unwrap } from "../api/client";
import { useLive, type LiveEvent } from "../api/realtime";
import { can } from "../api/session";
import type { components } from "../api/schema";
import { Badge, Card, CopyButton, ErrorNote, Field, Loaded, Notice, Page, Pager, Stat, Stats, TableWrap, fmt, useClientPages, useSessionUser } from "../ui";

type Worker = components["schemas"]["Worker"];
type Token = components["schemas"]["EnrolmentToken"];
type Approval = Worker["approval"];
type Service = components["schemas"]["Service"];
type Command = components["schemas"]["ServiceCommand"];
type CommandType = Command["command"];
type ServiceFilter = "all" | "running" | "stopped" | "failed";

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
    if (event.type === "worker.online" || event.type === "worker.offline" || event.type === "subscribed" || event.type.startsWith("service.")) {
      void queryClient.invalidateQueries({ queryKey: FLEET });
    }
  });
  return (
    <Page title="Fleet">
      <OverviewCard />
      <SystemCard />
      <ServicesCard />
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

// ------------------------------------------------------------ services (every role; commands for operators)

/** How far a command has come: a live event or a poll never moves it back. */
const COMMAND_RANK: Record<Command["state"], number> = { queued: 0, delivered: 1, succeeded: 2, failed: 2, expired: 2 };
const finished = (command: Pick<Command, "state">) => COMMAND_RANK[command.state] === 2;

/** The command as `next` has it, unless `current` is already as far or further. */
function advance(current: Command, next: Partial<Command> & Pick<Command, "state">): Command {
  return COMMAND_RANK[next.state] > COMMAND_RANK[current.state] ? { ...current, ...next } : current;
}

/** A `command.updated` event's fields as a command's. */
function commandOf(event: LiveEvent): (Partial<Command> & Pick<Command, "state">) | undefined {
  if (event.type !== "command.updated" || typeof event.state !== "string" || !(event.state in COMMAND_RANK)) return undefined;
  const text = (value: unknown) => (typeof value === "string" ? value : null);
  return { state: event.state as Command["state"], result: text(event.result), reason: text(event.reason), finished_at: text(event.finished_at) };
}

const COMMAND_VERB: Record<CommandType, string> = { start: "Start", stop: "Stop", restart: "Restart", update: "Update" };

function commandOutcome(command: Command, worker: string): string {
  switch (command.state) {
    case "queued":
      return `waiting for ${worker}'s next heartbeat to carry it.`;
    case "delivered":
      return command.command === "update" ? "the model is being built and installed." : "the agent is carrying it out.";
    case "succeeded":
      return command.result ? `${command.result}.` : "done.";
    case "failed":
      return `${command.reason ?? command.result ?? "the agent reported a failure"}.`;
    case "expired":
      return `${command.reason ?? "it was not carried out in time"}.`;
  }
}

/** Sends a command; answers it as the API does (202). */
function issueCommand(id: string, type: CommandType): Promise<Command> {
  const params = { params: { path: { id } } };
  switch (type) {
    case "start":
      return unwrap(api.POST("/api/v1/services/{id}/start", params));
    case "stop":
      return unwrap(api.POST("/api/v1/services/{id}/stop", params));
    case "restart":
      return unwrap(api.POST("/api/v1/services/{id}/restart", params));
    case "update":
      return unwrap(api.POST("/api/v1/services/{id}/update", { ...params, body: {} }));
  }
}

const CONFIRM: Partial<Record<CommandType, (service: Service) => string>> = {
  stop: (service) => `Stop ${service.name}? It stops scoring sensor rows and stays stopped until it is started again.`,
  update: (service) =>
    `Update ${service.name} to the newest ready model trained on the same sensors? A deployment builds it for ${service.worker.name} and the agent installs it.`,
};

const commandsKey = (serviceId: string) => [...FLEET, "service", serviceId, "commands"] as const;

function loadCommands(serviceId: string) {
  return unwrap(api.GET("/api/v1/services/{id}/commands", { params: { path: { id: serviceId }, query: { limit: 20 } } }));
}

/**
 * The last command this page sent, followed live on its service's topic (the
 * subscription's snapshot replays what happened before it) and, as a
 * fallback, polled with the service's commands until it is finished.
 */
function IssuedCommand(props: { command: Command; service: Service }) {
  const queryClient = useQueryClient();
  const sent = props.command;
  // Keyed by the command's id: a new command is a new notice.
  const [current, setCurrent] = useState(sent);
  useLive(`service:${sent.service_id}`, (event) => {
    if (event.type === "command.updated") {
      void queryClient.invalidateQueries({ queryKey: commandsKey(sent.service_id) });
      const next = event.command_id === sent.id ? commandOf(event) : undefined;
      if (next) setCurrent((previous) => advance(previous, next));
      if (next && finished(next)) void queryClient.invalidateQueries({ queryKey: [...FLEET, "services"] });
    } else if (event.type.startsWith("service.")) {
      void queryClient.invalidateQueries({ queryKey: FLEET });
    }
  });
  const polled = useQuery({
    queryKey: commandsKey(sent.service_id),
    queryFn: () => loadCommands(sent.service_id),
    refetchInterval: POLL_MS,
    enabled: !finished(current),
  });
  const found = polled.data?.find((command) => command.id === sent.id);
  const shown = found ? advance(current, found) : current;
  return (
    <Notice>
      <strong>
        {COMMAND_VERB[shown.command]} {props.service.name}:
      </strong>{" "}
      <Badge value={shown.state} /> {commandOutcome(shown, props.service.worker.name)}
    </Notice>
  );
}

function SystemCard() {
  const system = useQuery({
    queryKey: [...FLEET, "services", "system"],
    queryFn: () => unwrap(api.GET("/api/v1/system/stats")),
    refetchInterval: POLL_MS,
  });
  return (
    <Card title="System">
      <Loaded query={system}>
        {(data) => (
          <>
            <Stats>
              <Stat label="Services" value={fmt.number(data.services.total)} />
              <Stat label="Running" value={fmt.number(data.services.running)} />
              <Stat label="Stopped" value={fmt.number(data.services.stopped)} />
              <Stat label="Failed" value={fmt.number(data.services.failed)} />
              <Stat label="Average CPU" value={percent(data.resources.avgCpu)} />
              <Stat label="Average memory" value={percent(data.resources.avgMemory)} />
              <Stat
                label="Health"
                value={
                  <>
                    <Badge value={data.health.status} />{" "}
                    <span class="muted aside">
                      {data.health.errors} {data.health.errors === 1 ? "error" : "errors"}, {data.health.warnings} {data.health.warnings === 1 ? "warning" : "warnings"}
                    </span>
                  </>
                }
              />
            </Stats>
            <p class="muted">Stopped counts every service not running (failed ones too); the averages are of the running services on online workers, memory as a share of each one's limit.</p>
            {data.health.issues.length > 0 && (
              <>
                <h3>Needs attention</h3>
                <ul class="issues">
                  {data.health.issues.map((issue) => (
                    <li key={`${issue.service_id}-${issue.level}`}>
                      <Badge value={issue.level} /> {issue.message}
                    </li>
                  ))}
                </ul>
              </>
            )}
          </>
        )}
      </Loaded>
    </Card>
  );
}

function ServicesCard() {
  const user = useSessionUser();
  const operator = can.write(user);
  const queryClient = useQueryClient();
  const [filter, setFilter] = useState<ServiceFilter>("all");
  const [page, setPage] = useState(1);
  const [selected, setSelected] = useState<string | null>(null);
  const [issued, setIssued] = useState<{ command: Command; service: Service } | null>(null);
  const services = useQuery({
    queryKey: [...FLEET, "services", filter, page],
    queryFn: () => unwrap(api.GET("/api/v1/services", { params: { query: { filter, page, limit: PAGE_SIZE } } })),
    refetchInterval: POLL_MS,
    placeholderData: (previous) => previous,
  });
  const pages = services.data?.pages ?? 1;
  // Services went away (or the filter shows fewer): stay on a page that exists.
  useEffect(() => {
    if (page > pages) setPage(pages);
  }, [page, pages]);
  const issue = useMutation({
    mutationFn: ({ service, type }: { service: Service; type: CommandType }) => issueCommand(service.id, type),
    onSuccess: (command, { service }) => {
      setIssued({ command, service });
      void queryClient.invalidateQueries({ queryKey: commandsKey(service.id) });
    },
  });
  const send = (service: Service, type: CommandType) => {
    const question = CONFIRM[type];
    if (question && !confirm(question(service))) return;
    issue.mutate({ service, type });
  };
  return (
    <Card title="Services" class="stack">
      <div class="row compact">
        <Field id="services-filter" label="Show">
          <select
            id="services-filter"
            value={filter}
            onChange={(event) => {
              setFilter(event.currentTarget.value as ServiceFilter);
              setPage(1);
            }}
          >
            <option value="all">All</option>
            <option value="running">Running</option>
            <option value="stopped">Stopped</option>
            <option value="failed">Failed</option>
          </select>
        </Field>
      </div>
      {issued && <IssuedCommand key={issued.command.id} command={issued.command} service={issued.service} />}
      <ErrorNote error={issue.error} />
      <Loaded query={services}>
        {(data) =>
          data.items.length === 0 ? (
            <p>
              {filter === "all"
                ? "No services yet: the model service (flint-model) of an approved worker shows here once its agent reports it or a model is deployed to it."
                : "No service matches."}
            </p>
          ) : (
            <TableWrap label="Services table">
              <table class="services">
                <thead>
                  <tr>
                    <th scope="col">Worker</th>
                    <th scope="col">Status</th>
                    <th scope="col">Health</th>
                    <th scope="col">Model</th>
                    <th scope="col" class="num">
                      Uptime
                    </th>
                    <th scope="col" class="num">
                      Restarts
                    </th>
                    <th scope="col" class="num">
                      CPU
                    </th>
                    <th scope="col" class="num">
                      Memory
                    </th>
                    <th scope="col" class="num">
                      Windows scored
                    </th>
                    <th scope="col" class="num">
                      Alarms
                    </th>
                    <th scope="col">Last report</th>
                    <th scope="col">Actions</th>
                  </tr>
                </thead>
                <tbody>
                  {data.items.map((service) => {
                    const running = service.status === "running";
                    return (
                      <tr key={service.id}>
                        <td class="name">
                          {service.worker.name}
                          {service.worker.status === "offline" && <div class="muted">worker offline</div>}
                        </td>
                        <td>
                          <Badge value={service.status} />
                        </td>
                        <td>
                          <Badge value={service.health} />
                          {service.health_reasons.length > 0 && <div class="muted reasons">{service.health_reasons.join("; ")}</div>}
                        </td>
                        <td>{service.model_id ?? <span class="muted">none</span>}</td>
                        <td class="num">{running ? fmt.duration(service.uptime) : "–"}</td>
                        <td class="num">{fmt.number(service.restart_count)}</td>
                        <td class="num">{running ? percent(service.stats.cpu) : "–"}</td>
                        <td class="num">
                          {running ? (
                            <>
                              {fmt.bytes(service.stats.memoryUsage)}
                              <div class="muted">{service.stats.memoryLimit ? `of ${fmt.bytes(service.stats.memoryLimit)}` : "no limit"}</div>
                            </>
                          ) : (
                            "–"
                          )}
                        </td>
                        <td class="num">{fmt.number(service.stats.windowsScored)}</td>
                        <td class="num">{fmt.number(service.stats.alarms)}</td>
                        <td>{service.reported_at ? fmt.date(service.reported_at) : "never"}</td>
                        <td>
                          <div class="row-actions">
                            {operator &&
                              (["start", "stop", "restart", "update"] as const).map((type) => (
                                <button
                                  key={type}
                                  type="button"
                                  class={type === "stop" ? "danger" : undefined}
                                  disabled={issue.isPending || (type === "start" && running) || (type === "stop" && service.status === "stopped")}
                                  onClick={() => send(service, type)}
                                >
                                  {COMMAND_VERB[type]}
                                  <span class="sr-only"> {service.name}</span>
                                </button>
                              ))}
                            <button type="button" aria-pressed={selected === service.id} onClick={() => setSelected(selected === service.id ? null : service.id)}>
                              Details<span class="sr-only"> of {service.name}</span>
                            </button>
                          </div>
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </TableWrap>
          )
        }
      </Loaded>
      <Pager label="Services" page={page} hasNext={page < pages} onNext={() => setPage(page + 1)} onPrevious={() => setPage(Math.max(1, page - 1))} />
      {selected && <ServiceDetails id={selected} onClose={() => setSelected(null)} />}
    </Card>
  );
}

/** One service: what it runs, its recent commands and its last 100 log lines (newest first). */
function ServiceDetails(props: { id: string; onClose: () => void }) {
  const queryClient = useQueryClient();
  const service = useQuery({
    queryKey: [...FLEET, "services", "one", props.id],
    queryFn: () => unwrap(api.GET("/api/v1/services/{id}", { params: { path: { id: props.id } } })),
    refetchInterval: POLL_MS,
  });
  const commands = useQuery({ queryKey: commandsKey(props.id), queryFn: () => loadCommands(props.id), refetchInterval: POLL_MS });
  const logs = useQuery({
    queryKey: [...FLEET, "service", props.id, "logs"],
    queryFn: () => unwrap(api.GET("/api/v1/services/{id}/logs", { params: { path: { id: props.id }, query: { lines: 100 } } })),
    refetchInterval: POLL_MS,
  });
  useLive(`service:${props.id}`, (event) => {
    if (event.type === "command.updated") void queryClient.invalidateQueries({ queryKey: commandsKey(props.id) });
    else if (event.type.startsWith("service.")) void queryClient.invalidateQueries({ queryKey: [...FLEET, "services"] });
  });
  const name = service.data?.name ?? props.id;
  return (
    <section class="details" aria-labelledby="service-details-title">
      <div class="row between">
        <h3 id="service-details-title">{name}</h3>
        <button type="button" onClick={props.onClose}>
          Close<span class="sr-only"> details of {name}</span>
        </button>
      </div>
      <Loaded query={service}>
        {(data) => (
          <>
            <p class="muted">{data.description}</p>
            <Stats>
              <Stat label="Model version" value={<span class="wrap">{data.model_version ?? "–"}</span>} />
              <Stat label="Deployment" value={<span class="wrap">{data.deployment_id ?? "–"}</span>} />
              <Stat label="Arch" value={data.arch} />
              <Stat label="Port" value={data.port ?? "–"} />
              <Stat label="Started" value={fmt.date(data.started_at)} />
              <Stat label="Last score" value={fmt.number(data.last_score)} />
              <Stat label="Last exit code" value={data.last_exit_code ?? "–"} />
            </Stats>
            {data.last_error && <p class="error">Last error: {data.last_error}</p>}
          </>
        )}
      </Loaded>
      <h4>Recent commands</h4>
      <Loaded query={commands}>
        {(list) =>
          list.length === 0 ? (
            <p>No commands yet.</p>
          ) : (
            <TableWrap label="Commands table">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Command</th>
                    <th scope="col">State</th>
                    <th scope="col">Result or reason</th>
                    <th scope="col">By</th>
                    <th scope="col">Issued</th>
                    <th scope="col">Delivered</th>
                    <th scope="col">Finished</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((command) => (
                    <tr key={command.id}>
                      <td>
                        {command.command}
                        {command.model_id && <div class="muted">{command.model_id}</div>}
                      </td>
                      <td>
                        <Badge value={command.state} />
                      </td>
                      <td class="reasons">{command.state === "succeeded" ? (command.result ?? "–") : (command.reason ?? command.result ?? "–")}</td>
                      <td>{command.created_by ?? "–"}</td>
                      <td>{fmt.date(command.created_at)}</td>
                      <td>{fmt.date(command.delivered_at)}</td>
                      <td>{fmt.date(command.finished_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
          )
        }
      </Loaded>
      <h4>Log</h4>
      <Loaded query={logs}>
        {({ logs: lines }) =>
          lines.length === 0 ? (
            <p>No log lines yet: the agent ships the service's output with its heartbeats.</p>
          ) : (
            <div class="log" tabIndex={0} role="region" aria-label={`Log of ${name}, newest first`}>
              <ol>
                {lines.map((line, index) => (
                  <li key={`${line.timestamp}-${index}`} class={`log-${line.level}`}>
                    <time dateTime={line.timestamp}>{line.timestamp}</time> <span class="log-level">{line.level}</span> {line.message}
                  </li>
                ))}
              </ol>
            </div>
          )
        }
      </Loaded>
    </section>
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

/** The shell line a controller enrols with by hand: its hostname as the name, `uname -srm` (whose machine word tells the arch) as os_info. */
function enrolCommand(token: string): string {
  const body = `{"enrolment_token":"${token}","name":"'"$(hostname)"'","os_info":"'"$(uname -srm)"'"}`;
  return `curl -X POST ${location.origin}/api/v1/workers/register -H 'Content-Type: application/json' -d '${body}'`;
}

/**
 * What installs the reference agent on a controller with systemd: the agent
 * and its unit from the platform, its configuration (the token in a 0600 file,
 * written through a here-document so it is on no command line), then the
 * service. The agent enrols itself with the token on its first start.
 */
function installCommand(token: string): string {
  const api = `${location.origin}/api/v1`;
  return [
    "sudo mkdir -p /opt/flint /etc/flint &&",
    `sudo curl -fsSL -o /opt/flint/flint-agent ${api}/workers/agent/flint-agent &&`,
    "sudo chmod 0755 /opt/flint/flint-agent &&",
    `sudo curl -fsSL -o /etc/systemd/system/flint-agent.service ${api}/workers/agent/flint-agent.service &&`,
    "sudo install -m 0600 /dev/null /etc/flint/agent.conf &&",
    "sudo tee /etc/flint/agent.conf > /dev/null <<'EOF' &&",
    `FLINT_API=${api}`,
    `FLINT_ENROLMENT_TOKEN=${token}`,
    "FLINT_SOURCE='cmd:<your sensor reader printing CSV rows>'",
    "EOF",
    "sudo systemctl daemon-reload && sudo systemctl enable --now flint-agent",
  ].join("\n");
}

function IssuedToken(props: { token: string; name: string | null; onDone: () => void }) {
  const install = installCommand(props.token);
  const enrol = enrolCommand(props.token);
  return (
    <div role="status" class="field">
      <p>
        <strong>Enrolment token{props.name ? ` “${props.name}”` : ""}.</strong> Copy it now: it will not be shown again.
      </p>
      <p class="secret">{props.token}</p>
      <div class="actions">
        <CopyButton text={props.token} label="Copy token" />
      </div>
      <p>
        On the controller (Linux with systemd; the agent needs curl, sha256sum, tar, awk and sed), this installs the Flint agent, which enrols it with the token and then waits for
        your approval under Workers. First replace the <code>FLINT_SOURCE</code> placeholder with the command that prints the sensor's CSV rows (or{" "}
        <code>file:/path</code> for a file or FIFO).
      </p>
      <pre class="command" id="agent-install">
        <code>{install}</code>
      </pre>
      <div class="actions">
        <CopyButton text={install} label="Copy install command" />
        <button type="button" onClick={props.onDone}>
          I have stored it
        </button>
      </div>
      <details>
        <summary>Enrol without the agent</summary>
        <p>This enrols the controller by hand (the answer holds its device credential, also shown once):</p>
        <pre class="command" id="enrol-command">
          <code>{enrol}</code>
        </pre>
        <div class="actions">
          <CopyButton text={enrol} label="Copy enrol command" />
        </div>
      </details>
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
