/** Administration: the tenant's users, the platform's tenants (superadmin only) and the audit trail, one tab each (`?tab=`). */
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { useQueryClient } from "@tanstack/preact-query";
import { api, saveDownload, unwrap } from "../api/client";
import { can, onSessionChange, sessionState } from "../api/session";
import { Card, ErrorNote, Field, Loaded, Notice, Page, Pager, TableWrap, fmt, useAction, usePagedList, useSessionUser } from "../ui";
import type { components, paths } from "../api/schema";
import type { Role } from "../api/session";

type AdminUser = components["schemas"]["AdminUser"];
type AuditQuery = NonNullable<paths["/api/v1/audit/logs"]["get"]["parameters"]["query"]>;

const PAGE_SIZE = 25;
const ROLES = ["admin", "operator", "viewer"] as const satisfies readonly Role[];

export function AdminPage() {
  const user = useSessionUser();
  const location = useLocation();
  if (!user || !can.admin(user)) {
    return (
      <Page title="Administration">
        <Notice>You need the admin role to see this page.</Notice>
      </Page>
    );
  }

  const tabs = [["users", "Users"], ...(user.superadmin ? [["tenants", "Tenants"]] : []), ["audit", "Audit log"]] as const;
  const tab = tabs.find(([id]) => id === location.query.tab) ?? tabs[0];
  return (
    <Page title={`Administration: ${tab[1]}`}>
      <nav class="actions" aria-label="Administration sections">
        {tabs.map(([id, label]) => (
          <a key={id} href={`/admin?tab=${id}`} class={id === tab[0] ? "button primary" : "button"} aria-current={id === tab[0] ? "page" : undefined}>
            {label}
          </a>
        ))}
      </nav>
      {tab[0] === "users" && <UsersTab me={user.username} superadmin={user.superadmin} />}
      {tab[0] === "tenants" && <TenantsTab />}
      {tab[0] === "audit" && <AuditTab superadmin={user.superadmin} />}
    </Page>
  );
}

// ------------------------------------------------------------------ users

function UsersTab(props: { me: string; superadmin: boolean }) {
  const list = usePagedList(["admin", "users"], async (cursor) => {
    const page = await unwrap(api.GET("/api/v1/admin/users", { params: { query: { cursor, limit: PAGE_SIZE } } }));
    return { items: page.users, next: page.next_cursor };
  });
  return (
    <>
      <Card title="Users">
        <Loaded query={list.query}>
          {(page) => (page.items.length ? <UsersTable users={page.items} me={props.me} superadmin={props.superadmin} /> : <p>No users yet.</p>)}
        </Loaded>
        <Pager label="Users" page={list.page} hasNext={list.hasNext} onNext={list.next} onPrevious={list.previous} />
      </Card>
      <CreateUser superadmin={props.superadmin} />
    </>
  );
}

function UsersTable(props: { users: AdminUser[]; me: string; superadmin: boolean }) {
  const queryClient = useQueryClient();
  const [done, setDone] = useState<string | null>(null);
  const { error, busy, run } = useAction();
  const act = (work: () => Promise<unknown>, message: string) =>
    run(async () => {
      setDone(null);
      await work();
      await queryClient.invalidateQueries({ queryKey: ["admin", "users"] });
      setDone(message);
    });

  return (
    <>
      <ErrorNote error={error} />
      {done && <Notice>{done}</Notice>}
      <TableWrap label="Users">
        <table>
          <thead>
            <tr>
              <th scope="col">Username</th>
              <th scope="col">Email</th>
              {props.superadmin && <th scope="col">Tenant</th>}
              <th scope="col" id="users-role">
                Role
              </th>
              <th scope="col">Verified</th>
              <th scope="col">MFA</th>
              <th scope="col">Created</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {props.users.map((user, index) => (
              <UserRow key={user.id} user={user} index={index} self={user.username === props.me} superadmin={props.superadmin} busy={busy} act={act} />
            ))}
          </tbody>
        </table>
      </TableWrap>
    </>
  );
}

