/** Training: the runs and the plan's capacity, the start form, and one run with its live loss chart. */
import { useEffect, useMemo, useState } from "preact/hooks";
import { useLocation, useRoute } from "preact-iso";
import { useMutation, useQuery, useQueryClient } from "@tanstack/preact-query";
import { api, unwrap, unwrapPage } from "../api/client";
import { useLive, type LiveEvent } from "../api/realtime";
import { can, sessionState } from "../api/session";
import type { components } from "../api/schema";
import { Chart } from "../charts";
import { Badge, Card, ErrorNote, Field, Loaded, Notice, Page, Pager, ProgressBar, Stat, Stats, TableWrap, fmt, usePagedList } from "../ui";

type Run = components["schemas"]["TrainingRun"];
type Start = components["schemas"]["StartTraining"];
type Hyperparameters = NonNullable<Start["hyperparameters"]>;
type Architecture = Start["architecture"];

const ARCHITECTURES: { value: Architecture; label: string; about: string }[] = [
  { value: "auto", label: "Auto (try several, keep the best)", about: "Trains the candidates that suit the data within the time budget and keeps the one with the best validation score." },
  { value: "lstm_autoencoder", label: "LSTM autoencoder", about: "Learns to reconstruct normal windows; a window it reconstructs badly is anomalous. Needs no labels." },
  { value: "gru_predictor", label: "GRU predictor", about: "Forecasts the next readings; a large forecast error is anomalous. With a label column and BCE loss it predicts failure probability." },
  { value: "sentinel", label: "Sentinel (supervised)", about: "A small network trained on labelled faults: the most precise when the data has a label column." },
  { value: "pca", label: "PCA baseline", about: "Hotelling T² and residual of window statistics: fitted in seconds, the yardstick a neural model must beat." },
  { value: "kmeans", label: "k-means baseline", about: "Distance of a window to the nearest cluster of normal windows." },
  { value: "iforest", label: "Isolation forest baseline", about: "How quickly random splits isolate a window: rare windows isolate fast." },
];

type Param = { key: keyof Hyperparameters; label: string; about: string; kind: "int" | "float" | "choice"; choices?: string[]; only?: Architecture[] };
const NEURAL: Architecture[] = ["lstm_autoencoder", "gru_predictor", "sentinel", "auto"];

/** Every hyperparameter, explained where it is set. Empty fields are chosen from the data. */
const PARAMS: Param[] = [
  { key: "epochs", label: "Epochs", about: "Passes over the training windows. Early stopping may end sooner.", kind: "int", only: NEURAL },
  { key: "learning_rate", label: "Learning rate", about: "Step size of the optimiser. Too high diverges, too low learns slowly.", kind: "float", only: NEURAL },
  { key: "batch_size", label: "Batch size", about: "Windows per gradient step: larger is faster per epoch, smaller often generalises better.", kind: "int", only: NEURAL },
  { key: "sequence_length", label: "Window length (rows)", about: "Readings the model sees at once. Cover at least one cycle of the equipment.", kind: "int" },
  { key: "stride", label: "Stride (rows)", about: "Step between training windows; scoring always uses every window.", kind: "int" },
  { key: "hidden_dim", label: "Hidden size", about: "Width of the recurrent layers: capacity versus size on the controller.", kind: "int", only: ["lstm_autoencoder", "gru_predictor", "auto"] },
  { key: "bottleneck_dim", label: "Bottleneck size", about: "Width of the autoencoder's compressed code: smaller forces it to learn only normal patterns.", kind: "int", only: ["lstm_autoencoder", "auto"] },
  { key: "num_layers", label: "Layers", about: "Stacked recurrent layers (1–4).", kind: "int", only: ["lstm_autoencoder", "gru_predictor", "auto"] },
  { key: "dropout", label: "Dropout", about: "Share of activations dropped while training, against over-fitting (0–0.9).", kind: "float", only: NEURAL },
  { key: "optimizer", label: "Optimiser", about: "Adam adapts the step per weight; AdamW decouples weight decay; SGD is plain gradient descent.", kind: "choice", choices: ["adam", "adamw", "sgd"], only: NEURAL },
  { key: "weight_decay", label: "Weight decay", about: "L2 penalty on the weights, against over-fitting.", kind: "float", only: NEURAL },
  { key: "loss", label: "Loss", about: "MSE punishes large errors most, MAE is robust to outliers, Huber is between; BCE trains on labels.", kind: "choice", choices: ["mse", "mae", "huber", "bce"], only: ["lstm_autoencoder", "gru_predictor", "auto"] },
  { key: "patience", label: "Early-stopping patience", about: "Epochs without a better validation loss before training stops.", kind: "int", only: NEURAL },
  { key: "time_budget_seconds", label: "Time budget (s)", about: "Training stops after the epoch that passes it and keeps the best model so far.", kind: "int" },
  { key: "smoothing_windows", label: "Score smoothing (windows)", about: "Scores are averaged over this many windows before the threshold: fewer one-off alarms.", kind: "int" },
  { key: "persistence_n", label: "Alarm after N …", about: "An alarm needs N of the last M smoothed scores over the threshold.", kind: "int" },
  { key: "persistence_m", label: "… of the last M windows", about: "The M of the N-of-M alarm rule.", kind: "int" },
  { key: "explained_variance", label: "Explained variance", about: "PCA keeps components until they explain this share of the variance (0.5–0.999).", kind: "float", only: ["pca", "auto"] },
  { key: "clusters", label: "Clusters", about: "k-means clusters of normal windows.", kind: "int", only: ["kmeans", "auto"] },
  { key: "trees", label: "Trees", about: "Isolation trees in the forest.", kind: "int", only: ["iforest", "auto"] },
  { key: "seed", label: "Random seed", about: "The same seed, data and settings train the same model.", kind: "int" },
];

