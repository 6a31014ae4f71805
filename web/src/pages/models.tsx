/** Models: the list (pick two to compare), one model with its evaluation, downloads and scoring, and two models side by side. */
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { useLocation, useRoute } from "preact-iso";
import { useMutation, useQuery, useQueryClient } from "@tanstack/preact-query";
import { api, saveDownload, unwrap, unwrapPage } from "../api/client";
import { can, sessionState } from "../api/session";
import type { components } from "../api/schema";
import { Chart, type Series } from "../charts";
import { Badge, Card, ErrorNote, Field, Loaded, Loading, Notice, Page, Pager, ProgressBar, Stat, Stats, TableWrap, fmt, usePagedList } from "../ui";

type Model = components["schemas"]["Model"];
type Evaluation = components["schemas"]["Evaluation"];
type Comparison = components["schemas"]["ModelComparison"];
type ScoreResult = components["schemas"]["ScoreResult"];

/** What POST /evaluations/{id}/gradient computes (core/evaluation/gradient.ts); the API types it as a loose record. */
interface Gradient {
  evaluated_rows?: number;
  evaluated_windows?: number;
  labelled?: boolean;
  model_threshold?: number;
  sensor_contribution?: { sensor: string; mean_abs_change: number; share: number }[];
  score_distribution?: Record<string, number>;
  histogram?: { min: number; max: number; bin_width: number; counts: number[] };
  threshold_sweep?: { threshold: number; quantile: number | null; is_model_threshold: boolean; alarm_rate: number; precision: number | null; recall: number | null; f1: number | null }[];
  separation?: number | null;
  latency?: { p50_ms: number; p95_ms: number; throughput_windows_per_second: number };
  metric_definitions?: Record<string, string>;
}

/** The scoring endpoint's row limit (core/model MAX_SCORE_ROWS). */
const MAX_SCORE_ROWS = 100_000;

/** Text for screen readers only (a checkbox's model name, a step's state). */
const srOnly = { position: "absolute", width: "1px", height: "1px", overflow: "hidden", clip: "rect(0 0 0 0)", whiteSpace: "nowrap" } as const;

// ------------------------------------------------------------ metrics

const METRIC_LABELS: Record<string, string> = {
  f1: "F1 score",
  precision: "Precision",
  recall: "Recall",
  false_alarm_rate: "False alarm rate (FAR)",
  missed_alarm_rate: "Missed alarm rate",
  auc_roc: "AUC-ROC",
  auc_pr: "AUC-PR (average precision)",
  accuracy: "Accuracy",
  expected_alarm_rate: "Expected alarm rate",
  val_loss: "Validation loss",
  reconstruction_error_threshold: "Score threshold",
};
const RATIOS = new Set(["f1", "precision", "recall", "false_alarm_rate", "missed_alarm_rate", "accuracy", "expected_alarm_rate"]);
const ORDER = Object.keys(METRIC_LABELS);

const metricLabel = (key: string) => METRIC_LABELS[key] ?? fmt.label(key).replace(/^./, (c) => c.toUpperCase());
const metricValue = (key: string, value: unknown) => (RATIOS.has(key) ? fmt.percent(value) : fmt.number(value, 4));

/** Known metrics first, in a fixed order; the rest alphabetically. */
const rank = (key: string) => (ORDER.includes(key) ? ORDER.indexOf(key) : ORDER.length);
const byMetric = (a: string, b: string) => rank(a) - rank(b) || a.localeCompare(b);

/** The finite numeric entries of a metrics record. */
function numericMetrics(metrics: Record<string, unknown>): [string, number][] {
  return Object.entries(metrics)
    .filter((entry): entry is [string, number] => typeof entry[1] === "number" && Number.isFinite(entry[1]))
    .sort((a, b) => byMetric(a[0], b[0]));
}

/** The values where a flag is set, null elsewhere (alarm points on a line). */
const where = (flags: ArrayLike<number | boolean>, values: number[]) => values.map((value, index) => (flags[index] ? value : null));

// ------------------------------------------------------------ list