function UserRow(props: {
  user: AdminUser;
  index: number;
  self: boolean;
  superadmin: boolean;
  busy: boolean;
  act: (work: () => Promise<unknown>, message: string) => void;
}) {
  const { user } = props;
  const [role, setRole] = useState(user.role);
  useEffect(() => setRole(user.role), [user.role]);
  const path = { username: user.username };
  return (
    <tr>
      <th scope="row" id={`users-row-${props.index}`}>
        {user.username}
        {props.self && <span class="muted"> (you)</span>}
      </th>
      <td>{user.email}</td>
      {props.superadmin && <td>{user.tenant_id}</td>}
      <td>
        {/* Named by the column header and the row's username, both visible. */}
        <select aria-labelledby={`users-role users-row-${props.index}`} value={role} onChange={(event) => setRole(event.currentTarget.value as Role)}>
          {ROLES.map((value) => (
            <option key={value} value={value}>
              {value}
            </option>
          ))}
        </select>
      </td>
      <td>{user.email_verified ? "Yes" : "No"}</td>
      <td>{user.mfa_enabled ? "On" : "Off"}</td>
      <td>{fmt.date(user.created_at)}</td>
      <td>
        <div class="actions">
          <button
            type="button"
            aria-label={`Save role of ${user.username}`}
            disabled={props.busy || role === user.role}
            onClick={() => props.act(() => unwrap(api.PUT("/api/v1/admin/users/{username}", { params: { path }, body: { role } })), `${user.username} is now ${role}.`)}
          >
            Save role
          </button>
          {/* The API refuses to delete the caller's own account. */}
          {!props.self && (
            <button
              type="button"
              class="danger"
              aria-label={`Delete ${user.username}`}
              disabled={props.busy}
              onClick={() => {
                if (!confirm(`Delete ${user.username}? Their sessions, MFA, preferences and push tokens go too.`)) return;
                props.act(() => unwrap(api.DELETE("/api/v1/admin/users/{username}", { params: { path } })), `${user.username} was deleted.`);
              }}
            >
              Delete
            </button>
          )}
        </div>
      </td>
    </tr>
  );
}

const NEW_USER = { username: "", email: "", password: "", role: "operator" as Role, tenant_id: "" };

function CreateUser(props: { superadmin: boolean }) {
  const queryClient = useQueryClient();
  const [form, setForm] = useState(NEW_USER);
  const [created, setCreated] = useState<string | null>(null);
  const { error, busy, submit } = useAction();
  const change = (field: keyof typeof form) => (event: { currentTarget: HTMLInputElement | HTMLSelectElement }) => {
    setForm({ ...form, [field]: event.currentTarget.value });
    setCreated(null);
  };

  return (
    <Card title="Create a user">
      <form
        onSubmit={submit(async () => {
          const { tenant_id, ...rest } = form;
          const body = { ...rest, username: rest.username.trim(), email: rest.email.trim(), ...(tenant_id.trim() ? { tenant_id: tenant_id.trim() } : {}) };
          const user = await unwrap(api.POST("/api/v1/admin/users", { body }));
          await queryClient.invalidateQueries({ queryKey: ["admin", "users"] });
          setForm(NEW_USER);
          setCreated(`${user.username} was created with a verified email and can log in now.`);
        })}
      >
        <div class="row">
          <Field id="new-username" label="Username" hint="3–32 letters, digits, dots, dashes or underscores">
            <input id="new-username" required autoComplete="off" aria-describedby="new-username-hint" value={form.username} onInput={change("username")} />
          </Field>
          <Field id="new-email" label="Email">
            <input id="new-email" type="email" required autoComplete="off" value={form.email} onInput={change("email")} />
          </Field>
        </div>
        <div class="row">
          <Field id="new-password" label="Password" hint="At least 8 characters">
            <input id="new-password" type="password" required minLength={8} autoComplete="new-password" aria-describedby="new-password-hint" value={form.password} onInput={change("password")} />
          </Field>
          <Field id="new-role" label="Role">
            <select id="new-role" value={form.role} onChange={change("role")}>
              {ROLES.map((role) => (
                <option key={role} value={role}>
                  {role}
                </option>
              ))}
            </select>
          </Field>
          {props.superadmin && (
            <Field id="new-tenant" label="Tenant ID" hint="Empty: your own tenant">
              <input id="new-tenant" aria-describedby="new-tenant-hint" value={form.tenant_id} onInput={change("tenant_id")} />
            </Field>
          )}
        </div>
        <ErrorNote error={error} />
        {created && <Notice>{created}</Notice>}
        <div class="actions">
          <button class="primary" disabled={busy}>
            Create user
          </button>
        </div>
      </form>
    </Card>
  );
}

