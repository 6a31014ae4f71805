#!/bin/sh
# flint-agent: the Flint edge agent. It enrols the controller, sends
# heartbeats with real CPU, memory and disk figures, installs the models the
# platform assigns (checksums, self-test, rollback), runs flint-model as a
# supervised service (restarted with backoff when it exits), carries out the
# start/stop/restart commands heartbeats bring back, and ships the service's
# output and score counts. Offline, it keeps the service running and buffers
# results and logs until the platform answers again.
#
# POSIX sh; needs curl, sha256sum, tar, awk, sed and /proc (busybox will do).
# Configuration: environment variables, or the same names in
# /etc/flint/agent.conf (FLINT_AGENT_CONF elsewhere):
#   FLINT_API                 https://<host>/api/v1 (required)
#   FLINT_ENROLMENT_TOKEN     first start only: enrol with this token (then wait for approval)
#   FLINT_WORKER_ID, FLINT_CREDENTIAL   instead of enrolling: a target registered in the dashboard
#   FLINT_SOURCE              sensor rows for flint-model: file:/path (a file or FIFO) or cmd:<command printing CSV rows>
#   FLINT_NAME                the worker's name (default: hostname)
#   FLINT_STATE_DIR           default /var/lib/flint
#   FLINT_HEARTBEAT_SECONDS   default 15
#   FLINT_RUNNER              a command to run flint-model under (e.g. qemu-arm on a build machine); empty on a controller
#   FLINT_ARCH                the architecture to enrol as (default: uname -m)
#   FLINT_CURL_OPTS           extra curl options (e.g. --cacert /etc/flint/ca.pem)
set -u