// ------------------------------------------------------------ list and capacity

export function TrainingListPage() {
  const user = sessionState().user;
  const queue = useQuery({ queryKey: ["training", "queue"], queryFn: () => unwrap(api.GET("/api/v1/training/queue")), refetchInterval: 10_000 });
  const list = usePagedList<Run>(["training", "list"], (cursor) => unwrapPage(api.GET("/api/v1/training", { params: { query: { limit: 20, cursor } } })));
  return (
    <Page title="Training" actions={can.write(user) && <a class="button primary" href="/training/new">Start training</a>}>
      <Card title="Capacity">
        <Loaded query={queue}>
          {(data) => (
            <Stats>
              <Stat label="Running" value={`${data.active_trainings} of ${data.max_concurrent}`} />
              <Stat label="Queued" value={data.queued} />
              <Stat label="Free slots (your plan)" value={data.capacity_available} />
              <Stat label="Platform" value={`${data.platform_active} of ${data.platform_capacity} busy`} />
            </Stats>
          )}
        </Loaded>
      </Card>
      <Card title="Runs">
        <Loaded query={list.query}>
          {(page) =>
            page.items.length === 0 ? (
              <p>No training runs yet. Validate a dataset, then start one from its recommendations.</p>
            ) : (
              <TableWrap label="Training runs table">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Run</th>
                      <th scope="col">Architecture</th>
                      <th scope="col">Status</th>
                      <th scope="col" class="num">Epoch</th>
                      <th scope="col" class="num">Best val loss</th>
                      <th scope="col">Started</th>
                    </tr>
                  </thead>
                  <tbody>
                    {page.items.map((run) => (
                      <tr key={run.id}>
                        <td>
                          <a href={`/training/${run.id}`}>{run.id}</a>
                        </td>
                        <td>{fmt.label(run.architecture)}</td>
                        <td>
                          <Badge value={run.status} />
                        </td>
                        <td class="num">
                          {run.current_epoch}/{run.total_epochs}
                        </td>
                        <td class="num">{fmt.number(run.best_val_loss, 4)}</td>
                        <td>{fmt.date(run.started_at ?? run.created_at)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </TableWrap>
            )
          }
        </Loaded>
        <Pager label="Runs" page={list.page} hasNext={list.hasNext} onNext={list.next} onPrevious={list.previous} />
      </Card>
    </Page>
  );
}

// ------------------------------------------------------------ start form

export function TrainingStartPage() {
  const location = useLocation();
  const queryClient = useQueryClient();
  const [datasetId, setDatasetId] = useState(location.query.dataset ?? "");
  const [architecture, setArchitecture] = useState<Architecture>((location.query.architecture as Architecture) ?? "auto");
  const [values, setValues] = useState<Record<string, string>>({});
  const datasets = useQuery({ queryKey: ["datasets", "trainable"], queryFn: () => unwrapPage(api.GET("/api/v1/datasets", { params: { query: { limit: 100 } } })) });
  const recommendation = useQuery({
    queryKey: ["dataset", datasetId, "recommend"],
    queryFn: () => unwrap(api.GET("/api/v1/datasets/{id}/recommend", { params: { path: { id: datasetId } } })),
    enabled: Boolean(datasetId),
  });
  const suggested = recommendation.data?.recommendations.find((item) => item.architecture === architecture)?.hyperparameters;

  // Prefill from the recommendation for the chosen architecture; the user's own edits win.
  useEffect(() => {
    if (!suggested) return;
    setValues((current) => {
      const next = { ...current };
      for (const [key, value] of Object.entries(suggested)) if (next[key] === undefined) next[key] = String(value);
      return next;
    });
  }, [suggested]);

  const params = PARAMS.filter((param) => !param.only || param.only.includes(architecture));
  const start = useMutation({
    mutationFn: () => {
      const hyperparameters: Record<string, number | string> = {};
      for (const param of params) {
        const raw = values[param.key]?.trim();
        if (!raw) continue;
        hyperparameters[param.key] = param.kind === "choice" ? raw : Number(raw);
      }
      return unwrap(api.POST("/api/v1/training/start", { body: { dataset_id: datasetId, architecture, hyperparameters: hyperparameters as Hyperparameters } }));
    },
    onSuccess: (run) => {
      void queryClient.invalidateQueries({ queryKey: ["training"] });
      location.route(`/training/${run.id}`);
    },
  });
  const validated = datasets.data?.items.filter((dataset) => dataset.is_validated) ?? [];
  const about = ARCHITECTURES.find((item) => item.value === architecture)?.about;

  return (
    <Page title="Start training">
      <form
        onSubmit={(event) => {
          event.preventDefault();
          start.mutate();
        }}
      >
        <Card title="What to train">
          <div class="row">
            <Field id="train-dataset" label="Dataset" hint="Only validated datasets can be trained on.">
              <select id="train-dataset" required value={datasetId} onChange={(event) => setDatasetId(event.currentTarget.value)} aria-describedby="train-dataset-hint">
                <option value="">Choose a dataset</option>
                {validated.map((dataset) => (
                  <option key={dataset.id} value={dataset.id}>
                    {dataset.name} ({fmt.number(dataset.row_count)} rows)
                  </option>
                ))}
              </select>
            </Field>
            <Field id="train-architecture" label="Architecture" hint={about}>
              <select id="train-architecture" value={architecture} onChange={(event) => setArchitecture(event.currentTarget.value as Architecture)} aria-describedby="train-architecture-hint">
                {ARCHITECTURES.map((item) => (
                  <option key={item.value} value={item.value}>
                    {item.label}
                  </option>
                ))}
              </select>
            </Field>
          </div>
          {suggested && <Notice>Prefilled from the recommendation for this dataset. Leave a field empty to let Flint choose it from the data.</Notice>}
        </Card>
        <Card title="Hyperparameters">
          <div class="grid">
            {params.map((param) => (
              <Field key={param.key} id={`hp-${param.key}`} label={param.label} hint={param.about}>
                {param.kind === "choice" ? (
                  <select id={`hp-${param.key}`} value={values[param.key] ?? ""} aria-describedby={`hp-${param.key}-hint`} onChange={(event) => setValues({ ...values, [param.key]: event.currentTarget.value })}>
                    <option value="">Chosen from the data</option>
                    {param.choices!.map((choice) => (
                      <option key={choice} value={choice}>
                        {choice}
                      </option>
                    ))}
                  </select>
                ) : (
                  <input
                    id={`hp-${param.key}`}
                    type="number"
                    step={param.kind === "int" ? 1 : "any"}
                    placeholder="Chosen from the data"
                    value={values[param.key] ?? ""}
                    aria-describedby={`hp-${param.key}-hint`}
                    onInput={(event) => setValues({ ...values, [param.key]: event.currentTarget.value })}
                  />
                )}
              </Field>
            ))}
          </div>
        </Card>
        <ErrorNote error={start.error} />
        <div>
          <button class="primary" disabled={!datasetId || start.isPending}>
            {start.isPending ? "Starting…" : "Start training"}
          </button>
        </div>
      </form>
    </Page>
  );
}

// ------------------------------------------------------------ one run, live

type Epoch = { epoch: number; train: number | null; val: number | null };
const FINISHED = ["completed", "failed", "stopped"];

export function TrainingRunPage() {
  const { id } = useRoute().params as { id: string };
  const queryClient = useQueryClient();
  const user = sessionState().user;
  const run = useQuery({ queryKey: ["run", id], queryFn: () => unwrap(api.GET("/api/v1/training/{id}", { params: { path: { id } } })) });
  const history = useQuery({ queryKey: ["run", id, "epochs"], queryFn: () => unwrap(api.GET("/api/v1/training/{id}/epochs", { params: { path: { id } } })) });
  const [live, setLive] = useState<Map<number, Epoch>>(new Map());
  const [eta, setEta] = useState<number | null>(null);

  useLive(`run:${id}`, (event: LiveEvent) => {
    if (event.type === "epoch_update") {
      const epoch = Number(event.current_epoch);
      setLive((current) => new Map(current).set(epoch, { epoch, train: event.train_loss as number | null, val: event.val_loss as number | null }));
      setEta(Number(event.estimated_remaining_seconds));
    }
    if (["training_started", "training_complete", "training_failed", "training_queued", "snapshot"].includes(event.type)) {
      void queryClient.invalidateQueries({ queryKey: ["run", id] });
      if (event.type !== "snapshot") void queryClient.invalidateQueries({ queryKey: ["training"] });
    }
  });

  // Stored epochs and live ones, ordered and deduplicated by epoch number.
  const epochs = useMemo(() => {
    const merged = new Map<number, Epoch>();
    for (const item of history.data ?? []) merged.set(item.epoch, { epoch: item.epoch, train: item.train_loss, val: item.val_loss });
    for (const [epoch, item] of live) merged.set(epoch, item);
    return [...merged.values()].sort((a, b) => a.epoch - b.epoch);
  }, [history.data, live]);

  const stop = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/training/{id}/stop", { params: { path: { id } } })),
    onSuccess: (data) => queryClient.setQueryData(["run", id], data),
  });

  return (
    <Loaded query={run}>
      {(data) => {
        const finished = FINISHED.includes(data.status);
        const current = Math.max(data.current_epoch, epochs[epochs.length - 1]?.epoch ?? 0);
        return (
          <Page title={`Training ${fmt.label(data.architecture)}`} actions={<Badge value={data.status} />}>
            {data.error && <p class="error" role="alert">{data.error}</p>}
            <Card title="Progress">
              <ProgressBar value={data.total_epochs ? (current / data.total_epochs) * 100 : 0} label="Epochs done" />
              <Stats>
                <Stat label="Epoch" value={<span data-testid="current-epoch">{`${current} of ${data.total_epochs}`}</span>} />
                <Stat label="Best validation loss" value={fmt.number(data.best_val_loss, 4)} />
                <Stat label="Time left" value={finished ? "–" : fmt.duration(eta ?? data.estimated_remaining_seconds)} />
                <Stat label="Training time" value={fmt.duration(data.training_time_seconds)} />
                <Stat label="Epochs received live" value={<span data-testid="live-epochs">{live.size}</span>} />
              </Stats>
              <div class="actions">
                {data.model_id && (
                  <a class="button primary" href={`/models/${data.model_id}`}>
                    Open the model
                  </a>
                )}
                <a class="button" href={`/datasets/${data.dataset_id}`}>
                  Dataset
                </a>
                {can.write(user) && !finished && (
                  <button class="danger" disabled={stop.isPending || data.stop_requested} onClick={() => stop.mutate()}>
                    {data.stop_requested ? "Stopping…" : "Stop training"}
                  </button>
                )}
              </div>
              <ErrorNote error={stop.error} />
            </Card>
            <Card title="Loss">
              {epochs.length === 0 ? (
                <p class="muted">{data.status === "queued" ? "Waiting for a free training slot…" : "The first epoch is on its way…"}</p>
              ) : (
                <Chart
                  title="Training and validation loss per epoch"
                  x={epochs.map((epoch) => epoch.epoch)}
                  series={[
                    { label: "train loss", values: epochs.map((epoch) => epoch.train) },
                    { label: "validation loss", values: epochs.map((epoch) => epoch.val) },
                  ]}
                  xLabel="epoch"
                  yLabel="loss"
                  logY={epochs.every((epoch) => (epoch.train ?? 1) > 0 && (epoch.val ?? 1) > 0)}
                  summary={`${epochs.length} epochs; last validation loss ${fmt.number(epochs[epochs.length - 1]?.val, 4)}`}
                />
              )}
            </Card>
            <Card title="Settings">
              <TableWrap label="Hyperparameters table">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Hyperparameter</th>
                      <th scope="col">Value</th>
                      <th scope="col">Why</th>
                    </tr>
                  </thead>
                  <tbody>
                    {Object.entries(data.hyperparameters).map(([key, value]) => (
                      <tr key={key}>
                        <th scope="row">{PARAMS.find((param) => param.key === key)?.label ?? key}</th>
                        <td>{String(value)}</td>
                        <td class="muted">{data.chosen_because[key] ?? "given"}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </TableWrap>
            </Card>
          </Page>
        );
      }}
    </Loaded>
  );
}