// ------------------------------------------------------------------ tenants

function TenantsTab() {
  const list = usePagedList(["admin", "tenants"], async (cursor) => {
    const page = await unwrap(api.GET("/api/v1/admin/tenants", { params: { query: { cursor, limit: PAGE_SIZE } } }));
    return { items: page.tenants, next: page.next_cursor };
  });
  return (
    <Card title="Tenants">
      <Loaded query={list.query}>
        {(page) => (
          <TableWrap label="Tenants">
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">ID</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {page.items.map((tenant) => (
                  <tr key={tenant.id}>
                    <td>{tenant.name}</td>
                    <td>{tenant.id}</td>
                    <td>{fmt.date(tenant.created_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        )}
      </Loaded>
      <Pager label="Tenants" page={list.page} hasNext={list.hasNext} onNext={list.next} onPrevious={list.previous} />
    </Card>
  );
}

// ------------------------------------------------------------------ audit

type Severity = NonNullable<AuditQuery["severity"]>;
type Filters = Pick<AuditQuery, "username" | "action" | "resource_type" | "severity" | "start_date" | "end_date" | "tenant_id">;

const NO_FILTERS = { username: "", action: "", resource_type: "", severity: "" as Severity | "", start_date: "", end_date: "", tenant_id: "" };
type Draft = typeof NO_FILTERS;

/** The API's query: empty fields mean "any" and are left out. */
function toFilters(draft: Draft): Filters {
  const pick = (value: string) => value.trim() || undefined;
  return {
    username: pick(draft.username),
    action: pick(draft.action),
    resource_type: pick(draft.resource_type),
    severity: draft.severity || undefined,
    start_date: pick(draft.start_date),
    end_date: pick(draft.end_date),
    tenant_id: pick(draft.tenant_id),
  };
}

function AuditTab(props: { superadmin: boolean }) {
  const [draft, setDraft] = useState(NO_FILTERS);
  const [filters, setFilters] = useState<Filters>({});
  const exporting = useAction();
  const change = (field: keyof Draft) => (event: { currentTarget: HTMLInputElement | HTMLSelectElement }) => setDraft({ ...draft, [field]: event.currentTarget.value });

  const exportCsv = () =>
    exporting.run(async () => {
      const query = new URLSearchParams({ format: "csv" });
      for (const [key, value] of Object.entries(filters)) if (value) query.set(key, value);
      await saveDownload(`/api/v1/audit/export?${query}`, "audit.csv");
    });

  return (
    <>
      <Card title="Filters">
        <form
          onSubmit={(event) => {
            event.preventDefault();
            setFilters(toFilters(draft));
          }}
        >
          <div class="row">
            <Field id="audit-username" label="Username">
              <input id="audit-username" value={draft.username} onInput={change("username")} />
            </Field>
            <Field id="audit-action" label="Action" hint="e.g. admin.user.create">
              <input id="audit-action" aria-describedby="audit-action-hint" value={draft.action} onInput={change("action")} />
            </Field>
            <Field id="audit-resource" label="Resource type" hint="e.g. user, dataset">
              <input id="audit-resource" aria-describedby="audit-resource-hint" value={draft.resource_type} onInput={change("resource_type")} />
            </Field>
            <Field id="audit-severity" label="Severity">
              <select id="audit-severity" value={draft.severity} onChange={change("severity")}>
                <option value="">Any</option>
                <option value="info">Info</option>
                <option value="warning">Warning</option>
                <option value="critical">Critical</option>
              </select>
            </Field>
          </div>
          <div class="row">
            <Field id="audit-since" label="From (UTC day, inclusive)">
              <input id="audit-since" type="date" value={draft.start_date} onInput={change("start_date")} />
            </Field>
            <Field id="audit-until" label="Until (UTC day, inclusive)">
              <input id="audit-until" type="date" value={draft.end_date} onInput={change("end_date")} />
            </Field>
            {props.superadmin && (
              <Field id="audit-tenant" label="Tenant ID" hint="Empty: your own; “platform”: entries without a tenant">
                <input id="audit-tenant" aria-describedby="audit-tenant-hint" value={draft.tenant_id} onInput={change("tenant_id")} />
              </Field>
            )}
          </div>
          <div class="actions">
            <button class="primary">Apply filters</button>
            <button
              type="button"
              onClick={() => {
                setDraft(NO_FILTERS);
                setFilters({});
              }}
            >
              Clear
            </button>
            <button type="button" disabled={exporting.busy} onClick={exportCsv}>
              {exporting.busy ? "Exporting…" : "Export CSV"}
            </button>
          </div>
          <ErrorNote error={exporting.error} />
        </form>
      </Card>
      {/* A new key per filter set starts the list again at its first page. */}
      <AuditLog key={JSON.stringify(filters)} filters={filters} />
    </>
  );
}

// The status colours of ui.tsx's badges, which are keyed by pipeline states.
const SEVERITY_CLASS: Record<Severity, string> = { info: "", warning: "badge-processing", critical: "badge-failed" };

function AuditLog(props: { filters: Filters }) {
  const list = usePagedList(["audit", props.filters], async (cursor) => {
    const page = await unwrap(api.GET("/api/v1/audit/logs", { params: { query: { ...props.filters, cursor, limit: 50 } } }));
    return { items: page.logs, next: page.next_cursor };
  });
  return (
    <Card title="Audit log">
      <Loaded query={list.query}>
        {(page) =>
          page.items.length === 0 ? (
            <p>No entries match these filters.</p>
          ) : (
            <TableWrap label="Audit entries">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Time</th>
                    <th scope="col">User</th>
                    <th scope="col">Action</th>
                    <th scope="col">Resource</th>
                    <th scope="col">Severity</th>
                    <th scope="col">Outcome</th>
                    <th scope="col" class="num">
                      Status
                    </th>
                    <th scope="col">IP address</th>
                  </tr>
                </thead>
                <tbody>
                  {page.items.map((entry) => (
                    <tr key={entry.id}>
                      <td>{fmt.date(entry.timestamp)}</td>
                      <td>{entry.username ?? entry.user_id ?? "–"}</td>
                      <td>{entry.action}</td>
                      <td>{entry.resource_type ? `${entry.resource_type}${entry.resource_id ? ` ${entry.resource_id}` : ""}` : "–"}</td>
                      <td>
                        <span class={`badge ${SEVERITY_CLASS[entry.severity]}`}>{entry.severity}</span>
                      </td>
                      <td>
                        <span class={`badge ${entry.result === "failure" ? "badge-failed" : "badge-ready"}`}>{entry.result}</span>
                      </td>
                      <td class="num">{entry.status_code ?? "–"}</td>
                      <td>{entry.ip_address ?? "–"}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
          )
        }
      </Loaded>
      <Pager label="Audit log" page={list.page} hasNext={list.hasNext} onNext={list.next} onPrevious={list.previous} />
    </Card>
  );
}