CONF=${FLINT_AGENT_CONF:-/etc/flint/agent.conf}
# `.` looks a bare file name up in PATH, not here.
case "$CONF" in */*) ;; *) CONF=./$CONF ;; esac
# shellcheck disable=SC1090
[ -r "$CONF" ] && . "$CONF"

API=${FLINT_API:?set FLINT_API to the platform address, e.g. https://flint.example.com/api/v1}
STATE=${FLINT_STATE_DIR:-/var/lib/flint}
NAME=${FLINT_NAME:-$(hostname)}
SOURCE=${FLINT_SOURCE:-}
RUNNER=${FLINT_RUNNER:-}
INTERVAL=${FLINT_HEARTBEAT_SECONDS:-15}
PROBE=${FLINT_INSTALL_PROBE_SECONDS:-3}
MAX_BACKOFF=${FLINT_MAX_BACKOFF_SECONDS:-60}
LOG_LINES=${FLINT_LOG_LINES:-200}
CURL_OPTS=${FLINT_CURL_OPTS:-}
TMP="$STATE/tmp"
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

umask 077
mkdir -p "$STATE/releases" "$STATE/results" "$TMP"

# ------------------------------------------------------------ helpers

now() { date +%s; }
iso() { date -u +%Y-%m-%dT%H:%M:%SZ; }
uptime_s() { awk '{ print $1 }' /proc/uptime; }
read_file() { cat "$1" 2>/dev/null || printf '%s' "${2:-}"; }
write_file() { printf '%s\n' "$2" > "$1.new" && mv "$1.new" "$1"; }

# One line of the agent's own log (shipped with the service's output).
log() {
  level=$1
  shift
  line="$(iso) $level $*"
  printf '%s\n' "$line" >> "$STATE/agent.log"
  printf 'flint-agent: %s\n' "$line" >&2
}

# Credentials, tokens and key=value secrets never leave the controller.
redact() {
  sed -E \
    -e 's/(fdc|fen)\.[A-Za-z0-9_.-]+/\1.[redacted]/g' \
    -e 's/(Bearer|Device|Basic) [A-Za-z0-9._~+\/=-]{16,}/\1 [redacted]/g' \
    -e 's/([Pp]ass(word|wd)?|[Ss]ecret|[Tt]oken|[Aa]pi[_-]?[Kk]ey|[Cc]redential)( *[=:] *)[^ ]+/\1\3[redacted]/g'
}

json_str() {
  printf '"%s"' "$(printf '%s' "$1" | tr -d '\000-\037' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}
json_num() { [ -n "$1" ] && printf '%s' "$1" || printf 'null'; }

# http METHOD PATH [BODY_FILE CONTENT_TYPE]: the answer in $TMP/answer, the status code printed (000: no answer).
http() {
  http_method=$1 http_path=$2 http_data=${3:-} http_type=${4:-}
  set -- -sS -o "$TMP/answer" -w '%{http_code}' --connect-timeout 10 --max-time 120 -X "$http_method" -H 'Accept: text/plain'
  # The credential is read from a file (-H @file), never put on a command line other processes can see.
  [ -s "$STATE/auth.header" ] && set -- "$@" -H "@$STATE/auth.header"
  [ -n "$http_data" ] && set -- "$@" -H "Content-Type: $http_type" --data-binary "@$http_data"
  rm -f "$TMP/answer"
  # shellcheck disable=SC2086
  http_code=$(curl $CURL_OPTS "$@" "$API$http_path" 2>>"$TMP/curl.err") || http_code=000
  printf '%s' "$http_code"
}

# ------------------------------------------------------------ enrolment

enrol() {
  if [ -s "$STATE/auth.header" ] && [ -s "$STATE/worker_id" ]; then return 0; fi
  if [ -n "${FLINT_CREDENTIAL:-}" ] && [ -n "${FLINT_WORKER_ID:-}" ]; then
    write_file "$STATE/auth.header" "Authorization: Device $FLINT_CREDENTIAL"
    write_file "$STATE/worker_id" "$FLINT_WORKER_ID"
    return 0
  fi
  token=${FLINT_ENROLMENT_TOKEN:?set FLINT_ENROLMENT_TOKEN (from the dashboard) to enrol this controller}
  cores=$(grep -c '^processor' /proc/cpuinfo 2>/dev/null || echo 1)
  memory_mb=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 }' /proc/meminfo)
  arch=${FLINT_ARCH:-$(uname -m)}
  while :; do
    printf '{"enrolment_token":%s,"name":%s,"hostname":%s,"arch":%s,"cpu_cores":%s,"memory_total_mb":%s,"os_info":%s}' \
      "$(json_str "$token")" "$(json_str "$NAME")" "$(json_str "$(hostname)")" "$(json_str "$arch")" "$cores" "$memory_mb" \
      "$(json_str "$(uname -sr) $arch")" > "$TMP/enrol.json"
    code=$(http POST /workers/register "$TMP/enrol.json" application/json)
    rm -f "$TMP/enrol.json"
    if [ "$code" = 201 ]; then
      worker=$(awk '$1 == "worker_id" { print $2 }' "$TMP/answer")
      credential=$(awk '$1 == "credential" { print $2 }' "$TMP/answer")
      write_file "$STATE/auth.header" "Authorization: Device $credential"
      write_file "$STATE/worker_id" "$worker"
      rm -f "$TMP/answer"
      log info "enrolled as $worker; waiting for an admin to approve it"
      return 0
    fi
    # A refused token does not get better by asking often: back off to 5 minutes.
    wait_s=$(( ${wait_s:-$INTERVAL} * 2 > 300 ? 300 : ${wait_s:-$INTERVAL} * 2 ))
    log error "enrolment answered $code: $(head -c 300 "$TMP/answer" 2>/dev/null | redact); trying again in ${wait_s}s"
    sleep "$wait_s"
  done
}

# ------------------------------------------------------------ the service

release() { read_file "$STATE/release"; }
desired() { read_file "$STATE/desired" running; }
service_pid() { read_file "$STATE/service.pid"; }
# sh has no local variables: helpers called from anywhere use names of their own.
alive() { alive_pid=$(service_pid); [ -n "$alive_pid" ] && kill -0 "$alive_pid" 2>/dev/null; }

SVC_STATUS=stopped
SVC_EXIT=""
SVC_ERROR=""
BACKOFF=1
RESTART_AT=0

# Starts flint-model of the current release on the configured source, in the background (detached, so an agent restart adopts it).
start_service() {
  rel=$(release)
  bin="$STATE/releases/$rel/flint-model"
  if [ -z "$rel" ] || [ ! -x "$bin" ]; then SVC_STATUS=stopped; return 1; fi
  rm -f "$STATE/service.exit" "$STATE/service.pid" "$STATE/source.pid"
  case "$SOURCE" in
    cmd:*) input="$STATE/input.fifo"; [ -p "$input" ] || { rm -f "$input"; mkfifo "$input"; } ;;
    file:*) input=${SOURCE#file:} ;;
    *) log error "FLINT_SOURCE is not set (file:/path or cmd:<command>): the service cannot start"; SVC_STATUS=failed; SVC_ERROR="no sensor source configured"; return 1 ;;
  esac
  (
    (
      case "$SOURCE" in cmd:*) sh -c "${SOURCE#cmd:}" > "$input" 2>>"$STATE/service.err" & echo $! > "$STATE/source.pid" ;; esac
      # shellcheck disable=SC2086
      $RUNNER "$bin" - < "$input" >> "$STATE/service.out" 2>> "$STATE/service.err" &
      model=$!
      write_file "$STATE/service.pid" "$model"
      wait "$model"
      write_file "$STATE/service.exit" "$?"
      [ -s "$STATE/source.pid" ] && kill "$(cat "$STATE/source.pid")" 2>/dev/null
    ) < /dev/null &
  )
  i=0
  while [ ! -s "$STATE/service.pid" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  write_file "$STATE/started_at" "$(iso)"
  write_file "$STATE/started_uptime" "$(uptime_s)"
  SVC_STATUS=running
  SVC_EXIT=""
  SVC_ERROR=""
  log info "flint-model $rel started (pid $(service_pid))"
  BEAT_NOW=1
}

# Stops the running flint-model (TERM, then KILL after 5 s); `desired` is left as it is.
kill_service() {
  pid=$(service_pid)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    kill -9 "$pid" 2>/dev/null
  fi
  [ -s "$STATE/source.pid" ] && kill "$(cat "$STATE/source.pid")" 2>/dev/null
  # Let the old wrapper record its exit before anything new starts.
  i=0
  while [ -n "$pid" ] && [ ! -s "$STATE/service.exit" ] && [ $i -lt 20 ]; do sleep 0.1; i=$((i + 1)); done
  rm -f "$STATE/service.pid" "$STATE/source.pid"
  SVC_STATUS=stopped
}

# Called every tick: notices an exit and restarts with backoff (1 s, doubling to FLINT_MAX_BACKOFF_SECONDS).
supervise() {
  if alive; then
    [ "$SVC_STATUS" = installing ] || SVC_STATUS=running
    started=$(read_file "$STATE/started_uptime" 0)
    if awk -v u="$(uptime_s)" -v s="$started" 'BEGIN { exit !(u - s > 60) }'; then BACKOFF=1; fi
    return
  fi
  if [ -n "$(service_pid)" ]; then
    i=0
    while [ ! -s "$STATE/service.exit" ] && [ $i -lt 20 ]; do sleep 0.1; i=$((i + 1)); done
    SVC_EXIT=$(read_file "$STATE/service.exit")
    rm -f "$STATE/service.pid"
    if [ "$(desired)" = running ]; then
      if [ "$SVC_EXIT" = 0 ]; then
        SVC_ERROR="flint-model's input ended (exit code 0)"
        log info "$SVC_ERROR; starting it again in ${BACKOFF}s"
      else
        SVC_ERROR="flint-model exited with code ${SVC_EXIT:-unknown}"
        log error "$SVC_ERROR; restarting in ${BACKOFF}s"
      fi
      SVC_STATUS=failed
      RESTART_AT=$(( $(now) + BACKOFF ))
      BACKOFF=$(( BACKOFF * 2 > MAX_BACKOFF ? MAX_BACKOFF : BACKOFF * 2 ))
      BEAT_NOW=1
    else
      SVC_STATUS=stopped
    fi
    return
  fi
  if [ "$(desired)" = running ] && [ -n "$(release)" ] && [ "$(now)" -ge "$RESTART_AT" ]; then
    if [ "$SVC_STATUS" = failed ]; then
      write_file "$STATE/restart_count" $(( $(read_file "$STATE/restart_count" 0) + 1 ))
    fi
    start_service
  fi
}

# ------------------------------------------------------------ commands

# run_command ID TYPE: carried out once per id; the result waits in results/ until a heartbeat delivers it.
run_command() {
  id=$1
  type=$2
  if grep -qx "$id" "$STATE/done_commands" 2>/dev/null; then return; fi
  state=succeeded
  case "$type" in
    start)
      write_file "$STATE/desired" running
      RESTART_AT=0
      BACKOFF=1
      if alive; then result="already running (pid $(service_pid))"; elif start_service; then result="started"; else state=failed; result="nothing to start: ${SVC_ERROR:-no model installed}"; fi
      ;;
    stop)
      write_file "$STATE/desired" stopped
      kill_service
      result="stopped"
      log info "flint-model stopped by command $id"
      ;;
    restart)
      write_file "$STATE/desired" running
      kill_service
      write_file "$STATE/restart_count" $(( $(read_file "$STATE/restart_count" 0) + 1 ))
      BACKOFF=1
      if start_service; then result="restarted"; else state=failed; result="could not start: ${SVC_ERROR:-no model installed}"; fi
      ;;
    *) state=failed; result="this agent does not know the command $type" ;;
  esac
  if [ "$state" = succeeded ] && [ "$type" != stop ]; then
    sleep 1
    if ! alive; then state=failed; result="flint-model exited at once (code $(read_file "$STATE/service.exit" unknown))"; fi
  fi
  [ "$state" = succeeded ] && [ "$type" != stop ] && result="$result (pid $(service_pid))"
  printf '%s %s\n' "$state" "$result" > "$STATE/results/$id"
  printf '%s\n' "$id" >> "$STATE/done_commands"
  tail -n 200 "$STATE/done_commands" > "$TMP/done" && mv "$TMP/done" "$STATE/done_commands"
  BEAT_NOW=1
}

# ------------------------------------------------------------ installs

confirm() {
  printf '%s %s %s\n' "$1" "$2" "${3:-}" > "$STATE/pending_confirm"
  send_confirm
}

# A confirmation that did not get through is sent again with the next heartbeats.
send_confirm() {
  [ -s "$STATE/pending_confirm" ] || return 0
  read -r dep status reason < "$STATE/pending_confirm"
  printf '{"status":%s%s}' "$(json_str "$status")" "${reason:+,\"reason\":$(json_str "$reason")}" > "$TMP/confirm.json"
  code=$(http POST "/devices/deployments/$dep/confirm" "$TMP/confirm.json" application/json)
  case "$code" in
    2*|404|409) rm -f "$STATE/pending_confirm" ;;
    *) log warn "confirming $dep answered $code; trying again later" ;;
  esac
}

# refuse REASON: the package being installed ($dep, unpacked in $dir.new) is not installed; the running model stays.
refuse() {
  log error "$dep refused: $1; kept ${previous:-no model}"
  rm -rf "$dir.new" "$TMP/package.tar.gz"
  SVC_STATUS=stopped
  alive && SVC_STATUS=running
  confirm "$dep" failed "$1"
}

# install DEPLOYMENT PACKAGE_SHA256 BINARY_SHA256 URL
install() {
  dep=$1
  if [ "$dep" = "$(release)" ]; then confirm "$dep" installed; return; fi
  previous=$(release)
  log info "installing $dep"
  SVC_STATUS=installing
  dir="$STATE/releases/$dep"
  rm -rf "$dir.new" "$TMP/package.tar.gz"
  # shellcheck disable=SC2086
  if ! curl -fsS $CURL_OPTS --connect-timeout 10 --max-time 600 -o "$TMP/package.tar.gz" "$4" 2>>"$TMP/curl.err"; then
    log warn "downloading $dep failed; trying again with the next heartbeat"
    SVC_STATUS=stopped; alive && SVC_STATUS=running
    return
  fi
  [ "$(sha256sum "$TMP/package.tar.gz" | awk '{ print $1 }')" = "$2" ] || { refuse "package checksum mismatch"; return; }
  mkdir -p "$dir.new"
  tar -xzf "$TMP/package.tar.gz" -C "$dir.new" || { refuse "package does not unpack"; return; }
  [ "$(sha256sum "$dir.new/flint-model" | awk '{ print $1 }')" = "$3" ] || { refuse "flint-model checksum mismatch"; return; }
  chmod 755 "$dir.new/flint-model"
  # shellcheck disable=SC2086
  if ! $RUNNER "$dir.new/flint-model" --selftest > "$TMP/selftest" 2>&1 < /dev/null; then
    refuse "self-test failed: $(tail -n 1 "$TMP/selftest")"
    return
  fi
  rm -rf "$dir" && mv "$dir.new" "$dir" && rm -f "$TMP/package.tar.gz"
  kill_service
  write_file "$STATE/release" "$dep"
  write_file "$STATE/restart_count" 0
  write_file "$STATE/windows" 0
  write_file "$STATE/alarms" 0
  BACKOFF=1
  if [ "$(desired)" = running ]; then
    start_service
    sleep "$PROBE"
    if ! alive && [ "$(read_file "$STATE/service.exit")" != 0 ]; then
      code=$(read_file "$STATE/service.exit" unknown)
      rm -f "$STATE/service.pid"
      write_file "$STATE/release" "$previous"
      [ -n "$previous" ] && start_service
      rm -rf "$dir"
      log error "$dep exited with code $code within ${PROBE}s; rolled back to ${previous:-no model}"
      confirm "$dep" failed "flint-model exited with code $code within ${PROBE}s of starting; rolled back"
      return
    fi
  else
    SVC_STATUS=stopped
  fi
  for old in "$STATE/releases"/*; do
    case "${old##*/}" in "$dep" | "$previous") ;; *) rm -rf "$old" ;; esac
  done
  log info "installed $dep"
  confirm "$dep" installed
}

