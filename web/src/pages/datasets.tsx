/** The overview, the dataset list with uploads, and one dataset: statistics, preview, validation and recommendations. */
import { useState } from "preact/hooks";
import { useLocation, useRoute } from "preact-iso";
import { useMutation, useQuery, useQueryClient } from "@tanstack/preact-query";
import { api, unwrap, unwrapPage } from "../api/client";
import { useLive } from "../api/realtime";
import { can, sessionState } from "../api/session";
import type { components } from "../api/schema";
import { uploadDataset, type UploadFields } from "../upload";
import { Badge, Card, ErrorNote, Field, Loaded, Notice, Page, Pager, ProgressBar, Stat, Stats, TableWrap, fmt, usePagedList } from "../ui";

type Dataset = components["schemas"]["Dataset"];
type Summary = components["schemas"]["DatasetSummary"];

export const EQUIPMENT_TYPES: UploadFields["equipment_type"][] = ["air_handler", "boiler", "pump", "chiller", "fan_coil", "steam"];

// ------------------------------------------------------------ overview

export function OverviewPage() {
  const user = sessionState().user;
  const datasets = useQuery({ queryKey: ["datasets", "recent"], queryFn: () => unwrapPage(api.GET("/api/v1/datasets", { params: { query: { limit: 5 } } })) });
  const runs = useQuery({ queryKey: ["training", "recent"], queryFn: () => unwrapPage(api.GET("/api/v1/training", { params: { query: { limit: 5 } } })) });
  const targets = useQuery({ queryKey: ["targets", "recent"], queryFn: () => unwrap(api.GET("/api/v1/deployments/targets")) });
  return (
    <Page title="Overview" actions={can.write(user) && <a class="button primary" href="/datasets#upload">Upload a dataset</a>}>
      <div class="grid">
        <Card title="Recent datasets">
          <Loaded query={datasets}>
            {(page) =>
              page.items.length === 0 ? (
                <p>No datasets yet. Upload a CSV of sensor readings to start.</p>
              ) : (
                <ul>
                  {page.items.map((dataset) => (
                    <li key={dataset.id}>
                      <a href={`/datasets/${dataset.id}`}>{dataset.name}</a> <Badge value={dataset.status} />
                    </li>
                  ))}
                </ul>
              )
            }
          </Loaded>
          <a href="/datasets">All datasets</a>
        </Card>
        <Card title="Recent training runs">
          <Loaded query={runs}>
            {(page) =>
              page.items.length === 0 ? (
                <p>No training runs yet.</p>
              ) : (
                <ul>
                  {page.items.map((run) => (
                    <li key={run.id}>
                      <a href={`/training/${run.id}`}>{fmt.label(run.architecture)}</a> <Badge value={run.status} />
                    </li>
                  ))}
                </ul>
              )
            }
          </Loaded>
          <a href="/training">All runs</a>
        </Card>
        <Card title="Edge controllers">
          <Loaded query={targets}>
            {(list) => (
              <p>
                {list.filter((target) => target.status === "online").length} online of {list.length} registered.
              </p>
            )}
          </Loaded>
          <a href="/deployments">Deployments</a>
        </Card>
      </div>
    </Page>
  );
}

// ------------------------------------------------------------ list and upload