export function ModelListPage() {
  const location = useLocation();
  const list = usePagedList<Model>(["models", "list"], (cursor) => unwrapPage(api.GET("/api/v1/models", { params: { query: { limit: 20, cursor } } })));
  // Picks survive paging, so the two models may come from different pages.
  const [picked, setPicked] = useState<Model[]>([]);
  const toggle = (model: Model) =>
    setPicked(picked.some((p) => p.id === model.id) ? picked.filter((p) => p.id !== model.id) : [...picked, model].slice(-2));
  const [a, b] = picked;
  return (
    <Page title="Models">
      <Card title="Your models">
        <div class="row">
          <p role="status" class="grow">
            {picked.length === 0 ? "Tick two models to compare them." : `Picked: ${picked.map((m) => m.name).join(" and ")}${b ? "" : " (pick one more)"}`}
          </p>
          <button type="button" class="primary" disabled={!a || !b} onClick={() => a && b && location.route(`/models/compare?a=${a.id}&b=${b.id}`)}>
            Compare
          </button>
        </div>
        <Loaded query={list.query}>
          {(page) =>
            page.items.length === 0 ? (
              <p>No models yet. A finished training run records one.</p>
            ) : (
              <TableWrap label="Models table">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Compare</th>
                      <th scope="col">Name</th>
                      <th scope="col">Architecture</th>
                      <th scope="col" class="num">Features</th>
                      <th scope="col" class="num">Size</th>
                      <th scope="col">Quantized</th>
                      <th scope="col">Created</th>
                    </tr>
                  </thead>
                  <tbody>
                    {page.items.map((model) => (
                      <tr key={model.id}>
                        <td>
                          <input type="checkbox" id={`pick-${model.id}`} checked={picked.some((p) => p.id === model.id)} onChange={() => toggle(model)} />{" "}
                          <label for={`pick-${model.id}`}>
                            Pick<span style={srOnly}> {model.name}</span>
                          </label>
                        </td>
                        <td>
                          <a href={`/models/${model.id}`}>{model.name}</a>
                        </td>
                        <td>{fmt.label(model.architecture)}</td>
                        <td class="num">{model.input_features}</td>
                        <td class="num">{fmt.bytes(model.file_size_bytes)}</td>
                        <td>{model.quantized ? `int8 (${fmt.bytes(model.quantized_size_bytes)})` : "No"}</td>
                        <td>{fmt.date(model.created_at)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </TableWrap>
            )
          }
        </Loaded>
        <Pager label="Models" page={list.page} hasNext={list.hasNext} onNext={list.next} onPrevious={list.previous} />
      </Card>
    </Page>
  );
}

// ------------------------------------------------------------ one model

export function ModelPage() {
  const { id } = useRoute().params as { id: string };
  const model = useQuery({ queryKey: ["model", id], queryFn: () => unwrap(api.GET("/api/v1/models/{id}", { params: { path: { id } } })) });
  if (!model.data) {
    return (
      <Page title="Model">
        <Loaded query={model}>{() => null}</Loaded>
      </Page>
    );
  }
  return <ModelView model={model.data} />;
}

function ModelView(props: { model: Model }) {
  const { model } = props;
  const location = useLocation();
  const queryClient = useQueryClient();
  const writer = can.write(sessionState().user);
  const download = useMutation({
    mutationFn: (quantized: boolean) =>
      saveDownload(`/api/v1/models/${model.id}/download${quantized ? "?quantized=true" : ""}`, `${model.id}${quantized ? ".int8" : ""}.onnx`),
  });
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE("/api/v1/models/{id}", { params: { path: { id: model.id } } })),
    onSuccess: () => {
      queryClient.removeQueries({ queryKey: ["model", model.id] });
      void queryClient.invalidateQueries({ queryKey: ["models"] });
      location.route("/models");
    },
  });
  return (
    <Page
      title={model.name}
      actions={
        <>
          <button type="button" disabled={download.isPending} onClick={() => download.mutate(false)}>
            Download float32 ONNX
          </button>
          {model.quantized && (
            <button type="button" disabled={download.isPending} onClick={() => download.mutate(true)}>
              Download int8 ONNX
            </button>
          )}
          <a class="button" href={`/models/compare?a=${model.id}`}>
            Compare with another
          </a>
          {writer && (
            <button
              type="button"
              class="danger"
              disabled={remove.isPending}
              onClick={() => confirm(`Delete “${model.name}”? Its ONNX files and evaluation are removed too. This cannot be undone.`) && remove.mutate()}
            >
              Delete model
            </button>
          )}
        </>
      }
    >
      <ErrorNote error={download.error ?? remove.error} />
      <Card title="Model">
        <Stats>
          <Stat label="Architecture" value={fmt.label(model.architecture)} />
          <Stat label="Status" value={<Badge value={model.status} />} />
          <Stat label="Parameters" value={fmt.number(model.parameters)} />
          <Stat label="Sequence length" value={`${model.sequence_length} rows`} />
          <Stat label="Features" value={model.input_features} />
          {model.hidden_dim !== null && <Stat label="Hidden size" value={model.hidden_dim} />}
          {model.bottleneck_dim !== null && <Stat label="Bottleneck" value={model.bottleneck_dim} />}
          {model.num_layers !== null && <Stat label="Layers" value={model.num_layers} />}
          <Stat label="Epochs trained" value={`${fmt.number(model.epochs_trained)}${model.stopped_early ? " (stopped early)" : ""}`} />
          <Stat label="File size (float32)" value={fmt.bytes(model.file_size_bytes)} />
          <Stat label="File size (int8)" value={model.quantized ? fmt.bytes(model.quantized_size_bytes) : "None"} />
          <Stat label="Created" value={fmt.date(model.created_at)} />
        </Stats>
        <p>
          <strong>Features, in input order:</strong> {model.feature_names.join(", ")}
        </p>
        <p>
          Trained on <a href={`/datasets/${model.dataset_id}`}>its dataset</a> by <a href={`/training/${model.training_run_id}`}>this training run</a>.
        </p>
        {Object.keys(model.hyperparameters).length > 0 && (
          <details>
            <summary>Hyperparameters</summary>
            <TableWrap label="Hyperparameters table">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Value</th>
                  </tr>
                </thead>
                <tbody>
                  {Object.entries(model.hyperparameters).map(([key, value]) => (
                    <tr key={key}>
                      <th scope="row">{fmt.label(key)}</th>
                      <td>{typeof value === "number" ? fmt.number(value, 4) : typeof value === "string" ? value : JSON.stringify(value)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
          </details>
        )}
      </Card>
      {model.evaluation_id ? (
        <EvaluationCards model={model} evaluationId={model.evaluation_id} writer={writer} />
      ) : (
        <Card title="Evaluation">
          <p>This model has no evaluation.</p>
        </Card>
      )}
      <ScoreCard model={model} />
    </Page>
  );
}

function useEvaluation(id: string | null | undefined) {
  return useQuery({
    queryKey: ["evaluation", id],
    queryFn: () => unwrap(api.GET("/api/v1/evaluations/{id}", { params: { path: { id: id! } } })),
    enabled: Boolean(id),
    // The gradient evaluation runs on the training queue: look again until it ends.
    refetchInterval: (query) => (query.state.data?.gradient_status === "running" ? 3000 : false),
  });
}

function EvaluationCards(props: { model: Model; evaluationId: string; writer: boolean }) {
  const evaluation = useEvaluation(props.evaluationId);
  if (!evaluation.data) {
    return (
      <Card title="Evaluation">
        <Loaded query={evaluation}>{() => null}</Loaded>
      </Card>
    );
  }
  const data = evaluation.data;
  const threshold = typeof data.metrics.reconstruction_error_threshold === "number" ? data.metrics.reconstruction_error_threshold : undefined;
  return (
    <>
      <MetricsCard evaluation={data} />
      {data.confusion_matrix && <ConfusionCard matrix={data.confusion_matrix} />}
      <div class="grid">
        {data.score_timeline && <TimelineCard timeline={data.score_timeline} threshold={threshold} />}
        <CurvesCard title="Training curves" curves={data.training_curves} />
      </div>
      <GradientCard evaluation={data} writer={props.writer} />
    </>
  );
}

function MetricsCard(props: { evaluation: Evaluation }) {
  const { metrics, event_detection: events, postprocess, score_distribution: distribution } = props.evaluation;
  const entries = numericMetrics(metrics);
  return (
    <Card title="Test-split metrics">
      {entries.length === 0 ? (
        <p>No metrics were recorded.</p>
      ) : (
        <Stats>
          {entries.map(([key, value]) => (
            <Stat key={key} label={metricLabel(key)} value={metricValue(key, value)} />
          ))}
        </Stats>
      )}
      {!("f1" in metrics) && <p class="muted">The dataset has no labels, so precision, recall and F1 could not be measured.</p>}
      {props.evaluation.threshold_rule && <p>Threshold rule: {props.evaluation.threshold_rule}.</p>}
      {postprocess && (
        <p>
          Alarms: scores smoothed over {postprocess.smoothing_windows} windows; an alarm when {postprocess.persistence_n} of the last {postprocess.persistence_m} exceed the
          threshold.
        </p>
      )}
      {events && (
        <p>
          Fault events detected: {events.detected} of {events.events} ({fmt.percent(events.event_recall)}); delay {fmt.number(events.mean_delay_windows)} windows on average,{" "}
          {fmt.number(events.max_delay_windows)} at most.
        </p>
      )}
      {distribution && (
        <>
          <h3>Test score distribution</h3>
          <Stats>
            {Object.entries(distribution).map(([key, value]) => (
              <Stat key={key} label={key === "std" ? "Std deviation" : key === "count" ? "Windows" : key.replace(/^./, (c) => c.toUpperCase())} value={fmt.number(value, 4)} />
            ))}
          </Stats>
        </>
      )}
    </Card>
  );
}

function ConfusionCard(props: { matrix: Record<string, number> }) {
  const cell = (key: string, label: string) => (
    <td>
      {fmt.number(props.matrix[key])}
      <br />
      <small class="muted">{label}</small>
    </td>
  );
  return (
    <Card title="Confusion matrix">
      <TableWrap label="Confusion matrix table">
        <table class="matrix">
          <caption class="muted">Test windows by label (rows) and alarm (columns)</caption>
          <thead>
            <tr>
              <td />
              <th scope="col">Alarm</th>
              <th scope="col">No alarm</th>
            </tr>
          </thead>
          <tbody>
            <tr>
              <th scope="row">Labelled fault</th>
              {cell("true_positive", "true positive")}
              {cell("false_negative", "false negative")}
            </tr>
            <tr>
              <th scope="row">Labelled normal</th>
              {cell("false_positive", "false positive")}
              {cell("true_negative", "true negative")}
            </tr>
          </tbody>
        </table>
      </TableWrap>
    </Card>
  );
}

function TimelineCard(props: { timeline: NonNullable<Evaluation["score_timeline"]>; threshold?: number }) {
  const { bucket, max_score, alarm, label } = props.timeline;
  const x = max_score.map((_, index) => index * bucket);
  const series: Series[] = [
    { label: "Highest smoothed score", values: max_score },
    { label: "Alarm", values: where(alarm, max_score), points: true, color: "#dc2626" },
  ];
  if (label) series.push({ label: "Labelled fault", values: where(label, max_score.map(() => 0)), points: true, color: "#9333ea" });
  if (props.threshold !== undefined) series.push({ label: "Threshold", values: x.map(() => props.threshold!), dash: [6, 4], color: "#55606e" });
  const alarms = alarm.filter(Boolean).length;
  return (
    <Card title="Score timeline">
      <Chart
        title="Test split, smoothed score"
        x={x}
        series={series}
        xLabel="Window"
        yLabel="Score"
        summary={`highest smoothed score per ${bucket} windows over ${x.length} points; ${alarms} points with an alarm${label ? `, ${label.filter(Boolean).length} with a labelled fault` : ""}`}
      />
    </Card>
  );
}

function CurvesCard(props: { title: string; curves: Evaluation["training_curves"] }) {
  const { epochs, train_loss, val_loss } = props.curves;
  return (
    <Card title={props.title}>
      {epochs.length === 0 ? (
        <p>No epochs were recorded.</p>
      ) : (
        <Chart
          title="Loss by epoch"
          x={epochs}
          series={[
            { label: "Training loss", values: train_loss },
            { label: "Validation loss", values: val_loss },
          ]}
          xLabel="Epoch"
          yLabel="Loss"
          summary={`${epochs.length} epochs; last training loss ${fmt.number(train_loss.at(-1), 4)}, last validation loss ${fmt.number(val_loss.at(-1), 4)}`}
        />
      )}
    </Card>
  );
}

function GradientCard(props: { evaluation: Evaluation; writer: boolean }) {
  const queryClient = useQueryClient();
  const { id, gradient_status: status } = props.evaluation;
  const start = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/evaluations/{id}/gradient", { params: { path: { id } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["evaluation", id] }),
  });
  const gradient = status === "completed" ? (props.evaluation.gradient_evaluation as Gradient | null) : null;
  const definitions = gradient?.metric_definitions ?? {};
  return (
    <Card title="Gradient evaluation">
      <p>
        Per-sensor contributions, a threshold sweep, a score histogram and latency, computed on the test split on request.{" "}
        <span role="status">
          {status === "running" && "Running… this page updates when it is done."}
          {status === "none" && "It has not been run yet."}
        </span>
      </p>
      {status === "failed" && (
        <p class="error" role="alert">
          The gradient evaluation failed: {props.evaluation.gradient_error ?? "unknown reason"}
        </p>
      )}
      <ErrorNote error={start.error} />
      {props.writer && status !== "running" && (
        <div>
          <button type="button" class={status === "completed" ? "" : "primary"} disabled={start.isPending} onClick={() => start.mutate()}>
            {status === "completed" ? "Run the gradient evaluation again" : "Run the gradient evaluation"}
          </button>
        </div>
      )}
      {gradient && (
        <>
          <Stats>
            <Stat label="Rows evaluated" value={fmt.number(gradient.evaluated_rows)} />
            <Stat label="Windows evaluated" value={fmt.number(gradient.evaluated_windows)} />
            <Stat label="Model threshold" value={fmt.number(gradient.model_threshold, 4)} />
            {gradient.separation != null && <Stat label="Separation (anomalous ÷ normal)" value={fmt.number(gradient.separation)} />}
            {gradient.latency && <Stat label="Latency p50 / p95" value={`${fmt.number(gradient.latency.p50_ms)} / ${fmt.number(gradient.latency.p95_ms)} ms`} />}
            {gradient.latency && <Stat label="Throughput" value={`${fmt.number(gradient.latency.throughput_windows_per_second)} windows/s`} />}
          </Stats>
          {Array.isArray(gradient.sensor_contribution) && gradient.sensor_contribution.length > 0 && (
            <>
              <h3>Sensor contribution</h3>
              {definitions.sensor_contribution && <p class="muted">{definitions.sensor_contribution}</p>}
              <TableWrap label="Sensor contribution table">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Sensor</th>
                      <th scope="col">Share of the score</th>
                      <th scope="col" class="num">Mean score change</th>
                    </tr>
                  </thead>
                  <tbody>
                    {gradient.sensor_contribution.map((item) => (
                      <tr key={item.sensor}>
                        <th scope="row">{item.sensor}</th>
                        <td class="bar-cell">
                          <ProgressBar value={item.share * 100} label={`${item.sensor} share of the score`} />
                        </td>
                        <td class="num">{fmt.number(item.mean_abs_change, 4)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </TableWrap>
            </>
          )}
          <div class="grid">
            {Array.isArray(gradient.threshold_sweep) && gradient.threshold_sweep.length > 0 && (
              <SweepChart sweep={gradient.threshold_sweep} labelled={Boolean(gradient.labelled)} definition={definitions.threshold_sweep} />
            )}
            {gradient.histogram && Array.isArray(gradient.histogram.counts) && (
              <HistogramChart histogram={gradient.histogram} definition={definitions.histogram} />
            )}
          </div>
        </>
      )}
    </Card>
  );
}

function SweepChart(props: { sweep: NonNullable<Gradient["threshold_sweep"]>; labelled: boolean; definition?: string }) {
  const { sweep } = props;
  const series: Series[] = [{ label: "Alarm rate", values: sweep.map((row) => row.alarm_rate) }];
  if (props.labelled) {
    series.push(
      { label: "Precision", values: sweep.map((row) => row.precision) },
      { label: "Recall", values: sweep.map((row) => row.recall) },
      { label: "F1", values: sweep.map((row) => row.f1) },
    );
  }
  const own = sweep.find((row) => row.is_model_threshold);
  return (
    <div>
      <h3>Threshold sweep</h3>
      {props.definition && <p class="muted">{props.definition}</p>}
      <Chart
        title="Alarm rate and accuracy by threshold"
        x={sweep.map((row) => row.threshold)}
        series={series}
        xLabel="Threshold"
        yLabel="Rate"
        summary={`${sweep.length} thresholds; at the model's own (${fmt.number(own?.threshold, 4)}) the alarm rate is ${fmt.percent(own?.alarm_rate)}${props.labelled ? `, F1 ${fmt.percent(own?.f1)}` : ""}`}
      />
      <details>
        <summary>The sweep as a table</summary>
        <TableWrap label="Threshold sweep table">
          <table>
            <thead>
              <tr>
                <th scope="col" class="num">Threshold</th>
                <th scope="col" class="num">Quantile</th>
                <th scope="col" class="num">Alarm rate</th>
                <th scope="col" class="num">Precision</th>
                <th scope="col" class="num">Recall</th>
                <th scope="col" class="num">F1</th>
              </tr>
            </thead>
            <tbody>
              {sweep.map((row) => (
                <tr key={`${row.threshold}-${row.quantile}`}>
                  <td class="num">{fmt.number(row.threshold, 4)}</td>
                  <td class="num">{row.is_model_threshold ? "model's" : fmt.percent(row.quantile)}</td>
                  <td class="num">{fmt.percent(row.alarm_rate)}</td>
                  <td class="num">{fmt.percent(row.precision)}</td>
                  <td class="num">{fmt.percent(row.recall)}</td>
                  <td class="num">{fmt.percent(row.f1)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      </details>
    </div>
  );
}

function HistogramChart(props: { histogram: NonNullable<Gradient["histogram"]>; definition?: string }) {
  const { min, bin_width: width, counts } = props.histogram;
  return (
    <div>
      <h3>Score histogram</h3>
      {props.definition && <p class="muted">{props.definition}</p>}
      <Chart
        title="Test windows by score"
        x={counts.map((_, index) => min + (index + 0.5) * width)}
        series={[{ label: "Windows", values: counts, bars: true }]}
        xLabel="Score"
        yLabel="Windows"
        summary={`${counts.length} bins from ${fmt.number(min, 4)} to ${fmt.number(props.histogram.max, 4)}; the fullest holds ${fmt.number(Math.max(...counts))} windows`}
      />
      <p class="muted">The evaluation keeps no separate distributions of normal and anomalous windows.</p>
    </div>
  );
}

// ------------------------------------------------------------ scoring

/**
 * Numeric CSV to rows in the model's feature order, as the API reads CSV: a
 * header row (any non-numeric cell) maps columns by name, so extra columns
 * such as a timestamp are ignored; without one, columns are taken in order.
 */
function parseCsv(text: string, features: string[]): number[][] {
  const split = (line: string) => line.split(",").map((cell) => cell.trim().replace(/^"(.*)"$/, "$1"));
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== "");
  if (lines.length === 0) throw new Error("The file is empty.");
  const first = split(lines[0]!);
  const header = first.some((cell) => cell === "" || !Number.isFinite(Number(cell)));
  const order = header ? features.map((name) => first.indexOf(name)) : features.map((_, index) => index);
  const missing = features.filter((_, index) => order[index] === -1);
  if (missing.length > 0) throw new Error(`The CSV header has no column for ${missing.join(", ")}. The model needs ${features.join(", ")}.`);
  const body = header ? lines.slice(1) : lines;
  if (body.length > MAX_SCORE_ROWS) throw new Error(`The CSV has ${fmt.number(body.length)} rows; at most ${fmt.number(MAX_SCORE_ROWS)} can be scored at once.`);
  return body.map((line, index) => {
    const cells = split(line);
    const row = index + 1;
    if (!header && cells.length !== features.length) throw new Error(`Row ${row} has ${cells.length} values; the model expects ${features.length} (${features.join(", ")}).`);
    return order.map((column, feature) => {
      const cell = cells[column] ?? "";
      const value = Number(cell);
      if (cell === "" || !Number.isFinite(value)) throw new Error(`Row ${row}: ${features[feature]} is “${cell}”, not a number.`);
      return value;
    });
  });
}

function ScoreCard(props: { model: Model }) {
  const { model } = props;
  const [file, setFile] = useState<File | null>(null);
  const score = useMutation({
    mutationFn: async (chosen: File) => {
      const rows = parseCsv(await chosen.text(), model.feature_names);
      return unwrap(api.POST("/api/v1/models/{id}/score", { params: { path: { id: model.id } }, body: { rows } }));
    },
  });
  return (
    <Card title="Score a CSV">
      <form
        onSubmit={(event) => {
          event.preventDefault();
          if (file) score.mutate(file);
        }}
      >
        <Field
          id="score-file"
          label="CSV of sensor readings"
          hint={`A header row naming ${model.feature_names.join(", ")} (other columns are ignored), or exactly those columns in that order. At least ${model.sequence_length} rows.`}
        >
          <input id="score-file" type="file" accept=".csv,text/csv" required aria-describedby="score-file-hint" onChange={(event) => setFile(event.currentTarget.files?.[0] ?? null)} />
        </Field>
        <ErrorNote error={score.error} />
        <div>
          <button class="primary" disabled={!file || score.isPending}>
            {score.isPending ? "Scoring…" : "Score"}
          </button>
        </div>
      </form>
      {score.data && <ScoreView result={score.data} />}
    </Card>
  );
}

function ScoreView(props: { result: ScoreResult }) {
  const { result } = props;
  const x = result.scores.map((_, index) => index);
  const counts = new Map<string, number>();
  result.flags.forEach((flagged, index) => {
    const sensor = result.top_sensors[index];
    if (flagged && sensor) counts.set(sensor, (counts.get(sensor) ?? 0) + 1);
  });
  const top = [...counts].sort((a, b) => b[1] - a[1]);
  const { smoothing_windows, persistence_n, persistence_m } = result.postprocess;
  return (
    <div role="region" aria-label="Scoring result">
      <Notice>
        {fmt.number(result.anomalies)} of {fmt.number(result.windows)} windows flagged as anomalous.
      </Notice>
      <Stats>
        <Stat label="Rows" value={fmt.number(result.rows)} />
        <Stat label="Windows" value={fmt.number(result.windows)} />
        <Stat label="Flagged windows" value={fmt.number(result.anomalies)} />
        <Stat label="Threshold" value={fmt.number(result.threshold, 4)} />
        <Stat label="Alarm rule" value={`${persistence_n} of the last ${persistence_m} windows over the threshold, smoothed over ${smoothing_windows}`} />
      </Stats>
      <Chart
        title="Anomaly score by window"
        x={x}
        series={[
          { label: "Score", values: result.scores },
          { label: "Smoothed score", values: result.smoothed_scores },
          { label: "Flagged", values: where(result.flags, result.smoothed_scores), points: true, color: "#dc2626" },
          { label: "Threshold", values: x.map(() => result.threshold), dash: [6, 4], color: "#55606e" },
        ]}
        xLabel="Window"
        yLabel="Score"
        summary={`${result.windows} windows of ${result.sequence_length} rows; window i ends at row i + ${result.sequence_length}; ${result.anomalies} flagged above the threshold ${fmt.number(result.threshold, 4)}`}
      />
      {result.contributions === null ? (
        <p class="muted">This kind of model does not attribute its score to sensors.</p>
      ) : top.length === 0 ? (
        <p>No window was flagged, so there are no top sensors to show.</p>
      ) : (
        <TableWrap label="Top sensors table">
          <table>
            <caption class="muted">Sensors with the largest share of the score in flagged windows</caption>
            <thead>
              <tr>
                <th scope="col">Sensor</th>
                <th scope="col" class="num">Flagged windows it leads</th>
              </tr>
            </thead>
            <tbody>
              {top.map(([sensor, count]) => (
                <tr key={sensor}>
                  <th scope="row">{sensor}</th>
                  <td class="num">{fmt.number(count)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
    </div>
  );
}

// ------------------------------------------------------------ comparison

export function ComparePage() {
  const { a = "", b = "" } = useLocation().query;
  const comparison = useQuery({
    queryKey: ["compare", a, b],
    queryFn: () => unwrap(api.POST("/api/v1/models/{id}/compare", { params: { path: { id: a } }, body: { compare_with: b } })),
    enabled: Boolean(a && b && a !== b),
  });
  return (
    <Page title="Compare models">
      <ComparePicker a={a} b={b} />
      {a && b && a !== b && <Loaded query={comparison}>{(data) => <ComparisonView comparison={data} />}</Loaded>}
    </Page>
  );
}

function ComparePicker(props: { a: string; b: string }) {
  const location = useLocation();
  const [a, setA] = useState(props.a);
  const [b, setB] = useState(props.b);
  const models = useQuery({ queryKey: ["models", "options"], queryFn: () => unwrapPage(api.GET("/api/v1/models", { params: { query: { limit: 100 } } })) });
  const options = (id: string) => (
    <>
      <option value="">Choose a model</option>
      {/* A model older than the newest 100 still shows as chosen. */}
      {id && !models.data?.items.some((model) => model.id === id) && <option value={id}>{id}</option>}
      {models.data?.items.map((model) => (
        <option key={model.id} value={model.id}>
          {model.name} ({fmt.date(model.created_at)})
        </option>
      ))}
    </>
  );
  return (
    <Card title="Models to compare">
      <form
        onSubmit={(event) => {
          event.preventDefault();
          location.route(`/models/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`);
        }}
      >
        <div class="row">
          <Field id="compare-a" label="First model">
            <select id="compare-a" required value={a} onChange={(event) => setA(event.currentTarget.value)}>
              {options(a)}
            </select>
          </Field>
          <Field id="compare-b" label="Second model">
            <select id="compare-b" required value={b} onChange={(event) => setB(event.currentTarget.value)}>
              {options(b)}
            </select>
          </Field>
          <button class="primary" disabled={!a || !b || a === b}>
            Compare
          </button>
        </div>
        {a && a === b && <p class="muted">Pick two different models.</p>}
        <ErrorNote error={models.error} />
      </form>
    </Card>
  );
}

function ComparisonView(props: { comparison: Comparison }) {
  const { models, winner, advantage } = props.comparison;
  const [first, second] = models;
  if (!first || !second) return null;
  const keys = [...new Set([...Object.keys(first.metrics), ...Object.keys(second.metrics)])].sort(byMetric);
  const loser = winner === first.id ? second.id : first.id;
  // advantage > 0: the winner is better on that metric; < 0: the other model is.
  const better = (key: string) => {
    const margin = advantage[key];
    return margin === undefined || margin === 0 ? null : margin > 0 ? winner : loser;
  };
  const cell = (model: typeof first, key: string) => {
    const value = model.metrics[key];
    const best = better(key) === model.id;
    return (
      <td class="num">
        {best ? <strong>{metricValue(key, value)}</strong> : metricValue(key, value)}
        {best && <> <Badge value="better" /></>}
      </td>
    );
  };
  return (
    <>
      <Card title="Metrics">
        <Notice>
          Overall the better model is <strong>{models.find((model) => model.id === winner)?.name ?? winner}</strong>, decided by F1 first, then AUC-ROC, recall, precision, accuracy and
          validation loss.
        </Notice>
        <TableWrap label="Metrics table">
          <table>
            <thead>
              <tr>
                <th scope="col">Metric</th>
                {[first, second].map((model) => (
                  <th key={model.id} scope="col" class="num">
                    <a href={`/models/${model.id}`}>{model.name}</a>
                    <br />
                    <span class="muted">{fmt.label(model.architecture)}</span>
                  </th>
                ))}
                <th scope="col" class="num">Winner's margin</th>
              </tr>
            </thead>
            <tbody>
              {keys.map((key) => (
                <tr key={key}>
                  <th scope="row">{metricLabel(key)}</th>
                  {cell(first, key)}
                  {cell(second, key)}
                  <td class="num">{advantage[key] === undefined ? "–" : metricValue(key, Math.abs(advantage[key]))}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      </Card>
      <div class="grid">
        {[first, second].map((model) => (
          <ModelCurves key={model.id} id={model.id} name={model.name} />
        ))}
      </div>
    </>
  );
}

function ModelCurves(props: { id: string; name: string }) {
  const model = useQuery({ queryKey: ["model", props.id], queryFn: () => unwrap(api.GET("/api/v1/models/{id}", { params: { path: { id: props.id } } })) });
  const evaluation = useEvaluation(model.data?.evaluation_id);
  const title = `Training curves: ${props.name}`;
  if (evaluation.data) return <CurvesCard title={title} curves={evaluation.data.training_curves} />;
  return (
    <Card title={title}>
      {model.data && !model.data.evaluation_id ? (
        <p>This model has no evaluation.</p>
      ) : model.error || evaluation.error ? (
        <ErrorNote error={model.error ?? evaluation.error} />
      ) : (
        <Loading />
      )}
    </Card>
  );
}