# ------------------------------------------------------------ heartbeats

CPU_TOTAL=0
CPU_IDLE=0
HOST_CPU=0
SVC_TICKS=""
SVC_AT=""
FIGURES=""

# HOST_CPU: the controller's CPU use since the previous heartbeat (percent of all cores).
measure_host() {
  set -- $(awk '/^cpu / { idle = $5 + $6; total = 0; for (i = 2; i <= NF; i++) total += $i; print total, idle }' /proc/stat)
  HOST_CPU=$(awk -v t="$1" -v i="$2" -v pt="$CPU_TOTAL" -v pi="$CPU_IDLE" 'BEGIN { d = t - pt; if (d <= 0) print 0; else printf "%.1f", (d - (i - pi)) * 100 / d }')
  CPU_TOTAL=$1
  CPU_IDLE=$2
}

# FIGURES: the service's CPU share since the previous heartbeat, resident memory and memory limit (its cgroup's, else RAM), as JSON fields.
measure_service() {
  FIGURES='"cpu_percent":0,"memory_bytes":0'
  alive || return 0
  pid=$(service_pid)
  ticks=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print $12 + $13 }')
  at=$(uptime_s)
  cpu=$(awk -v t="${ticks:-0}" -v pt="$SVC_TICKS" -v a="$at" -v pa="$SVC_AT" -v hz="$CLK_TCK" \
    'BEGIN { if (pt == "" || a - pa <= 0 || t < pt) print 0; else printf "%.1f", (t - pt) / hz / (a - pa) * 100 }')
  SVC_TICKS=$ticks
  SVC_AT=$at
  rss=$(awk '/^VmRSS:/ { printf "%d", $2 * 1024 }' "/proc/$pid/status" 2>/dev/null)
  group=$(awk -F: '$1 == "0" { print $3 }' "/proc/$pid/cgroup" 2>/dev/null)
  limit=$(cat "/sys/fs/cgroup$group/memory.max" 2>/dev/null)
  case "$limit" in '' | max) limit=$(awk '/^MemTotal:/ { printf "%d", $2 * 1024 }' /proc/meminfo) ;; esac
  FIGURES=$(printf '"cpu_percent":%s,"memory_bytes":%s,"memory_limit_bytes":%s' "$cpu" "${rss:-0}" "$limit")
}

