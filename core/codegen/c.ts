/**
 * Generates a self-contained C99 program that scores sensor windows with a
 * model's weights: the same LSTM/GRU/dense maths as the exported ONNX graph
 * (gate orders and layouts from core/ml/models.ts; for gru_predictor the
 * forecaster or, with task "classification", the failure-probability head), the model's normalisation
 * and threshold, static buffers only, on the freestanding runtime.
 *
 * The program reads CSV rows (stdin, or a file argument), one row per time
 * step in feature order (or any order when a header row names the columns),
 * and prints `score,flag` for every complete sliding window (stride 1).
 * `--selftest` recomputes embedded reference windows and compares them with
 * the scores ONNX Runtime produced for the same windows.
 */
import { RUNTIME_C } from "./runtime";
import { assertComplete, isQuantized, ModelFormatError, type ModelSpec } from "./spec";

/** Tolerance of every comparison with ONNX Runtime: |got − want| ≤ ATOL + RTOL·|want|. */
export const TOLERANCE = { rtol: 1e-4, atol: 1e-5 } as const;

export interface Reference {
  /** Raw sensor rows (feature order), at least sequence_length of them. */
  rows: number[][];
  /** ONNX Runtime's score for each sliding window over `rows`. */
  scores: number[];
}

export function withinTolerance(got: number, want: number): boolean {
  return Math.abs(got - want) <= TOLERANCE.atol + TOLERANCE.rtol * Math.abs(want);
}

function floatLiteral(value: number): string {
  const v = Math.fround(value);
  if (!Number.isFinite(v)) throw new Error("weights contain a non-finite value");
  if (v === 0) return "0.0f";
  const text = v.toPrecision(9);
  return /[.e]/.test(text) ? `${text}f` : `${text}.0f`;
}

function floatArray(values: ArrayLike<number>): string {
  const parts: string[] = [];
  for (let i = 0; i < values.length; i++) parts.push(floatLiteral(values[i]!));
  return wrap(parts);
}

function intArray(values: Int8Array): string {
  return wrap(Array.from(values, String));
}

function wrap(parts: string[]): string {
  const lines: string[] = [];
  for (let i = 0; i < parts.length; i += 16) lines.push(`  ${parts.slice(i, i + 16).join(", ")}`);
  return lines.join(",\n");
}

/** A C string literal; anything outside printable ASCII is written as octal escapes. */
function cString(text: string): string {
  let out = '"';
  for (const byte of new TextEncoder().encode(text)) {
    if (byte === 0x22 || byte === 0x5c) out += `\\${String.fromCharCode(byte)}`;
    else if (byte >= 0x20 && byte < 0x7f && byte !== 0x3f) out += String.fromCharCode(byte);
    else out += `\\${byte.toString(8).padStart(3, "0")}`;
  }
  return `${out}"`;
}

const ident = (name: string) => name.replace(/[^A-Za-z0-9]/g, "_");

export interface GenerateOptions {
  reference: Reference;
}

