/**
 * The part of every scoring program that is the same for all models: raw CSV
 * rows in (stdin or a file; columns by position, or by name when the first
 * row is a header), each row normalised with MEAN/STD into a ring of the last
 * T rows, `score_window` on every complete window, `score,flag,top_sensor` out with flag
 * = 1 when the model raises an alarm (the trailing mean of the last SMOOTH_K
 * scores over THRESHOLD in at least PERSIST_N of the last PERSIST_M windows, as
 * core/ml alarmsOf does in the cloud) and top_sensor the feature with the largest share
 * of the score (empty for failure probabilities); plus `--selftest` over the embedded reference windows,
 * `--info` and the entry point. It is separate from the architecture
 * emitters because it only calls `score_window`, whatever computes it.
 */

/** C text; needs the runtime, the model constants (F, T, MEAN, STD, THRESHOLD, SMOOTH_K, PERSIST_*, FEATURES, REF_*) and score_window before it. */
export const DRIVER_C = String.raw`
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

/* ------------------------------------------------------------ alarms */

static float recent_scores[SMOOTH_K];
static unsigned char recent_over[PERSIST_M];
static long windows_seen;
static double score_sum;
static int over_count;

/* The alarm for the next window's score: smoothing, then persistence. */
static int alarm_for(float score) {
  int s = (int)(windows_seen % SMOOTH_K), p = (int)(windows_seen % PERSIST_M);
  long kept = windows_seen + 1 < SMOOTH_K ? windows_seen + 1 : SMOOTH_K;
  float smoothed;
  if (windows_seen >= SMOOTH_K) score_sum -= recent_scores[s];
  recent_scores[s] = score;
  score_sum += score;
  smoothed = (float)(score_sum / (double)kept);
  if (windows_seen >= PERSIST_M) over_count -= recent_over[p];
  recent_over[p] = smoothed > THRESHOLD ? 1 : 0;
  over_count += recent_over[p];
  windows_seen++;
  return over_count >= PERSIST_N;
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
        if (!bad) { err_str("selftest mismatch at window "); err_uint((u64)w); err_str(": got "); err_num(score); err_str(", expected "); err_num(want); err_str("\n"); }
        bad++;
      }
    }
    w++;
  }
  out_str(bad ? "selftest FAILED" : "selftest ok");
  out_str(" windows="); out_uint((u64)w);
  out_str(" max_abs_error="); out_num(max_err);
  out_str("\n");
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
  err_str("line "); err_uint((u64)line_no); err_str(": "); err_str(what); err_str("\n");
  return 2;
}

static int handle_line(int len) {
  const char *start[MAXCOLS], *end[MAXCOLS];
  float raw[F], score;
  int n = 0, i, j, numeric = 1;
  const char *p = line, *stop = line + len;
  if (len == 0 || line[0] == '#' || (len == 1 && line[0] == '\r')) return 0;
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
          while (e > s && (e[-1] == ' ' || e[-1] == '"' || e[-1] == '\r')) e--;
          while (s < e && k < 255) name[k++] = *s++;
          name[k] = 0;
          if (str_eq(name, FEATURES[j])) { column_of[j] = i; break; }
        }
        if (column_of[j] < 0) {
          out_flush(1);
          err_str("missing column "); err_str(FEATURES[j]); err_str("\n");
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
    out_str(alarm_for(score) ? ",1," : ",0,");
    if (HAS_CONTRIBUTION) {
      int j, top = 0;
      for (j = 1; j < F; j++) if (contribution[j] > contribution[top]) top = j;
      out_str(FEATURES[top]);
    }
    out_str("\n");
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
      if (ch == '\n') {
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
    /* Scores leave with every read, so a live source is scored live. */
    out_flush(1);
  }
  if (n < 0) { err_str("read failed\n"); return 2; }
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
  out_str("\narchitecture "); out_str(ARCHITECTURE);
  out_str("\ntask "); out_str(TASK);
  out_str("\nprecision "); out_str(PRECISION);
  out_str("\nsequence_length "); out_uint(T);
  out_str("\nthreshold "); out_num(THRESHOLD);
  out_str("\nsmoothing_windows "); out_uint(SMOOTH_K);
  out_str("\npersistence "); out_uint(PERSIST_N); out_str(" of "); out_uint(PERSIST_M);
  out_str("\nfeatures ");
  for (j = 0; j < F; j++) { if (j) out_str(","); out_str(FEATURES[j]); }
  out_str("\n");
  out_flush(1);
  return 0;
}

static int run(int argc, char **argv) {
  int fd = 0, code;
  if (argc > 1 && str_eq(argv[1], "--selftest")) return selftest();
  if (argc > 1 && str_eq(argv[1], "--info")) return info();
  if (argc > 1 && (str_eq(argv[1], "--help") || str_eq(argv[1], "-h"))) {
    out_str("usage: flint-model [FILE.csv | - | --selftest | --info]\nPrints score,flag,top_sensor for every window of T rows.\n");
    out_flush(1);
    return 0;
  }
  if (argc > 1 && !str_eq(argv[1], "-")) {
    fd = sys_open(argv[1]);
    if (fd < 0) { err_str("cannot open "); err_str(argv[1]); err_str("\n"); return 2; }
  }
  code = score_stream(fd);
  if (fd > 0) sys_call(SYS_CLOSE, fd, 0, 0, 0);
  return code;
}

void flint_entry(long *sp) {
  sys_exit(run((int)sp[0], (char **)(sp + 1)));
}
`;
