/**
 * The freestanding C runtime every generated model program is built on: no
 * libc, no dynamic allocation. It provides the process entry point and raw
 * Linux system calls for armv7 (EABI), aarch64 and x86_64, number parsing and
 * formatting, and the transcendental functions the models need (computed in
 * double precision so the float32 results match ONNX Runtime closely).
 *
 * Leaving libc out keeps a static binary at a few KB of code instead of the
 * 370-680 KB a static glibc costs, which matters on edge controllers.
 */
export const RUNTIME_C = String.raw`
typedef unsigned long usize;
typedef unsigned long long u64;

#if defined(__x86_64__)
#define SYS_READ 0
#define SYS_WRITE 1
#define SYS_OPENAT 257
#define SYS_CLOSE 3
#define SYS_EXIT_GROUP 231
static long sys_call(long n, long a, long b, long c, long d) {
  long r;
  register long r10 __asm__("r10") = d;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
  return r;
}
__asm__(".text\n.global _start\n.type _start,@function\n_start:\n\txor %ebp,%ebp\n\tmov %rsp,%rdi\n\tand $-16,%rsp\n\tcall flint_entry\n\thlt\n");
#elif defined(__aarch64__)
#define SYS_READ 63
#define SYS_WRITE 64
#define SYS_OPENAT 56
#define SYS_CLOSE 57
#define SYS_EXIT_GROUP 94
static long sys_call(long n, long a, long b, long c, long d) {
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
  return x0;
}
__asm__(".text\n.global _start\n.type _start,%function\n_start:\n\tmov x29, #0\n\tmov x30, #0\n\tmov x0, sp\n\tbl flint_entry\n\tb .\n");
#elif defined(__arm__)
#define SYS_READ 3
#define SYS_WRITE 4
#define SYS_OPENAT 322
#define SYS_CLOSE 6
#define SYS_EXIT_GROUP 248
static long sys_call(long n, long a, long b, long c, long d) {
  register long r7 __asm__("r7") = n;
  register long r0 __asm__("r0") = a;
  register long r1 __asm__("r1") = b;
  register long r2 __asm__("r2") = c;
  register long r3 __asm__("r3") = d;
  __asm__ volatile("svc 0" : "+r"(r0) : "r"(r7), "r"(r1), "r"(r2), "r"(r3) : "memory");
  return r0;
}
__asm__(".text\n.global _start\n.type _start,%function\n.arm\n_start:\n\tmov fp, #0\n\tmov lr, #0\n\tmov r0, sp\n\tbic sp, sp, #15\n\tbl flint_entry\n\tb .\n");
#else
#error "unsupported architecture"
#endif

/* The compiler may emit calls to these even in freestanding code. */
void *memset(void *dst, int value, usize n) {
  unsigned char *p = (unsigned char *)dst;
  while (n--) *p++ = (unsigned char)value;
  return dst;
}
void *memcpy(void *dst, const void *src, usize n) {
  unsigned char *d = (unsigned char *)dst;
  const unsigned char *s = (const unsigned char *)src;
  while (n--) *d++ = *s++;
  return dst;
}

static void sys_exit(int code) {
  sys_call(SYS_EXIT_GROUP, code, 0, 0, 0);
  for (;;) {}
}
#if defined(__arm__)
/* libgcc's division-by-zero handler calls raise(); there is no signal machinery here. */
int raise(int sig) {
  sys_exit(128 + sig);
  return 0;
}
#endif
static long sys_read(int fd, char *buf, long n) { return sys_call(SYS_READ, fd, (long)buf, n, 0); }
static int sys_open(const char *path) { return (int)sys_call(SYS_OPENAT, -100, (long)path, 0, 0); }

/* ---------------------------------------------------------------- output */

static char out_buf[4096];
static int out_len;
static void out_flush(int fd) {
  int off = 0;
  while (off < out_len) {
    long w = sys_call(SYS_WRITE, fd, (long)(out_buf + off), out_len - off, 0);
    if (w <= 0) break;
    off += (int)w;
  }
  out_len = 0;
}
static void out_str(const char *s) {
  while (*s) {
    if (out_len == (int)sizeof out_buf) out_flush(1);
    out_buf[out_len++] = *s++;
  }
}
static void err_str(const char *s) {
  usize n = 0;
  while (s[n]) n++;
  sys_call(SYS_WRITE, 2, (long)s, (long)n, 0);
}
static void fmt_uint(char *buf, u64 v) {
  char tmp[24];
  int n = 0;
  do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v);
  while (n) *buf++ = tmp[--n];
  *buf = 0;
}
static void out_uint(u64 v) {
  char buf[24];
  fmt_uint(buf, v);
  out_str(buf);
}
static void err_uint(u64 v) {
  char buf[24];
  fmt_uint(buf, v);
  err_str(buf);
}

/* 9 significant digits (enough to round-trip a float): -1.23456789e-05 */
static void fmt_num(char *buf, double v) {
  char *p = buf;
  int e = 0;
  u64 digits;
  int i;
  if (v != v) { buf[0] = 'n'; buf[1] = 'a'; buf[2] = 'n'; buf[3] = 0; return; }
  if (v < 0) { *p++ = '-'; v = -v; }
  if (v > 1e300) { p[0] = 'i'; p[1] = 'n'; p[2] = 'f'; p[3] = 0; return; }
  if (v == 0) { p[0] = '0'; p[1] = 0; return; }
  while (v >= 10) { v /= 10; e++; }
  while (v < 1) { v *= 10; e--; }
  digits = (u64)(v * 1e8 + 0.5);
  if (digits >= 1000000000ULL) { digits /= 10; e++; }
  *p++ = (char)('0' + digits / 100000000ULL);
  *p++ = '.';
  for (i = 7; i >= 0; i--) {
    u64 d = digits;
    int k;
    for (k = 0; k < i; k++) d /= 10;
    *p++ = (char)('0' + d % 10);
  }
  *p++ = 'e';
  if (e < 0) { *p++ = '-'; e = -e; } else *p++ = '+';
  if (e < 10) *p++ = '0';
  fmt_uint(p, (u64)e);
}
static void out_num(double v) {
  char buf[32];
  fmt_num(buf, v);
  out_str(buf);
}
static void err_num(double v) {
  char buf[32];
  fmt_num(buf, v);
  err_str(buf);
}

/* ----------------------------------------------------------------- maths */

static double d_exp(double x) {
  union { double d; u64 u; } scale;
  double r, t;
  int k;
  if (x > 700.0) x = 700.0;
  if (x < -700.0) return 0.0;
  t = x * 1.4426950408889634;
  k = (int)(t < 0 ? t - 0.5 : t + 0.5);
  r = (x - (double)k * 6.93147180369123816490e-01) - (double)k * 1.90821492927058770002e-10;
  t = 1.0 + r * (1.0 + r * (1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 + r * (1.0 / 720 +
      r * (1.0 / 5040 + r * (1.0 / 40320 + r * (1.0 / 362880 + r * (1.0 / 3628800 + r * (1.0 / 39916800 +
      r * (1.0 / 479001600))))))))))));
  scale.u = (u64)(k + 1023) << 52;
  return t * scale.d;
}
static float f_sigmoid(float x) { return (float)(1.0 / (1.0 + d_exp(-(double)x))); }
static float f_tanh(float xf) {
  double x = xf, e;
  if (x > 20.0) return 1.0f;
  if (x < -20.0) return -1.0f;
  if (x > -1e-4 && x < 1e-4) return (float)(x - x * x * x / 3.0);
  e = d_exp(2.0 * x);
  return (float)((e - 1.0) / (e + 1.0));
}
static float f_abs(float x) { return x < 0 ? -x : x; }
static float f_relu(float x) { return x > 0 ? x : 0.0f; }

/* -------------------------------------------------------------- parsing */

static double pow10_int(int e) {
  static const double big[] = {1e1, 1e2, 1e4, 1e8, 1e16, 1e32, 1e64, 1e128, 1e256};
  double r = 1.0;
  int neg = e < 0, i = 0;
  if (neg) e = -e;
  if (e > 511) e = 511;
  while (e) {
    if (e & 1) r *= big[i];
    e >>= 1;
    i++;
  }
  return neg ? 1.0 / r : r;
}

/* Parses a decimal number filling the whole [s, end) range (spaces and quotes allowed around it). */
static int parse_num(const char *s, const char *end, float *out) {
  u64 mant = 0;
  int exp10 = 0, sig = 0, any = 0, neg = 0;
  while (s < end && (*s == ' ' || *s == '\t' || *s == '"')) s++;
  while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '"' || end[-1] == '\r')) end--;
  if (s < end && (*s == '-' || *s == '+')) { neg = *s == '-'; s++; }
  while (s < end && *s >= '0' && *s <= '9') {
    any = 1;
    if (sig < 19) { mant = mant * 10 + (u64)(*s - '0'); if (mant) sig++; } else exp10++;
    s++;
  }
  if (s < end && *s == '.') {
    s++;
    while (s < end && *s >= '0' && *s <= '9') {
      any = 1;
      if (sig < 19) { mant = mant * 10 + (u64)(*s - '0'); if (mant) sig++; exp10--; }
      s++;
    }
  }
  if (!any) return 0;
  if (s < end && (*s == 'e' || *s == 'E')) {
    int eneg = 0, ev = 0, edig = 0;
    s++;
    if (s < end && (*s == '-' || *s == '+')) { eneg = *s == '-'; s++; }
    while (s < end && *s >= '0' && *s <= '9') { if (ev < 10000) ev = ev * 10 + (*s - '0'); edig = 1; s++; }
    if (!edig) return 0;
    exp10 += eneg ? -ev : ev;
  }
  if (s != end) return 0;
  {
    double v = (double)mant * pow10_int(exp10);
    if (v > 3.4e38) return 0;
    *out = (float)(neg ? -v : v);
  }
  return 1;
}

static int str_eq(const char *a, const char *b) {
  while (*a && *a == *b) { a++; b++; }
  return *a == *b;
}
`;