/** Returns the C source of the scoring program for `spec` (float32 or int8 per `spec.precision`). */
export function generateC(spec: ModelSpec, options: GenerateOptions): string {
  assertComplete(spec);
  const F = spec.features.length;
  const T = spec.sequenceLength;
  const H = spec.hiddenDim;
  const Z = spec.bottleneckDim;
  const int8 = spec.precision === "int8";
  const { rows, scores } = options.reference;
  if (rows.length < T || scores.length !== rows.length - T + 1) throw new Error("reference rows and scores do not line up");
  const widths = [4 * H, 3 * H, 128, 64, 1, F, Z, H, 3 * F].filter((w) => w > 0);
  const maxN = Math.max(...widths);

  const weights: string[] = [];
  for (const [name, weight] of spec.weights) {
    const id = ident(name);
    if (int8 && isQuantized(name)) {
      if (!weight.q || weight.scale === undefined) throw new Error(`weight ${name} is not quantized`);
      weights.push(`static const wt W_${id}[${weight.q.length}] = {\n${intArray(weight.q)}\n};`);
      weights.push(`static const float S_${id}[${weight.scale.length}] = {\n${floatArray(weight.scale)}\n};`);
    } else if (isQuantized(name)) {
      weights.push(`static const wt W_${id}[${weight.data.length}] = {\n${floatArray(weight.data)}\n};`);
      weights.push(`#define S_${id} 0`);
    } else {
      weights.push(`static const float W_${id}[${weight.data.length}] = {\n${floatArray(weight.data)}\n};`);
    }
  }
  const W = (name: string) => `W_${ident(name)}, S_${ident(name)}`;
  const B = (name: string) => `W_${ident(name)}`;

  const lossExpr =
    spec.loss === "mae" ? "f_abs(d)" : spec.loss === "huber" ? "huber(d)" : "d * d";

  let model: string;
  if (spec.architecture === "lstm_autoencoder") {
    const lines: string[] = [];
    let input = "x";
    let inDim = "F";
    let buffer = 0;
    for (let l = 0; l < spec.numLayers; l++) {
      lines.push(`  lstm_layer(${input}, ${inDim}, ${inDim}, ${W(`lstm.enc.${l}.W`)}, ${B(`lstm.enc.${l}.b`)}, seq_${buffer});`);
      input = `seq_${buffer}`;
      inDim = "H";
      buffer ^= 1;
    }
    lines.push(`  for (j = 0; j < Z; j++) z[j] = ${B("bottleneck.b")}[j];`);
    lines.push(`  matvec(z, ${input} + (T - 1) * H, H, ${W("bottleneck.W")}, Z);`);
    input = "z";
    let stride = "0";
    inDim = "Z";
    for (let l = 0; l < spec.numLayers; l++) {
      lines.push(`  lstm_layer(${input}, ${stride}, ${inDim}, ${W(`lstm.dec.${l}.W`)}, ${B(`lstm.dec.${l}.b`)}, seq_${buffer});`);
      input = `seq_${buffer}`;
      stride = "H";
      inDim = "H";
      buffer ^= 1;
    }
    model = `
static float seq_0[T * H], seq_1[T * H], z[Z];
static float score_window(const float *x) {
  float r[F];
  double err = 0;
  int t, j;
${lines.join("\n")}
  for (t = 0; t < T; t++) {
    for (j = 0; j < F; j++) r[j] = ${B("output.b")}[j];
    matvec(r, ${input} + t * H, H, ${W("output.W")}, F);
    for (j = 0; j < F; j++) {
      float d = r[j] - x[t * F + j];
      err += (double)(${lossExpr});
    }
  }
  return (float)(err / (double)(T * F));
}`;
  } else if (spec.architecture === "gru_predictor") {
    const lines: string[] = [];
    let input = "x";
    let inDim = "F";
    let buffer = 0;
    for (let l = 0; l < spec.numLayers; l++) {
      lines.push(`  gru_layer(${input}, ${inDim}, ${W(`gru.${l}.W`)}, ${B(`gru.${l}.b`)}, ${B(`gru.${l}.bh`)}, seq_${buffer});`);
      input = `seq_${buffer}`;
      inDim = "H";
      buffer ^= 1;
    }
    if (spec.task === "classification") {
      // loss "bce": the GRU reads all T rows; failure probability σ(h_T · head.W + head.b)
      model = `
static float seq_0[T * H], seq_1[T * H];
static float score_window(const float *x) {
  float logit[1];
${lines.join("\n")}
  logit[0] = ${B("head.b")}[0];
  matvec(logit, ${input} + (GRU_STEPS - 1) * H, H, ${W("head.W")}, 1);
  return f_sigmoid(logit[0]);
}`;
    } else {
      // forecast: the GRU reads rows 0..T-2 and forecasts row T-1
      model = `
static float seq_0[T * H], seq_1[T * H];
static float score_window(const float *x) {
  float f[F];
  double err = 0;
  int j;
${lines.join("\n")}
  for (j = 0; j < F; j++) f[j] = ${B("head.b")}[j];
  matvec(f, ${input} + (GRU_STEPS - 1) * H, H, ${W("head.W")}, F);
  for (j = 0; j < F; j++) {
    float d = f[j] - x[(T - 1) * F + j];
    err += (double)(${lossExpr});
  }
  return (float)(err / (double)F);
}`;
    }
  } else if (spec.architecture === "sentinel") {
    model = `
static float score_window(const float *x) {
  float feat[NSTATS * F], h1[128], h2[64], logit[1];
  int t, j;
  for (j = 0; j < F; j++) {
    float mean = 0.0f, var = 0.0f;
    for (t = 0; t < T; t++) mean += x[t * F + j];
    mean /= (float)T;
    feat[j] = x[(T - 1) * F + j];
    feat[F + j] = mean;
    if (NSTATS == 3) {
      for (t = 0; t < T; t++) {
        float d = x[t * F + j] - mean;
        var += d * d;
      }
      feat[2 * F + j] = (float)__builtin_sqrt((double)(var / (float)T + 1e-6f));
    }
  }
  for (j = 0; j < 128; j++) h1[j] = ${B("mlp.0.b")}[j];
  matvec(h1, feat, NSTATS * F, ${W("mlp.0.W")}, 128);
  for (j = 0; j < 128; j++) h1[j] = f_relu(h1[j]);
  for (j = 0; j < 64; j++) h2[j] = ${B("mlp.1.b")}[j];
  matvec(h2, h1, 128, ${W("mlp.1.W")}, 64);
  for (j = 0; j < 64; j++) h2[j] = f_relu(h2[j]);
  logit[0] = ${B("mlp.2.b")}[0];
  matvec(logit, h2, 64, ${W("mlp.2.W")}, 1);
  return f_sigmoid(logit[0]);
}`;
  } else {
    // unreachable after assertComplete; kept so a new architecture cannot silently fall through
    throw new ModelFormatError(`unsupported architecture ${String(spec.architecture)}`, "codegen.unsupported_architecture");
  }

  const refRows = rows.flatMap((row) => {
    if (row.length !== F) throw new Error("reference row has the wrong number of features");
    return row;
  });

  return `/* Generated by Flint for model ${spec.modelId} ${spec.version} (${spec.architecture}, ${spec.precision}). Do not edit. */
${RUNTIME_C}
#define F ${F}
#define T ${T}
#define H ${H}
#define Z ${Z}
#define MAXN ${maxN}
#define NSTATS ${spec.sentinelStats ?? 3}
#define NREF ${rows.length}
${spec.architecture === "lstm_autoencoder" ? "#define USE_LSTM 1" : spec.architecture === "gru_predictor" ? `#define USE_GRU 1\n#define GRU_STEPS ${spec.task === "classification" ? "T" : "(T - 1)"}` : ""}
#define RTOL ${TOLERANCE.rtol}
#define ATOL ${TOLERANCE.atol}

${int8 ? "typedef signed char wt;" : "typedef float wt;"}

static const char *const MODEL_ID = ${cString(spec.modelId)};
static const char *const MODEL_VERSION = ${cString(spec.version)};
static const char *const ARCHITECTURE = ${cString(spec.architecture)};
static const char *const TASK = ${cString(spec.task)};
static const char *const PRECISION = ${cString(spec.precision)};
static const char *const FEATURES[F] = { ${spec.features.map(cString).join(", ")} };
static const float MEAN[F] = { ${spec.mean.map(floatLiteral).join(", ")} };
static const float STD[F] = { ${spec.std.map(floatLiteral).join(", ")} };
static const float THRESHOLD = ${floatLiteral(spec.threshold)};

${weights.join("\n")}

static const float REF_ROWS[NREF * F] = {
${floatArray(refRows)}
};
static const float REF_SCORES[NREF - T + 1] = {
${floatArray(scores)}
};

/* y[j] += sum_k x[k] * W[k][j] (W row-major K x N; int8 columns times their scale).
   The one hot loop is optimised for speed (vectorised where the target has SIMD);
   it has no reduction across j, so the results are bit-identical to -Os. */
__attribute__((optimize("O3"))) static void matvec(float *y, const float *x, int K, const wt *W, const float *scale, int N) {
${int8 ? `  static float acc[MAXN];
  int j, k;
  for (j = 0; j < N; j++) acc[j] = 0.0f;
  for (k = 0; k < K; k++) {
    const float xk = x[k];
    const wt *row = W + k * N;
    for (j = 0; j < N; j++) acc[j] += xk * (float)row[j];
  }
  for (j = 0; j < N; j++) y[j] += acc[j] * scale[j];` : `  int j, k;
  (void)scale;
  for (k = 0; k < K; k++) {
    const float xk = x[k];
    const wt *row = W + k * N;
    for (j = 0; j < N; j++) y[j] += xk * row[j];
  }`}
}

static float huber(float d) {
  float a = f_abs(d);
  float m = a < 1.0f ? a : 1.0f;
  return m * (a - m * 0.5f);
}

#ifdef USE_LSTM
/* LSTM over T steps; input step t is xs + t * xstride (xstride 0 repeats one vector). Gates i, f, g, o. */
static void lstm_layer(const float *xs, int xstride, int in, const wt *W, const float *ws, const float *b, float *hs) {
  static float g[4 * H], c[H], xp[4 * H];
  int t, j;
  if (xstride == 0) {
    /* the same input at every step (decoder): project it once */
    for (j = 0; j < 4 * H; j++) xp[j] = b[j];
    matvec(xp, xs, in, W, ws, 4 * H);
  }
  for (t = 0; t < T; t++) {
    if (xstride == 0) {
      for (j = 0; j < 4 * H; j++) g[j] = xp[j];
    } else {
      for (j = 0; j < 4 * H; j++) g[j] = b[j];
      matvec(g, xs + t * xstride, in, W, ws, 4 * H);
    }
    if (t > 0) matvec(g, hs + (t - 1) * H, H, W + in * 4 * H, ws, 4 * H);
    for (j = 0; j < H; j++) {
      float i = f_sigmoid(g[j]), o = f_sigmoid(g[3 * H + j]), gg = f_tanh(g[2 * H + j]);
      c[j] = t > 0 ? f_sigmoid(g[H + j]) * c[j] + i * gg : i * gg;
      hs[t * H + j] = o * f_tanh(c[j]);
    }
  }
}

#endif
#ifdef USE_GRU
/* GRU over the first GRU_STEPS steps: T - 1 for the forecaster (it forecasts step T - 1),
   all T for the classifier. Gates r, z, n. */
static void gru_layer(const float *xs, int in, const wt *W, const float *ws, const float *b, const float *bh, float *hs) {
  static float a[3 * H], u[3 * H];
  int t, j;
  for (t = 0; t < GRU_STEPS; t++) {
    for (j = 0; j < 3 * H; j++) { a[j] = b[j]; u[j] = bh[j]; }
    matvec(a, xs + t * in, in, W, ws, 3 * H);
    if (t > 0) matvec(u, hs + (t - 1) * H, H, W + in * 3 * H, ws, 3 * H);
    for (j = 0; j < H; j++) {
      float r = f_sigmoid(a[j] + u[j]), zg = f_sigmoid(a[H + j] + u[H + j]);
      float n = f_tanh(a[2 * H + j] + r * u[2 * H + j]);
      hs[t * H + j] = t > 0 ? n + zg * (hs[(t - 1) * H + j] - n) : n - zg * n;
    }
  }
}
#endif
${model}

/* ------------------------------------------------------------ windows */

static float ring[T * F], window[T * F];
static long rows_seen;

/* Adds one raw row; returns 1 and the window's score once T rows are in. */
static int push_row(const float *raw, float *score) {
  int slot = (int)(rows_seen % T), t, j;
  for (j = 0; j < F; j++) ring[slot * F + j] = (raw[j] - MEAN[j]) / STD[j];
  rows_seen++;
  if (rows_seen < T) return 0;
  for (t = 0; t < T; t++) {
    int from = (int)((rows_seen + t) % T);
    for (j = 0; j < F; j++) window[t * F + j] = ring[from * F + j];
  }
  *score = score_window(window);
  return 1;
}

static int selftest(void) {
  float score, max_err = 0.0f;
  int r, w = 0, bad = 0;
  rows_seen = 0;
  for (r = 0; r < NREF; r++) {
    if (!push_row(REF_ROWS + r * F, &score)) continue;
    {
      float want = REF_SCORES[w], e = f_abs(score - want);
      if (e > max_err) max_err = e;
      if (!(e <= ATOL + RTOL * f_abs(want))) {
        if (!bad) { err_str("selftest mismatch at window "); err_uint((u64)w); err_str(": got "); err_num(score); err_str(", expected "); err_num(want); err_str("\\n"); }
        bad++;
      }
    }
    w++;
  }
  out_str(bad ? "selftest FAILED" : "selftest ok");
  out_str(" windows="); out_uint((u64)w);
  out_str(" max_abs_error="); out_num(max_err);
  out_str("\\n");
  out_flush(1);
  return bad ? 1 : 0;
}

/* ---------------------------------------------------------------- CSV */

#define MAXCOLS 512
#define LINE_MAX_LEN 16384
static char line[LINE_MAX_LEN];
static int column_of[F];
static int header_checked;
static long line_no;

static int fail_line(const char *what) {
  out_flush(1);
  err_str("line "); err_uint((u64)line_no); err_str(": "); err_str(what); err_str("\\n");
  return 2;
}

static int handle_line(int len) {
  const char *start[MAXCOLS], *end[MAXCOLS];
  float raw[F], score;
  int n = 0, i, j, numeric = 1;
  const char *p = line, *stop = line + len;
  if (len == 0 || line[0] == '#' || (len == 1 && line[0] == '\\r')) return 0;
  start[0] = p;
  for (; p < stop; p++) {
    if (*p == ',') {
      if (n + 1 >= MAXCOLS) return fail_line("too many columns");
      end[n++] = p;
      start[n] = p + 1;
    }
  }
  end[n++] = stop;
  if (!header_checked) {
    header_checked = 1;
    for (i = 0; i < n; i++) if (!parse_num(start[i], end[i], &score)) numeric = 0;
    if (!numeric) {
      for (j = 0; j < F; j++) {
        column_of[j] = -1;
        for (i = 0; i < n; i++) {
          char name[256];
          const char *s = start[i], *e = end[i];
          int k = 0;
          while (s < e && (*s == ' ' || *s == '"')) s++;
          while (e > s && (e[-1] == ' ' || e[-1] == '"' || e[-1] == '\\r')) e--;
          while (s < e && k < 255) name[k++] = *s++;
          name[k] = 0;
          if (str_eq(name, FEATURES[j])) { column_of[j] = i; break; }
        }
        if (column_of[j] < 0) {
          out_flush(1);
          err_str("missing column "); err_str(FEATURES[j]); err_str("\\n");
          return 2;
        }
      }
      return 0;
    }
  }
  for (j = 0; j < F; j++) {
    int col = column_of[j];
    if (col >= n) return fail_line("not enough columns");
    if (!parse_num(start[col], end[col], &raw[j])) return fail_line("invalid number");
  }
  if (push_row(raw, &score)) {
    out_num(score);
    out_str(score > THRESHOLD ? ",1\\n" : ",0\\n");
  }
  return 0;
}

static char in_buf[65536];

static int score_stream(int fd) {
  int len = 0, code;
  long n, i;
  for (i = 0; i < F; i++) column_of[i] = (int)i;
  while ((n = sys_read(fd, in_buf, sizeof in_buf)) > 0) {
    for (i = 0; i < n; i++) {
      char ch = in_buf[i];
      if (ch == '\\n') {
        line_no++;
        if ((code = handle_line(len)) != 0) return code;
        len = 0;
      } else if (len < LINE_MAX_LEN - 1) {
        line[len++] = ch;
      } else {
        line_no++;
        return fail_line("line too long");
      }
    }
  }
  if (n < 0) { err_str("read failed\\n"); return 2; }
  if (len > 0) {
    line_no++;
    if ((code = handle_line(len)) != 0) return code;
  }
  out_flush(1);
  return 0;
}

static int info(void) {
  int j;
  out_str("model "); out_str(MODEL_ID); out_str(" "); out_str(MODEL_VERSION);
  out_str("\\narchitecture "); out_str(ARCHITECTURE);
  out_str("\\ntask "); out_str(TASK);
  out_str("\\nprecision "); out_str(PRECISION);
  out_str("\\nsequence_length "); out_uint(T);
  out_str("\\nthreshold "); out_num(THRESHOLD);
  out_str("\\nfeatures ");
  for (j = 0; j < F; j++) { if (j) out_str(","); out_str(FEATURES[j]); }
  out_str("\\n");
  out_flush(1);
  return 0;
}

static int run(int argc, char **argv) {
  int fd = 0, code;
  if (argc > 1 && str_eq(argv[1], "--selftest")) return selftest();
  if (argc > 1 && str_eq(argv[1], "--info")) return info();
  if (argc > 1 && (str_eq(argv[1], "--help") || str_eq(argv[1], "-h"))) {
    out_str("usage: flint-model [FILE.csv | - | --selftest | --info]\\nPrints score,flag for every window of T rows.\\n");
    out_flush(1);
    return 0;
  }
  if (argc > 1 && !str_eq(argv[1], "-")) {
    fd = sys_open(argv[1]);
    if (fd < 0) { err_str("cannot open "); err_str(argv[1]); err_str("\\n"); return 2; }
  }
  code = score_stream(fd);
  if (fd > 0) sys_call(SYS_CLOSE, fd, 0, 0, 0);
  return code;
}

void flint_entry(long *sp) {
  sys_exit(run((int)sp[0], (char **)(sp + 1)));
}
`;
}