# Counts the windows scored and alarms raised in the output since the last count (flint-model prints score,flag,top_sensor).
count_scores() {
  out="$STATE/service.out"
  [ -f "$out" ] || return 0
  size=$(wc -c < "$out")
  offset=$(read_file "$STATE/score.offset" 0)
  [ "$size" -lt "$offset" ] && offset=0
  [ "$size" -gt "$offset" ] || return 0
  set -- $(tail -c +$((offset + 1)) "$out" | head -c $((size - offset)) | awk -F, '
    $1 ~ /^-?[0-9.eE+-]+$/ { n++; if ($2 == 1) a++; last = $1 }
    END { printf "%d %d %s\n", n, a, (n ? last : "-") }')
  write_file "$STATE/windows" $(( $(read_file "$STATE/windows" 0) + $1 ))
  write_file "$STATE/alarms" $(( $(read_file "$STATE/alarms" 0) + $2 ))
  [ "$3" != - ] && write_file "$STATE/last_score" "$3"
  write_file "$STATE/score.offset" "$size"
}

# The service part of a heartbeat (after count_scores and measure_service); nothing before the first install.
service_json() {
  [ -n "$(release)" ] || [ "$SVC_STATUS" != stopped ] || return 0
  started=null
  svc_pid=null
  if alive; then started=$(json_str "$(read_file "$STATE/started_at")"); svc_pid=$(service_pid); fi
  printf ',"service":{"status":"%s","deployment_id":%s,"pid":%s,"started_at":%s,"restart_count":%s,%s,"exit_code":%s,"error":%s,"windows_scored":%s,"alarms":%s,"last_score":%s}' \
    "$SVC_STATUS" "$( [ -n "$(release)" ] && json_str "$(release)" || printf null)" "$svc_pid" "$started" \
    "$(read_file "$STATE/restart_count" 0)" "$FIGURES" "$(json_num "$SVC_EXIT")" \
    "$( [ -n "$SVC_ERROR" ] && json_str "$SVC_ERROR" || printf null)" \
    "$(read_file "$STATE/windows" 0)" "$(read_file "$STATE/alarms" 0)" "$(json_num "$(read_file "$STATE/last_score")")"
}

results_json() {
  first=1
  printf ',"command_results":['
  for file in "$STATE/results"/*; do
    [ -f "$file" ] || continue
    read -r state result < "$file"
    [ $first = 1 ] || printf ','
    first=0
    printf '{"id":%s,"state":%s,"result":%s}' "$(json_str "${file##*/}")" "$(json_str "$state")" "$(json_str "$result")"
  done
  printf ']'
}