export function DatasetListPage() {
  const user = sessionState().user;
  const list = usePagedList<Summary>(["datasets", "list"], (cursor) => unwrapPage(api.GET("/api/v1/datasets", { params: { query: { limit: 20, cursor } } })));
  return (
    <Page title="Datasets">
      {can.write(user) && <UploadCard />}
      <Card title="Your datasets">
        <Loaded query={list.query}>
          {(page) =>
            page.items.length === 0 ? (
              <p>No datasets yet.</p>
            ) : (
              <TableWrap label="Datasets table">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Equipment</th>
                      <th scope="col">Status</th>
                      <th scope="col" class="num">Rows</th>
                      <th scope="col" class="num">Columns</th>
                      <th scope="col" class="num">Size</th>
                      <th scope="col">Created</th>
                    </tr>
                  </thead>
                  <tbody>
                    {page.items.map((dataset) => (
                      <tr key={dataset.id}>
                        <td>
                          <a href={`/datasets/${dataset.id}`}>{dataset.name}</a>
                        </td>
                        <td>{fmt.label(dataset.equipment_type)}</td>
                        <td>
                          <Badge value={dataset.status} /> {dataset.is_validated && <Badge value="validated" />}
                        </td>
                        <td class="num">{fmt.number(dataset.row_count)}</td>
                        <td class="num">{dataset.columns.length}</td>
                        <td class="num">{fmt.bytes(dataset.file_size_bytes)}</td>
                        <td>{fmt.date(dataset.created_at)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </TableWrap>
            )
          }
        </Loaded>
        <Pager label="Datasets" page={list.page} hasNext={list.hasNext} onNext={list.next} onPrevious={list.previous} />
      </Card>
    </Page>
  );
}

function UploadCard() {
  const location = useLocation();
  const queryClient = useQueryClient();
  const [file, setFile] = useState<File | null>(null);
  const [fields, setFields] = useState<UploadFields>({ name: "", equipment_type: "air_handler", location: "", unit: "" });
  const [progress, setProgress] = useState<number | null>(null);
  const upload = useMutation({
    mutationFn: () => uploadDataset(file!, { ...fields, name: fields.name.trim() || file!.name.replace(/\.[^.]+$/, "") }, (fraction) => setProgress(fraction * 100)),
    onSuccess: (id) => {
      void queryClient.invalidateQueries({ queryKey: ["datasets"] });
      location.route(`/datasets/${id}`);
    },
    onError: () => setProgress(null),
  });
  const set = (field: keyof UploadFields) => (event: { currentTarget: HTMLInputElement | HTMLSelectElement }) => setFields({ ...fields, [field]: event.currentTarget.value });
  return (
    <Card title="Upload a dataset">
      <form
        id="upload"
        onSubmit={(event) => {
          event.preventDefault();
          if (file) upload.mutate();
        }}
      >
        <Field id="upload-file" label="CSV file" hint="A header row, a timestamp column and one column per sensor. Files over 8 MB go straight to storage.">
          <input id="upload-file" type="file" accept=".csv,text/csv" required aria-describedby="upload-file-hint" onChange={(event) => setFile(event.currentTarget.files?.[0] ?? null)} />
        </Field>
        <div class="row">
          <Field id="upload-name" label="Name">
            <input id="upload-name" value={fields.name} placeholder={file?.name.replace(/\.[^.]+$/, "") ?? ""} onInput={set("name")} />
          </Field>
          <Field id="upload-equipment" label="Equipment type">
            <select id="upload-equipment" value={fields.equipment_type} onChange={set("equipment_type")}>
              {EQUIPMENT_TYPES.map((type) => (
                <option key={type} value={type}>
                  {fmt.label(type)}
                </option>
              ))}
            </select>
          </Field>
          <Field id="upload-location" label="Location (optional)">
            <input id="upload-location" value={fields.location} onInput={set("location")} />
          </Field>
          <Field id="upload-unit" label="Unit (optional)">
            <input id="upload-unit" value={fields.unit} onInput={set("unit")} />
          </Field>
        </div>
        {progress !== null && <ProgressBar value={progress} label="Upload progress" />}
        <ErrorNote error={upload.error} />
        <div>
          <button class="primary" disabled={!file || upload.isPending}>
            {upload.isPending ? "Uploading…" : "Upload"}
          </button>
        </div>
      </form>
    </Card>
  );
}

// ------------------------------------------------------------ one dataset

export function DatasetPage() {
  const { id } = useRoute().params as { id: string };
  const queryClient = useQueryClient();
  const user = sessionState().user;
  const dataset = useQuery({ queryKey: ["dataset", id], queryFn: () => unwrap(api.GET("/api/v1/datasets/{id}", { params: { path: { id } } })) });
  const [imported, setImported] = useState<{ rows: number; bytes: number } | null>(null);
  useLive(`dataset:${id}`, (event) => {
    if (event.type === "dataset.rows_imported") setImported({ rows: Number(event.rows), bytes: Number(event.bytes) });
    if (["dataset.ready", "dataset.failed", "dataset.validated"].includes(event.type) || event.type === "snapshot") {
      void queryClient.invalidateQueries({ queryKey: ["dataset", id] });
    }
  });
  // Until the live channel says otherwise, look again every few seconds while ingest runs.
  const processing = dataset.data?.status === "processing" || dataset.data?.status === "pending_upload";
  useQuery({ queryKey: ["dataset", id, "poll"], queryFn: () => queryClient.invalidateQueries({ queryKey: ["dataset", id] }).then(() => 0), enabled: processing, refetchInterval: 3000 });

  return (
    <Loaded query={dataset}>
      {(data) => (
        <Page title={data.name} actions={<Badge value={data.status} />}>
          {processing && (
            <Notice>
              Ingesting… {imported ? `${fmt.number(imported.rows)} rows (${fmt.bytes(imported.bytes)}) read so far.` : "Statistics appear when it is done."}
            </Notice>
          )}
          {data.status === "failed" && <p class="error" role="alert">Ingest failed: {data.failure?.reason ?? "unknown reason"}</p>}
          <Card title="Summary">
            <Stats>
              <Stat label="Rows" value={fmt.number(data.row_count)} />
              <Stat label="Columns" value={data.columns.length} />
              <Stat label="File size" value={fmt.bytes(data.file_size_bytes)} />
              <Stat label="Stored (compressed)" value={fmt.bytes(data.storage.stored_bytes)} />
              <Stat label="Sampling interval" value={fmt.duration(data.sampling_interval_seconds)} />
              <Stat label="From" value={fmt.date(data.time_range?.start)} />
              <Stat label="To" value={fmt.date(data.time_range?.end)} />
              <Stat label="Equipment" value={fmt.label(data.equipment_type)} />
            </Stats>
          </Card>
          {data.status === "ready" && (
            <>
              <ValidationCard dataset={data} canWrite={can.write(user)} />
              <ColumnStats dataset={data} />
              <Preview dataset={data} />
              <Recommendations dataset={data} canWrite={can.write(user)} />
            </>
          )}
        </Page>
      )}
    </Loaded>
  );
}

function ValidationCard(props: { dataset: Dataset; canWrite: boolean }) {
  const queryClient = useQueryClient();
  const { id } = props.dataset;
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["dataset", id] });
  const validate = useMutation({ mutationFn: () => unwrap(api.POST("/api/v1/datasets/{id}/validate", { params: { path: { id } } })), onSuccess: refresh });
  const unlock = useMutation({ mutationFn: () => unwrap(api.POST("/api/v1/datasets/{id}/unlock", { params: { path: { id } } })), onSuccess: refresh });
  const result = validate.data;
  return (
    <Card title="Validation">
      <p>
        {props.dataset.is_validated
          ? `Validated ${fmt.date(props.dataset.validated_at)} and locked: it can be trained on and cannot change.`
          : "Validate the dataset before training: it is checked for gaps, constant and non-numeric columns, then locked."}
      </p>
      {result && (
        <div role="status">
          <p>
            {result.valid ? "Valid" : "Not valid"}: {fmt.number(result.rows_checked)} rows and {result.columns_checked} columns checked.
          </p>
          {result.issues.length > 0 && (
            <ul aria-label="Validation issues">
              {result.issues.map((issue) => (
                <li key={issue}>{issue}</li>
              ))}
            </ul>
          )}
        </div>
      )}
      <ErrorNote error={validate.error ?? unlock.error} />
      {props.canWrite && (
        <div class="actions">
          {!props.dataset.is_validated && (
            <button class="primary" disabled={validate.isPending} onClick={() => validate.mutate()}>
              {validate.isPending ? "Validating…" : "Validate"}
            </button>
          )}
          {props.dataset.locked && (
            <button disabled={unlock.isPending} onClick={() => unlock.mutate()}>
              Unlock
            </button>
          )}
        </div>
      )}
    </Card>
  );
}

function ColumnStats(props: { dataset: Dataset }) {
  const entries = Object.entries(props.dataset.column_stats);
  if (entries.length === 0) return null;
  return (
    <Card title="Column statistics">
      <TableWrap label="Column statistics table">
        <table>
          <thead>
            <tr>
              <th scope="col">Column</th>
              <th scope="col" class="num">Numeric</th>
              <th scope="col" class="num">Missing</th>
              <th scope="col" class="num">Non-numeric</th>
              <th scope="col" class="num">Min</th>
              <th scope="col" class="num">Max</th>
              <th scope="col" class="num">Mean</th>
              <th scope="col" class="num">Std</th>
            </tr>
          </thead>
          <tbody>
            {entries.map(([column, stats]) => (
              <tr key={column}>
                <th scope="row">{column}</th>
                <td class="num">{fmt.number(stats.count_numeric)}</td>
                <td class="num">{fmt.number(stats.count_missing)}</td>
                <td class="num">{fmt.number(stats.count_non_numeric)}</td>
                <td class="num">{fmt.number(stats.min)}</td>
                <td class="num">{fmt.number(stats.max)}</td>
                <td class="num">{fmt.number(stats.mean)}</td>
                <td class="num">{fmt.number(stats.std)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableWrap>
    </Card>
  );
}

const PAGE_SIZE = 50;

/** Server-side paging and sorting: millions of rows never reach the browser at once. */
function Preview(props: { dataset: Dataset }) {
  const { id } = props.dataset;
  const [page, setPage] = useState(1);
  const [sort, setSort] = useState<{ col: string; dir: "asc" | "desc" } | null>(null);
  const [jump, setJump] = useState("");
  const preview = useQuery({
    queryKey: ["dataset", id, "preview", page, sort?.col, sort?.dir],
    queryFn: () =>
      unwrap(api.GET("/api/v1/datasets/{id}/preview", { params: { path: { id }, query: { page, page_size: PAGE_SIZE, ...(sort ? { sort_col: sort.col, sort_dir: sort.dir } : {}) } } })),
    placeholderData: (previous) => previous,
  });
  const sortBy = (col: string) => {
    setSort(sort?.col === col ? { col, dir: sort.dir === "asc" ? "desc" : "asc" } : { col, dir: "asc" });
    setPage(1);
  };
  return (
    <Card title="Preview">
      <Loaded query={preview}>
        {(data) => (
          <>
            <p class="muted">
              {fmt.number(data.total_rows)} rows · page {data.page} of {fmt.number(data.total_pages)}
              {data.sort_col ? ` · sorted by ${data.sort_col} (${data.sort_dir === "asc" ? "ascending" : "descending"})` : ""}
            </p>
            <TableWrap label="Dataset rows table">
              <table aria-label="Dataset rows" aria-busy={preview.isFetching}>
                <thead>
                  <tr>
                    {data.headers.map((header) => (
                      <th key={header} scope="col" aria-sort={data.sort_col === header ? (data.sort_dir === "asc" ? "ascending" : "descending") : "none"}>
                        <button type="button" onClick={() => sortBy(header)}>
                          {header} {data.sort_col === header ? (data.sort_dir === "asc" ? "▲" : "▼") : ""}
                        </button>
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {data.rows.map((row, index) => (
                    <tr key={index}>
                      {row.map((value, column) => (
                        <td key={column} class={typeof value === "number" ? "num" : ""}>
                          {value === null ? <span class="muted">–</span> : typeof value === "number" ? fmt.number(value, 6) : value}
                        </td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
            <nav class="pager" aria-label="Preview pages">
              <button type="button" disabled={page <= 1} onClick={() => setPage(1)}>
                First
              </button>
              <button type="button" disabled={page <= 1} onClick={() => setPage(page - 1)}>
                Previous
              </button>
              <form
                class="row"
                onSubmit={(event) => {
                  event.preventDefault();
                  const target = Math.min(data.total_pages, Math.max(1, Number(jump) || 1));
                  setPage(target);
                }}
              >
                <label for="preview-page">Page</label>
                <input id="preview-page" type="number" min={1} max={data.total_pages} value={jump} placeholder={String(page)} onInput={(event) => setJump(event.currentTarget.value)} class="narrow" />
                <button type="submit">Go</button>
              </form>
              <button type="button" disabled={page >= data.total_pages} onClick={() => setPage(page + 1)}>
                Next
              </button>
              <button type="button" disabled={page >= data.total_pages} onClick={() => setPage(data.total_pages)}>
                Last
              </button>
            </nav>
          </>
        )}
      </Loaded>
    </Card>
  );
}

function Recommendations(props: { dataset: Dataset; canWrite: boolean }) {
  const { id } = props.dataset;
  const recommendations = useQuery({ queryKey: ["dataset", id, "recommend"], queryFn: () => unwrap(api.GET("/api/v1/datasets/{id}/recommend", { params: { path: { id } } })) });
  return (
    <Card title="Recommended models">
      <Loaded query={recommendations}>
        {(data) => (
          <div class="grid">
            {data.recommendations.map((recommendation, index) => (
              <article key={recommendation.architecture} class="card" aria-labelledby={`rec-${index}`}>
                <h3 id={`rec-${index}`}>
                  {fmt.label(recommendation.architecture)} <span class="muted">match {fmt.percent(recommendation.match_score)}</span>
                </h3>
                <p>{recommendation.description}</p>
                <ul>
                  {recommendation.reasons.map((reason) => (
                    <li key={reason}>{reason}</li>
                  ))}
                </ul>
                {props.canWrite &&
                  (props.dataset.is_validated ? (
                    <a class="button primary" href={`/training/new?dataset=${id}&architecture=${recommendation.architecture}`}>
                      Train this
                    </a>
                  ) : (
                    <p class="muted">Validate the dataset to train this.</p>
                  ))}
              </article>
            ))}
          </div>
        )}
      </Loaded>
    </Card>
  );
}
