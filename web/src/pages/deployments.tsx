/** Edge targets (registering them, their device credentials), deploying a model to one, and a deployment's progress live. */
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { useLocation, useRoute } from "preact-iso";
import { useMutation, useQuery, useQueryClient } from "@tanstack/preact-query";
import { api, saveDownload, unwrap, unwrapPage } from "../api/client";
import { useLive } from "../api/realtime";
import { can, sessionState } from "../api/session";
import type { components } from "../api/schema";
import { Badge, Card, CopyButton, ErrorNote, Field, Loaded, Page, Pager, Stat, Stats, TableWrap, fmt, useClientPages } from "../ui";

type Target = components["schemas"]["EdgeTarget"];
type Deployment = components["schemas"]["Deployment"];
type RegisterTarget = components["schemas"]["RegisterTarget"];
type Model = components["schemas"]["Model"];
type Status = Deployment["status"];

const ARCHES: Target["arch"][] = ["aarch64", "armv7", "x86_64"];
const PAGE_SIZE = 10;


/** The newest 100 models, for choosing one and for naming them in tables. */
function useModels() {
  return useQuery({ queryKey: ["models", "options"], queryFn: () => unwrapPage(api.GET("/api/v1/models", { params: { query: { limit: 100 } } })) });
}

function useTargets() {
  return useQuery({ queryKey: ["targets"], queryFn: () => unwrap(api.GET("/api/v1/deployments/targets")) });
}

function ModelLink(props: { id: string | null; models?: Model[] }) {
  if (!props.id) return <span class="muted">none</span>;
  return <a href={`/models/${props.id}`}>{props.models?.find((model) => model.id === props.id)?.name ?? props.id}</a>;
}

/** A credential shown once: the API stores only its hash. */
function Credential(props: { name: string; credential: string; onDone: () => void }) {
  return (
    <div role="status" class="field">
      <p>
        <strong>Device credential for {props.name}.</strong> Put it on the controller now (<code>Authorization: Device …</code>): it will not be shown again.
      </p>
      <p class="secret">{props.credential}</p>
      <div class="actions">
        <CopyButton text={props.credential} label="Copy credential" />
        <button type="button" onClick={props.onDone}>
          I have stored it
        </button>
      </div>
    </div>
  );
}

// ------------------------------------------------------------ targets and deployments

export function DeploymentsPage() {
  const writer = can.write(sessionState().user);
  const targets = useTargets();
  const models = useModels();
  return (
    <Page title="Deployments">
      <TargetsCard targets={targets} models={models.data?.items} writer={writer} />
      {writer && (
        <div class="grid">
          <RegisterCard />
          <DeployCard targets={targets} models={models} />
        </div>
      )}
      <DeploymentsCard models={models.data?.items} />
    </Page>
  );
}