# The new lines of a file since its offset, each as "<time> <level> <line>" (agent.log lines already are).
new_lines() {
  file=$1 level=$2 key=$3
  [ -f "$file" ] || return 0
  size=$(wc -c < "$file")
  offset=$(read_file "$STATE/$key.offset" 0)
  [ "$size" -lt "$offset" ] && offset=0
  printf '%s' "$size" > "$TMP/$key.size"
  [ "$size" -gt "$offset" ] || return 0
  if [ -z "$level" ]; then
    tail -c +$((offset + 1)) "$file" | head -c $((size - offset))
  else
    stamp=$(iso)
    tail -c +$((offset + 1)) "$file" | head -c $((size - offset)) | awk -v s="$stamp" -v l="$level" '{ print s, l, $0 }'
  fi
}

# Ships what the service and the agent wrote since the last shipment (the newest FLINT_LOG_LINES lines), redacted;
# the agent's own lines come last, so after a long outage they are the ones kept.
ship_logs() {
  { new_lines "$STATE/service.out" info out; new_lines "$STATE/service.err" error err; new_lines "$STATE/agent.log" "" agent; } \
    | tail -n "$LOG_LINES" | redact > "$TMP/ship.log"
  if [ -s "$TMP/ship.log" ]; then
    code=$(http POST "/workers/$(cat "$STATE/worker_id")/logs" "$TMP/ship.log" text/plain)
    case "$code" in 2*) ;; *) return ;; esac
  fi
  for key in agent err out; do [ -f "$TMP/$key.size" ] && mv "$TMP/$key.size" "$STATE/$key.offset"; done
  # Files fully shipped and counted start again past 1 MB.
  for pair in agent.log:agent service.err:err service.out:out; do
    file="$STATE/${pair%%:*}" key=${pair##*:}
    [ -f "$file" ] || continue
    size=$(wc -c < "$file")
    if [ "$size" -gt 1048576 ] && [ "$size" = "$(read_file "$STATE/$key.offset" 0)" ] && { [ "$key" != out ] || [ "$size" = "$(read_file "$STATE/score.offset" 0)" ]; }; then
      : > "$file"
      write_file "$STATE/$key.offset" 0
      [ "$key" = out ] && write_file "$STATE/score.offset" 0
    fi
  done
}

FAILURES=0
NEXT_BEAT=0
BEAT_NOW=1

heartbeat() {
  memory=$(awk '/^MemTotal:/ { t = $2 } /^MemAvailable:/ { a = $2 } END { printf "%.1f", (t - a) * 100 / t }' /proc/meminfo)
  disk=$(df -P "$STATE" | awk 'NR == 2 { sub("%", "", $5); print $5 }')
  ls "$STATE/results" > "$TMP/sent_results"
  measure_host
  measure_service
  count_scores
  printf '{"cpu_usage_percent":%s,"memory_usage_percent":%s,"disk_usage_percent":%s%s%s}' \
    "$HOST_CPU" "$memory" "${disk:-0}" "$(service_json)" "$(results_json)" > "$TMP/heartbeat.json"
  code=$(http POST "/workers/$(cat "$STATE/worker_id")/heartbeat" "$TMP/heartbeat.json" application/json)
  case "$code" in
    200)
      FAILURES=0
      NEXT_BEAT=$(( $(now) + INTERVAL ))
      while read -r id; do rm -f "$STATE/results/$id"; done < "$TMP/sent_results"
      cp "$TMP/answer" "$TMP/tasks"
      send_confirm
      awk '$1 == "command" { print $2, $3 }' "$TMP/tasks" > "$TMP/commands"
      while read -r id type; do run_command "$id" "$type" < /dev/null; done < "$TMP/commands"
      set -- $(awk '$1 == "assignment" { print $2, $3, $4, $6 }' "$TMP/tasks")
      [ $# -eq 4 ] && install "$1" "$2" "$3" "$4" < /dev/null
      ship_logs
      ;;
    403)
      [ "${WAITING:-}" = 1 ] || log info "not approved yet ($(head -c 200 "$TMP/answer" | redact))"
      WAITING=1
      NEXT_BEAT=$(( $(now) + INTERVAL ))
      ;;
    *)
      # Offline or refused: keep the service running, buffer results and logs, back off up to 5 minutes.
      FAILURES=$((FAILURES + 1))
      wait_s=$(( INTERVAL * (1 << (FAILURES > 5 ? 5 : FAILURES)) ))
      [ "$wait_s" -gt 300 ] && wait_s=300
      NEXT_BEAT=$(( $(now) + wait_s ))
      [ "$FAILURES" -le 3 ] && log warn "heartbeat answered $code; next try in ${wait_s}s: $(head -c 300 "$TMP/answer" 2>/dev/null | redact)"
      ;;
  esac
}

# ------------------------------------------------------------ main

stop_agent() {
  log info "agent stopping"
  kill_service
  exit 0
}
trap stop_agent TERM INT

enrol
log info "flint-agent started for $(cat "$STATE/worker_id") ($API)"
alive && SVC_STATUS=running
while :; do
  supervise
  if [ "$BEAT_NOW" = 1 ] || [ "$(now)" -ge "$NEXT_BEAT" ]; then
    BEAT_NOW=0
    heartbeat
  fi
  sleep 1
done