function TargetsCard(props: { targets: ReturnType<typeof useTargets>; models?: Model[]; writer: boolean }) {
  const pages = useClientPages(props.targets.data, PAGE_SIZE);
  const [issued, setIssued] = useState<{ name: string; credential: string } | null>(null);
  const rotate = useMutation({
    mutationFn: async (target: Target) => ({
      name: target.name,
      credential: (await unwrap(api.POST("/api/v1/deployments/targets/{id}/credential", { params: { path: { id: target.id } } }))).credential,
    }),
    onSuccess: setIssued,
  });
  return (
    <Card title="Edge controllers">
      {issued && <Credential {...issued} onDone={() => setIssued(null)} />}
      <ErrorNote error={rotate.error} />
      <Loaded query={props.targets}>
        {(list) =>
          list.length === 0 ? (
            <p>No controllers registered yet.</p>
          ) : (
            <TableWrap label="Controllers table">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Arch</th>
                    <th scope="col">IP</th>
                    <th scope="col">Status</th>
                    <th scope="col">Last seen</th>
                    <th scope="col">Current model</th>
                    {props.writer && <th scope="col">Credential</th>}
                  </tr>
                </thead>
                <tbody>
                  {pages.items.map((target) => (
                    <tr key={target.id}>
                      <td>
                        {target.name}
                        {(target.location || target.unit) && <div class="muted">{[target.location, target.unit].filter(Boolean).join(" · ")}</div>}
                      </td>
                      <td>{target.arch}</td>
                      <td>{target.ip ?? "–"}</td>
                      <td>
                        <Badge value={target.status} />
                      </td>
                      <td>{target.last_seen ? fmt.date(target.last_seen) : "never"}</td>
                      <td>
                        <ModelLink id={target.current_model} models={props.models} />
                      </td>
                      {props.writer && (
                        <td>
                          <button
                            type="button"
                            disabled={rotate.isPending}
                            onClick={() => confirm(`Replace the credential of ${target.name}? The one it uses now stops working at once.`) && rotate.mutate(target)}
                          >
                            Replace<span class="sr-only"> the credential of {target.name}</span>
                          </button>
                        </td>
                      )}
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
          )
        }
      </Loaded>
      <Pager label="Controllers" page={pages.page} hasNext={pages.hasNext} onNext={pages.next} onPrevious={pages.previous} />
    </Card>
  );
}

function RegisterCard() {
  const queryClient = useQueryClient();
  const empty: RegisterTarget = { name: "", arch: "aarch64", ip: "", location: "", unit: "" };
  const [form, setForm] = useState(empty);
  const register = useMutation({
    // Optional fields go only when filled in: the API validates an empty IP as an IP.
    mutationFn: () =>
      unwrap(
        api.POST("/api/v1/deployments/targets", {
          body: Object.fromEntries(Object.entries(form).map(([key, value]) => [key, value?.trim()]).filter(([, value]) => value)) as RegisterTarget,
        }),
      ),
    onSuccess: () => {
      setForm(empty);
      void queryClient.invalidateQueries({ queryKey: ["targets"] });
    },
  });
  const set = (field: keyof RegisterTarget) => (event: { currentTarget: HTMLInputElement | HTMLSelectElement }) => setForm({ ...form, [field]: event.currentTarget.value });
  return (
    <Card title="Register a controller">
      {register.data ? (
        <Credential name={register.data.name} credential={register.data.credential} onDone={() => register.reset()} />
      ) : (
        <form
          onSubmit={(event) => {
            event.preventDefault();
            register.mutate();
          }}
        >
          <Field id="target-name" label="Name">
            <input id="target-name" required maxLength={200} value={form.name} onInput={set("name")} />
          </Field>
          <div class="row">
            <Field id="target-arch" label="Architecture">
              <select id="target-arch" value={form.arch} onChange={set("arch")}>
                {ARCHES.map((arch) => (
                  <option key={arch} value={arch}>
                    {arch}
                  </option>
                ))}
              </select>
            </Field>
            <Field id="target-ip" label="IP address (optional)">
              <input id="target-ip" inputMode="decimal" value={form.ip} onInput={set("ip")} />
            </Field>
          </div>
          <div class="row">
            <Field id="target-location" label="Location (optional)">
              <input id="target-location" maxLength={200} value={form.location} onInput={set("location")} />
            </Field>
            <Field id="target-unit" label="Unit (optional)">
              <input id="target-unit" maxLength={200} value={form.unit} onInput={set("unit")} />
            </Field>
          </div>
          <ErrorNote error={register.error} />
          <div>
            <button class="primary" disabled={register.isPending}>
              {register.isPending ? "Registering…" : "Register"}
            </button>
          </div>
        </form>
      )}
    </Card>
  );
}

function DeployCard(props: { targets: ReturnType<typeof useTargets>; models: ReturnType<typeof useModels> }) {
  const location = useLocation();
  const queryClient = useQueryClient();
  const [form, setForm] = useState({ model_id: "", target_id: "", precision: "float32" as Deployment["precision"] });
  const deploy = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/deployments", { body: form })),
    onSuccess: (created) => {
      void queryClient.invalidateQueries({ queryKey: ["deployments"] });
      location.route(`/deployments/${created.id}`);
    },
  });
  const models = props.models.data?.items.filter((model) => model.status === "ready") ?? [];
  const targets = props.targets.data ?? [];
  const chosen = models.find((model) => model.id === form.model_id);
  const set = (field: keyof typeof form) => (event: { currentTarget: HTMLSelectElement }) => setForm({ ...form, [field]: event.currentTarget.value });
  return (
    <Card title="Deploy a model">
      <ErrorNote error={props.models.error ?? props.targets.error} />
      {props.targets.data && targets.length === 0 ? (
        <p>Register a controller first.</p>
      ) : props.models.data && models.length === 0 ? (
        <p>
          No model is ready to deploy. <a href="/training">Train one</a>.
        </p>
      ) : (
        <form
          onSubmit={(event) => {
            event.preventDefault();
            deploy.mutate();
          }}
        >
          <Field id="deploy-model" label="Model">
            <select
              id="deploy-model"
              required
              value={form.model_id}
              // A model without int8 weights can only go as float32.
              onChange={(event) => {
                const next = models.find((model) => model.id === event.currentTarget.value);
                setForm({ ...form, model_id: event.currentTarget.value, precision: next && !next.quantized ? "float32" : form.precision });
              }}
            >
              <option value="">{props.models.isPending ? "Loading…" : "Choose a model"}</option>
              {models.map((model) => (
                <option key={model.id} value={model.id}>
                  {model.name} ({fmt.date(model.created_at)})
                </option>
              ))}
            </select>
          </Field>
          <Field id="deploy-target" label="Controller">
            <select id="deploy-target" required value={form.target_id} onChange={set("target_id")}>
              <option value="">{props.targets.isPending ? "Loading…" : "Choose a controller"}</option>
              {targets.map((target) => (
                <option key={target.id} value={target.id}>
                  {target.name} ({target.arch}, {target.status})
                </option>
              ))}
            </select>
          </Field>
          <Field id="deploy-precision" label="Precision" hint={chosen && !chosen.quantized ? "This model has no int8 variant." : "int8 binaries are smaller; their deviation is measured."}>
            <select id="deploy-precision" value={form.precision} onChange={set("precision")} aria-describedby="deploy-precision-hint">
              <option value="float32">float32</option>
              <option value="int8" disabled={chosen && !chosen.quantized}>
                int8
              </option>
            </select>
          </Field>
          <ErrorNote error={deploy.error} />
          <div>
            <button class="primary" disabled={deploy.isPending}>
              {deploy.isPending ? "Deploying…" : "Deploy"}
            </button>
          </div>
        </form>
      )}
    </Card>
  );
}

function DeploymentsCard(props: { models?: Model[] }) {
  const deployments = useQuery({ queryKey: ["deployments"], queryFn: () => unwrap(api.GET("/api/v1/deployments")) });
  const pages = useClientPages(deployments.data, PAGE_SIZE);
  return (
    <Card title="All deployments">
      <Loaded query={deployments}>
        {(list) =>
          list.length === 0 ? (
            <p>Nothing deployed yet.</p>
          ) : (
            <TableWrap label="Deployments table">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Deployment</th>
                    <th scope="col">Model</th>
                    <th scope="col">Controller</th>
                    <th scope="col">Status</th>
                    <th scope="col" class="num">Binary size</th>
                    <th scope="col">Created</th>
                  </tr>
                </thead>
                <tbody>
                  {pages.items.map((deployment) => (
                    <tr key={deployment.id}>
                      <td>
                        <a href={`/deployments/${deployment.id}`}>{deployment.id}</a>
                      </td>
                      <td>
                        <ModelLink id={deployment.model_id} models={props.models} /> <span class="muted">{deployment.precision}</span>
                      </td>
                      <td>
                        {deployment.target_name} <span class="muted">{deployment.target_arch}</span>
                      </td>
                      <td>
                        <Badge value={deployment.status} />
                      </td>
                      <td class="num">{fmt.bytes(deployment.binary_size_bytes)}</td>
                      <td>{fmt.date(deployment.created_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
          )
        }
      </Loaded>
      <Pager label="Deployments" page={pages.page} hasNext={pages.hasNext} onNext={pages.next} onPrevious={pages.previous} />
    </Card>
  );
}

// ------------------------------------------------------------ one deployment

const STEPS: { status: Status; label: string }[] = [
  { status: "compiling", label: "Compiling" },
  { status: "quantizing", label: "Quantizing" },
  { status: "packaging", label: "Packaging" },
  { status: "transferring", label: "Transferring" },
  { status: "deployed", label: "Deployed" },
];
const IN_PROGRESS: Status[] = ["compiling", "quantizing", "packaging", "transferring"];

/**
 * Where a failed deployment stopped. The API records no failed step: take the
 * last status seen live, else what the record had reached (the model version
 * is set on leaving compiling, the checksums on reaching transferring).
 */
function failedStep(deployment: Deployment, lastLive: Status | null): Status {
  if (lastLive) return lastLive;
  if (deployment.sha256) return "transferring";
  if (deployment.model_version) return deployment.precision === "int8" ? "quantizing" : "packaging";
  return "compiling";
}

function Steps(props: { deployment: Deployment; lastLive: Status | null }) {
  const { deployment } = props;
  // float32 deployments pass through "quantizing" without work: it is not a step for them.
  const steps = STEPS.filter((step) => step.status !== "quantizing" || deployment.precision === "int8");
  const failed = deployment.status === "failed";
  const reached = failed ? failedStep(deployment, props.lastLive) : deployment.status;
  const at = steps.findIndex((step) => step.status === (reached === "quantizing" && deployment.precision !== "int8" ? "packaging" : reached));
  const stateOf = (index: number) => (deployment.status === "deployed" || index < at ? "done" : index === at ? (failed ? "failed" : "current") : "");
  return (
    <ol class="steps" aria-label="Deployment steps">
      {steps.map((step, index) => {
        const state = stateOf(index);
        return (
          <li key={step.status} class={state} aria-current={state === "current" ? "step" : undefined}>
            {state === "done" && <span aria-hidden="true">✓ </span>}
            {state === "failed" && <span aria-hidden="true">✗ </span>}
            {step.label}
            {state && <span class="sr-only"> ({state === "current" ? "in progress" : state})</span>}
          </li>
        );
      })}
    </ol>
  );
}

export function DeploymentPage() {
  const { id } = useRoute().params as { id: string };
  const queryClient = useQueryClient();
  const key = ["deployment", id];
  const deployment = useQuery({
    queryKey: key,
    queryFn: () => unwrap(api.GET("/api/v1/deployments/{id}", { params: { path: { id } } })),
    // In case the live channel is down, look again now and then while it moves.
    refetchInterval: (query) => (query.state.data && IN_PROGRESS.includes(query.state.data.status) ? 15_000 : false),
  });
  const [lastLive, setLastLive] = useState<Status | null>(null);
  useLive(`deployment:${id}`, (event) => {
    if (event.type !== "deployment_status") return;
    const status = event.status as Status;
    if (status !== "failed") setLastLive(status);
    const before = queryClient.getQueryData<Deployment>(key);
    queryClient.setQueryData<Deployment>(key, (old) =>
      old && { ...old, status, reason: (event.reason as string | null) ?? null, binary_size_bytes: (event.binary_size_bytes as number | null) ?? old.binary_size_bytes, sha256: (event.sha256 as string | null) ?? old.sha256 },
    );
    // Verification, toolchain and checksums come with a status change but not in the event: read the record again.
    if (before?.status !== status) {
      void queryClient.invalidateQueries({ queryKey: key });
      void queryClient.invalidateQueries({ queryKey: ["deployments"] });
      if (status === "deployed" || status === "failed") void queryClient.invalidateQueries({ queryKey: ["targets"] });
    }
  });
  if (!deployment.data) {
    return (
      <Page title="Deployment">
        <Loaded query={deployment}>{() => null}</Loaded>
      </Page>
    );
  }
  return <DeploymentView deployment={deployment.data} lastLive={lastLive} />;
}

function DeploymentView(props: { deployment: Deployment; lastLive: Status | null }) {
  const { deployment } = props;
  const model = useQuery({
    queryKey: ["model", deployment.model_id],
    queryFn: () => unwrap(api.GET("/api/v1/models/{id}", { params: { path: { id: deployment.model_id } } })),
  });
  const targets = useTargets();
  const target = targets.data?.find((item) => item.id === deployment.target_id);
  const download = useMutation({ mutationFn: () => saveDownload(`/api/v1/deployments/${deployment.id}/binary`, `${deployment.id}-${deployment.target_arch}.tar.gz`) });
  const verification = deployment.verification;
  return (
    <Page
      title={`Deployment to ${deployment.target_name}`}
      actions={
        deployment.sha256 && (
          <button type="button" disabled={download.isPending} onClick={() => download.mutate()}>
            Download package
          </button>
        )
      }
    >
      <ErrorNote error={download.error} />
      <Card title="Progress">
        <Steps deployment={deployment} lastLive={props.lastLive} />
        <p role="status">
          Status: <Badge value={deployment.status} />
          {deployment.status === "transferring" && " The package is ready and waits for the controller to pull it."}
          {deployment.status === "deployed" && ` The controller confirmed the install ${fmt.date(deployment.deployed_at)}.`}
        </p>
        {deployment.status === "failed" && <p class="error">Failed: {deployment.reason ?? "no reason was recorded"}</p>}
      </Card>
      <div class="grid">
        <Card title="Deployment">
          <Stats>
            <Stat label="Model" value={<ModelLink id={deployment.model_id} models={model.data ? [model.data] : undefined} />} />
            <Stat label="Model version" value={<code class="wrap">{deployment.model_version ?? "–"}</code>} />
            <Stat label="Precision" value={deployment.precision} />
            <Stat label="Controller" value={`${deployment.target_name} (${deployment.target_arch})`} />
            <Stat label="IP" value={deployment.target_ip ?? "–"} />
            <Stat label="Binary size" value={fmt.bytes(deployment.binary_size_bytes)} />
            <Stat label="Package size" value={fmt.bytes(deployment.package_size_bytes)} />
            <Stat label="Deployed by" value={deployment.deployed_by} />
            <Stat label="Created" value={fmt.date(deployment.created_at)} />
            <Stat label="Updated" value={fmt.date(deployment.updated_at)} />
          </Stats>
          {deployment.toolchain && <p>Toolchain: {deployment.toolchain}</p>}
          {[
            ["Package SHA-256", deployment.sha256],
            ["Binary SHA-256", deployment.binary_sha256],
          ].map(
            ([label, value]) =>
              value && (
                <div key={label} class="field">
                  <strong>{label}</strong>
                  <code class="wrap">{value}</code>
                  <div>
                    <CopyButton text={value} label={`Copy ${label}`} />
                  </div>
                </div>
              ),
          )}
        </Card>
        <Card title="Verification">
          {verification ? (
            <>
              <p>The compiled binary's scores against ONNX Runtime on the same windows.</p>
              <Stats>
                <Stat label="Max absolute error" value={fmt.number(verification.max_abs_error, 3)} />
                {verification.max_rel_error !== undefined && <Stat label="Max relative error" value={fmt.number(verification.max_rel_error, 3)} />}
                <Stat label="Windows checked" value={fmt.number(verification.windows_checked)} />
                {verification.tolerance && <Stat label="Tolerance" value={`rtol ${fmt.number(verification.tolerance.rtol)}, atol ${fmt.number(verification.tolerance.atol)}`} />}
                {verification.int8_onnx_max_abs_deviation !== undefined && (
                  <Stat label="int8 deviation from its ONNX" value={fmt.number(verification.int8_onnx_max_abs_deviation, 3)} />
                )}
                {verification.selftest && <Stat label="Self-test" value={verification.selftest} />}
              </Stats>
            </>
          ) : (
            <p>{deployment.status === "failed" ? "No binary passed verification." : "The figures appear once the binary is built and checked."}</p>
          )}
        </Card>
        <Card title="On the controller">
          <Loaded query={targets}>
            {() =>
              target ? (
                <>
                  <p>
                    {target.name} is <Badge value={target.status} /> (last seen {target.last_seen ? fmt.date(target.last_seen) : "never"}) and runs{" "}
                    <ModelLink id={target.current_model} models={model.data ? [model.data] : undefined} />
                    {target.current_model_version && ` (${target.current_model_version})`}.
                  </p>
                  {deployment.status === "failed" && target.current_deployment_id !== deployment.id && (
                    <p class="muted">This deployment is not what the controller runs: a failed install keeps the previous model.</p>
                  )}
                </>
              ) : (
                <p>The controller is no longer registered.</p>
              )
            }
          </Loaded>
        </Card>
      </div>
    </Page>
  );
}
