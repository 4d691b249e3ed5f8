#!/usr/bin/env bash
# PaymentSlices load benchmark (issue 15, item 4). Run by hand, never by `dotnet test` or CI:
#
#   bash bench/run.sh            # full: 10 s a row, about 4 to 5 minutes, writes bench/RESULTS.md
#   bash bench/run.sh --quick    # 3 s a row, about 2 minutes, prints the table only
#
# It publishes the service and a bare minimal-API echo app (bench/Echo, the ceiling on this machine) in
# Release, runs each in Production on 127.0.0.1 configured by environment variables only, drives them with
# wrk (Lua scripts in bench/lua), and prints a Markdown table: req/s, p50, p99, errors, the ratio to the echo
# ceiling, the service's peak RSS, the machine and the commit. Everything it starts is stopped on exit.
# See bench/README.md for the rows and every override (BENCH_* variables).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"

QUICK=${BENCH_QUICK:-0}
for arg in "$@"; do
  case "$arg" in
    --quick|-q) QUICK=1 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "bench: unknown argument '$arg' (try --quick)" >&2; exit 2 ;;
  esac
done

if [ "$QUICK" = 1 ]; then
  DURATION=${BENCH_DURATION:-3}
  WARMUP=${BENCH_WARMUP:-1}
  RESULTS=${BENCH_RESULTS:-}            # a quick run does not overwrite RESULTS.md unless asked
else
  DURATION=${BENCH_DURATION:-10}
  WARMUP=${BENCH_WARMUP:-5}
  RESULTS=${BENCH_RESULTS:-$BENCH/RESULTS.md}
fi
THREADS=${BENCH_THREADS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
SERVICE_PORT=${BENCH_SERVICE_PORT:-5391}
ECHO_PORT=${BENCH_ECHO_PORT:-5392}
PROVIDER=${BENCH_PROVIDER:-Sqlite}
SLOW_LATENCY=${BENCH_SLOW_LATENCY:-00:00:00.200}
# The slow phase runs at least 10 s even in quick mode: its requests queue for seconds, and wrk records only
# those that finish before it stops.
SLOW_DURATION=${BENCH_SLOW_DURATION:-$((DURATION > 10 ? DURATION : 10))}
SLOW_PROBE=${BENCH_SLOW_PROBE:-orders}     # orders | refunds: what the second wrk sends during the slow load
LOG_LEVEL=${BENCH_LOG_LEVEL:-}              # empty: logging as shipped (Information, JSON lines)
MAX_SECONDS=${BENCH_MAX_SECONDS:-900}       # the whole run, whatever happens
WRK_TIMEOUT=${BENCH_WRK_TIMEOUT:-10}        # seconds before wrk counts a request as a timeout (socket error)
SLOW_WRK_TIMEOUT=${BENCH_SLOW_WRK_TIMEOUT:-30}
REF=${BENCH_REF:-}                          # a git ref to benchmark instead of the working tree (e.g. HEAD)
PROBE_P99_TARGET_MS=50
# Phase 4, PostgreSQL with one instance and with two: auto runs it when Debian's postgresql is installed.
POSTGRES=${BENCH_POSTGRES:-auto}            # auto | 1 | 0
PG_PORT=${BENCH_PG_PORT:-5393}
SECOND_PORT=${BENCH_SECOND_PORT:-5394}

STOREFRONT_KEY="sk_bench_storefront_$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
PAYMENT_SYSTEM_KEY="sk_bench_payment_system_$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
RUN_TAG="$(date +%s)-$$"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

case "$DURATION$CONNECTIONS$THREADS$WARMUP$SLOW_DURATION" in
  *[!0-9]*) die "BENCH_DURATION, BENCH_SLOW_DURATION, BENCH_CONNECTIONS, BENCH_THREADS and BENCH_WARMUP are whole numbers" ;;
esac
[ "$SLOW_DURATION" -ge 3 ] || die "BENCH_SLOW_DURATION must be at least 3"
[ "$CONNECTIONS" -ge "$THREADS" ] || die "BENCH_CONNECTIONS must be at least BENCH_THREADS"

# ---------------------------------------------------------------------------------------------- clean-up
TMP=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/paymentslices-bench.XXXXXX")
declare -a STARTED=()     # pids of the servers this script started
WATCHDOG=

stop_pid() { # pid [seconds]: SIGTERM, then SIGKILL once the grace period has passed
  local pid=$1 grace=${2:-20} i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && { log "pid $pid did not stop in ${grace}s: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; }
  wait "$pid" 2>/dev/null || true
}

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
PGDIR=
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
stop_pg_cluster() { # the throwaway cluster, if one runs: stopped and removed
  if [ -n "$PGDIR" ]; then
    as_postgres "$PG_BIN/pg_ctl" -D "$PGDIR/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$PGDIR"
    PGDIR=
  fi
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  for pid in "${STARTED[@]}"; do stop_pid "$pid" 10; done
  stop_pg_cluster
  [ -n "$WATCHDOG" ] && { kill -TERM "$WATCHDOG" 2>/dev/null || true; wait "$WATCHDOG" 2>/dev/null || true; }
  if [ "${BENCH_KEEP:-0}" = 1 ] || [ "$status" -ne 0 ]; then
    log "work files (logs, wrk output) kept in $TMP"
  else
    rm -rf "$TMP"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The whole run is bounded: past MAX_SECONDS the script is sent SIGTERM, which stops everything above.
(
  trap 'kill -TERM "$sleeper" 2>/dev/null; exit 0' TERM
  sleep "$MAX_SECONDS" & sleeper=$!
  wait "$sleeper"
  echo "[bench] time limit of ${MAX_SECONDS}s reached: stopping" >&2
  kill -TERM $$ 2>/dev/null
) &
WATCHDOG=$!

# ---------------------------------------------------------------------------------------------- tools
if ! command -v wrk >/dev/null; then
  log "wrk is missing: waiting for a running apt (up to 120 s), then apt-get install -y wrk"
  for _ in $(seq 1 120); do
    command -v wrk >/dev/null && break
    pgrep -x apt-get >/dev/null || pgrep -x apt >/dev/null || pgrep -x dpkg >/dev/null || break
    sleep 1
  done
  command -v wrk >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null || die "could not install wrk"
fi
command -v curl >/dev/null || die "curl is needed"
command -v dotnet >/dev/null || die "the .NET SDK is needed (see global.json)"

# ---------------------------------------------------------------------------------------------- provider
# A provider says how the service reaches its database (provider_env_<name>, one NAME=value a line, given a
# file stem) and which rows run against it (ROWS_<name>): SQLite (the default), or PostgreSQL on a throwaway
# cluster (BENCH_PROVIDER=PostgreSql; the cluster of phase 4, started before the main rows).
provider_env_Sqlite() { # stem
  printf '%s\n' "ConnectionStrings__PaymentSlices=Data Source=$1.db"
}
provider_describe_Sqlite() { # stem
  local fs
  fs=$(df -PT "$(dirname "$1")" | awk 'NR == 2 { print $2 " on " $1 }')
  printf 'SQLite file in %s (%s)' "$(dirname "$1")" "$fs"
}
ROWS_Sqlite=(row_get_payment row_create_payment row_create_order row_pay_order row_create_refund)
provider_env_PostgreSql() { # stem: a database of its own, named after the stem (main_bench, main_slow)
  printf '%s\n' "Database__Provider=PostgreSql" "ConnectionStrings__PaymentSlices=$(pg_database "main_$(basename "$1")")"
}
provider_describe_PostgreSql() { # stem
  printf 'PostgreSQL %s on 127.0.0.1:%s (a throwaway cluster in %s, fsync and synchronous_commit on), a pool of up to 64 connections' \
    "$PG_VERSION" "$PG_PORT" "${BENCH_TMPDIR:-/var/tmp}"
}
ROWS_PostgreSql=("${ROWS_Sqlite[@]}")
# Without BENCH_PROVIDER, PostgreSQL is also measured in a phase of its own (4., below), beside SQLite's rows, so that
# one run compares them.
declare -F "provider_env_$PROVIDER" >/dev/null || die "BENCH_PROVIDER=$PROVIDER is not a provider of the main rows (Sqlite or PostgreSql)"
rows_var="ROWS_${PROVIDER}[@]"
ROWS=("${!rows_var}")

# ---------------------------------------------------------------------------------------------- publish
publish() { # project-dir output-dir label
  log "publishing $3 (Release)"
  dotnet publish "$1" -c Release -o "$2" --artifacts-path "$TMP/build/$3" -nologo >"$TMP/publish-$3.log" 2>&1 ||
    { tail -n 30 "$TMP/publish-$3.log" >&2; die "dotnet publish of $3 failed (log above)"; }
}

if [ -n "$REF" ]; then
  COMMIT=$(git -C "$ROOT" rev-parse --short "$REF^{commit}") || die "BENCH_REF=$REF is not a commit"
  COMMIT_DESC="$COMMIT ($REF)"
  mkdir -p "$TMP/tree"
  git -C "$ROOT" archive --format=tar "$COMMIT" | tar -x -C "$TMP/tree"
  # The Scalar bundle is fetched by npm on a first build; reuse the one the working tree already has.
  [ -d "$ROOT/artifacts/scalar" ] && mkdir -p "$TMP/tree/artifacts" && cp -r "$ROOT/artifacts/scalar" "$TMP/tree/artifacts/"
  SERVICE_PROJECT="$TMP/tree/src/PaymentSlices.Api"
else
  COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
  if [ -n "$(git -C "$ROOT" status --porcelain -- src 2>/dev/null)" ]; then
    COMMIT_DESC="$COMMIT + uncommitted changes in src/"
  else
    COMMIT_DESC="$COMMIT"
  fi
  SERVICE_PROJECT="$ROOT/src/PaymentSlices.Api"
fi

SERVICE_DIR=${BENCH_SERVICE_DIR:-}
ECHO_DIR=${BENCH_ECHO_DIR:-}
if [ -z "$SERVICE_DIR" ]; then SERVICE_DIR="$TMP/service"; publish "$SERVICE_PROJECT" "$SERVICE_DIR" service; fi
if [ -z "$ECHO_DIR" ]; then ECHO_DIR="$TMP/echo"; publish "$BENCH/Echo" "$ECHO_DIR" echo; fi
[ -x "$SERVICE_DIR/PaymentSlices.Api" ] || die "no PaymentSlices.Api in $SERVICE_DIR"
[ -x "$ECHO_DIR/Echo" ] || die "no Echo in $ECHO_DIR"

# ---------------------------------------------------------------------------------------------- servers
SERVER_PID=
start_server() { # dir executable port logfile [NAME=value ...]: starts it in its folder (its content root)
  local dir=$1 exe=$2 port=$3 logfile=$4
  shift 4
  if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/"; then
    die "something already listens on 127.0.0.1:$port (set BENCH_SERVICE_PORT / BENCH_ECHO_PORT)"
  fi
  # A clean environment: only what the runtime needs and the settings given here.
  (cd "$dir" && exec env -i PATH="$PATH" HOME="$HOME" ${DOTNET_ROOT:+DOTNET_ROOT="$DOTNET_ROOT"} \
      ASPNETCORE_ENVIRONMENT=Production ASPNETCORE_URLS="http://127.0.0.1:$port" "$@" "./$exe") >"$logfile" 2>&1 &
  SERVER_PID=$!
  STARTED+=("$SERVER_PID")
  local i
  for ((i = 0; i < 600; i++)); do
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 20 "$logfile" >&2; die "$exe exited during start-up (log above)"; }
    curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$port/health/ready" && return 0
    sleep 0.1
  done
  tail -n 20 "$logfile" >&2
  die "$exe was not ready on 127.0.0.1:$port within 60 s"
}

stop_server() { # pid
  stop_pid "$1" 20
  local kept=() pid
  for pid in "${STARTED[@]}"; do [ "$pid" = "$1" ] || kept+=("$pid"); done
  STARTED=("${kept[@]}")
}

hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

SERVICE_PEAK_KB=0
note_rss() { # pid phase
  local kb
  kb=$(hwm_kb "$1")
  [ "${kb:-0}" -gt "$SERVICE_PEAK_KB" ] && SERVICE_PEAK_KB=$kb
  RSS_NOTES+=("$2: $((kb / 1024)) MiB")
}
declare -a RSS_NOTES=()

start_service() { # label stem [NAME=value ...]
  local label=$1 stem=$2
  shift 2
  local -a env=()
  mapfile -t env < <("provider_env_$PROVIDER" "$stem")
  env+=("ApiKeys__Storefront__0=$STOREFRONT_KEY" "ApiKeys__PaymentSystem__0=$PAYMENT_SYSTEM_KEY"
        "Limits__RequestsPerSecond=1000000" "Limits__Burst=1000000")
  [ -n "$LOG_LEVEL" ] && env+=("Logging__LogLevel__Default=$LOG_LEVEL")
  log "starting the service ($label) on 127.0.0.1:$SERVICE_PORT"
  start_server "$SERVICE_DIR" PaymentSlices.Api "$SERVICE_PORT" "$TMP/service-$label.log" "${env[@]}" "$@"
  SERVICE_PID=$SERVER_PID
}

SERVICE_URL="http://127.0.0.1:$SERVICE_PORT"
ECHO_URL="http://127.0.0.1:$ECHO_PORT"

api_post() { # path json -> body on stdout; fails on a non-2xx
  curl -sf --max-time 30 -X POST "$SERVICE_URL$1" -H "Authorization: Bearer $STOREFRONT_KEY" \
    -H "Content-Type: application/json" -d "$2"
}
first_id() { sed -nE 's/^\{"id":"([^"]+)".*/\1/p'; }

# ---------------------------------------------------------------------------------------------- wrk
declare -A RPS P50 P99 ERRORS NON2XX SOCKET STATUSES REQUESTS NOTE LABEL RATIO_OF
declare -a ORDER=()

parse_result() { # "RESULT name rps p50 p99 errors non2xx socket requests seconds statuses"
  local name rps p50 p99 errors non2xx socket requests statuses
  read -r _ name rps p50 p99 errors non2xx socket requests _ statuses <<<"$1"
  RPS[$name]=$rps P50[$name]=$p50 P99[$name]=$p99 ERRORS[$name]=$errors NON2XX[$name]=$non2xx SOCKET[$name]=$socket
  STATUSES[$name]=$statuses REQUESTS[$name]=$requests
}

# wrk_run name lua url [threads connections duration timeout] [NAME=value ...]: one wrk, its RESULT line parsed.
wrk_run() {
  local name=$1 lua=$2 url=$3 t=$4 c=$5 d=$6 to=$7
  shift 7
  local out="$TMP/wrk-$name.txt"
  env BENCH_NAME="$name" BENCH_KEY="$STOREFRONT_KEY" BENCH_RUN="$RUN_TAG-$name" BENCH_THREADS="$t" BENCH_LUA="$BENCH/lua" "$@" \
    timeout --kill-after=5 $((d + to + 30)) wrk -t"$t" -c"$c" -d"${d}s" --timeout "${to}s" --latency -s "$BENCH/lua/$lua" "$url" \
    >"$out" 2>&1 || { cat "$out" >&2; die "wrk failed for $name"; }
  local line
  line=$(grep -E "^RESULT $name " "$out" | tail -n 1) || { cat "$out" >&2; die "no RESULT line from wrk for $name"; }
  parse_result "$line"
  if grep -q "^EXHAUSTED $name " "$out"; then NOTE[$name]="ran out of orders: req/s understated"; fi
  log "$(printf '%-22s %9s req/s  p50 %7s ms  p99 %8s ms  errors %s' "$name" "${RPS[$name]}" "${P50[$name]}" "${P99[$name]}" "${ERRORS[$name]}")"
}

warm() { # lua url [NAME=value ...]: an unmeasured run of WARMUP seconds, so that the JIT has settled
  [ "$WARMUP" -gt 0 ] || return 0
  local lua=$1 url=$2
  shift 2
  env BENCH_NAME=warmup BENCH_KEY="$STOREFRONT_KEY" BENCH_RUN="$RUN_TAG-warm-$lua" BENCH_THREADS="$THREADS" BENCH_LUA="$BENCH/lua" "$@" \
    timeout --kill-after=5 $((WARMUP + WRK_TIMEOUT + 30)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" --timeout "${WRK_TIMEOUT}s" \
    -s "$BENCH/lua/$lua" "$url" >"$TMP/warmup-$lua.txt" 2>&1 || true
}

row() { # name label ratio-of lua url [NAME=value ...]: a measured row at the standard load
  local name=$1 label=$2 ratio_of=$3 lua=$4 url=$5
  shift 5
  ORDER+=("$name") LABEL[$name]=$label RATIO_OF[$name]=$ratio_of
  wrk_run "$name" "$lua" "$url" "$THREADS" "$CONNECTIONS" "$DURATION" "$WRK_TIMEOUT" "$@"
}

# ---------------------------------------------------------------------------------------------- rows
row_get_payment() {
  warm get-payment.lua "$SERVICE_URL" BENCH_PAYMENT_ID="$SMALL_PAYMENT"
  row get_payment 'GET /v1/payments/{id}' echo_get get-payment.lua "$SERVICE_URL" BENCH_PAYMENT_ID="$SMALL_PAYMENT"
}
row_create_payment() {
  warm create-payment.lua "$SERVICE_URL"
  row create_payment 'POST /v1/payments (tok_visa, new key)' echo_post create-payment.lua "$SERVICE_URL"
}
row_create_order() {
  warm create-order.lua "$SERVICE_URL" BENCH_IDS_OUT="$TMP/orders"
  row create_order 'POST /v1/orders (new key)' echo_post create-order.lua "$SERVICE_URL" BENCH_IDS_OUT="$TMP/orders"
}
row_pay_order() {
  # Every pay needs an order of its own: the orders made so far, topped up to 1.3 x the rate of the faster
  # write row x the duration (BENCH_ORDERS sets the number), in unmeasured runs of POST /v1/orders.
  local have need rate fill round
  have=$(cat "$TMP"/orders.* 2>/dev/null | wc -l)
  rate=$(awk -v a="${RPS[create_payment]:-0}" -v b="${RPS[create_order]:-0}" 'BEGIN { print (a > b ? a : b) }')
  need=${BENCH_ORDERS:-$(awk -v r="$rate" -v d="$DURATION" 'BEGIN { printf "%d", r * d * 1.3 + 4 * 32 }')}
  for round in 1 2 3; do
    [ "$have" -ge "$need" ] && break
    fill=$(awk -v n=$((need - have)) -v r="${RPS[create_order]:-100}" 'BEGIN { s = int(n / (r > 1 ? r : 1) * 1.1) + 1; print (s > 60 ? 60 : s) }')
    log "making orders to pay: $have made, $need needed: ${fill}s of POST /v1/orders (round $round)"
    env BENCH_NAME=fill BENCH_KEY="$STOREFRONT_KEY" BENCH_RUN="$RUN_TAG-fill$round" BENCH_THREADS="$THREADS" BENCH_LUA="$BENCH/lua" \
      BENCH_IDS_OUT="$TMP/orders" timeout --kill-after=5 $((fill + 40)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${fill}s" \
      --timeout "${WRK_TIMEOUT}s" -s "$BENCH/lua/create-order.lua" "$SERVICE_URL" >"$TMP/fill-$round.txt" 2>&1 || true
    have=$(cat "$TMP"/orders.* 2>/dev/null | wc -l)
  done
  cat "$TMP"/orders.* >"$TMP/orders.txt"
  log "paying from $have orders"
  row pay_order 'POST /v1/orders/{id}/pay (tok_visa, new key, each order once)' echo_post pay-order.lua "$SERVICE_URL" \
    BENCH_IDS_IN="$TMP/orders.txt"
}
row_create_refund() {
  warm create-refund.lua "$SERVICE_URL" BENCH_PAYMENT_ID="$LARGE_PAYMENT"
  row create_refund 'POST /v1/refunds (0.01 of a 999,999.99 payment, new key)' echo_post create-refund.lua "$SERVICE_URL" \
    BENCH_PAYMENT_ID="$LARGE_PAYMENT"
}

START_EPOCH=$(date +%s)
# How busy the cores are before a phase, over one second: the publish is over, so this is someone else's.
cpu_busy() {
  local a b
  a=$(awk '/^cpu / { print $2 + $3 + $4 + $6 + $7 + $8, $5 }' /proc/stat)
  sleep 1
  b=$(awk '/^cpu / { print $2 + $3 + $4 + $6 + $7 + $8, $5 }' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); busy = y[1] - x[1]; idle = y[2] - x[2];
    printf "%.0f", (busy + idle > 0 ? 100 * busy / (busy + idle) : 0) }'
}
declare -a BUSY_NOTES=()
check_idle() { # phase
  local busy
  busy=$(cpu_busy)
  BUSY_NOTES+=("$1 $busy%")
  [ "$busy" -le 10 ] || log "warning: the cores are $busy% busy before $1: something else runs (a build, tests?); numbers will be low"
}
# PostgreSQL: phase 4 (and the main rows with BENCH_PROVIDER=PostgreSql).
case "$POSTGRES" in
  auto) [ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] && POSTGRES=1 || POSTGRES=0 ;;
  1) [ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] || die "BENCH_POSTGRES=1 but PostgreSQL is not installed (apt-get install -y postgresql)" ;;
esac
if [ "$PROVIDER" = PostgreSql ] && { [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; }; then
  die "BENCH_PROVIDER=PostgreSql but PostgreSQL is not installed (apt-get install -y postgresql)"
fi
start_pg_cluster() { # once: initdb and start a throwaway cluster on 127.0.0.1:$PG_PORT (stopped at the end, or by cleanup)
  [ -n "$PGDIR" ] && return 0
  PGDIR=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/paymentslices-bench-pg.XXXXXX")
  [ "$(id -u)" = 0 ] && chown postgres "$PGDIR"
  log "starting PostgreSQL ($PG_BIN) on 127.0.0.1:$PG_PORT"
  as_postgres "$PG_BIN/initdb" -D "$PGDIR/data" -E UTF8 --locale=C -A trust -U postgres >"$TMP/initdb.log" 2>&1 ||
    { cat "$TMP/initdb.log" >&2; die "initdb failed"; }
  as_postgres "$PG_BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $PGDIR -c max_connections=300" start >/dev/null ||
    { cat "$PGDIR/server.log" >&2; die "PostgreSQL did not start"; }
  PG_VERSION=$("$PG_BIN/postgres" --version | awk '{ print $3 }')
}
pg_database() { # name: a new database; prints its connection string
  psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE $1" >/dev/null || die "could not create database $1"
  printf 'Host=127.0.0.1;Port=%s;Database=%s;Username=postgres;Maximum Pool Size=64' "$PG_PORT" "$1"
}
start_pg_service() { # label connection-string port
  local -a env=("Database__Provider=PostgreSql" "ConnectionStrings__PaymentSlices=$2"
    "ApiKeys__Storefront__0=$STOREFRONT_KEY" "ApiKeys__PaymentSystem__0=$PAYMENT_SYSTEM_KEY"
    "Limits__RequestsPerSecond=1000000" "Limits__Burst=1000000")
  [ -n "$LOG_LEVEL" ] && env+=("Logging__LogLevel__Default=$LOG_LEVEL")
  log "starting the service ($1, PostgreSQL) on 127.0.0.1:$3"
  start_server "$SERVICE_DIR" PaymentSlices.Api "$3" "$TMP/service-$1.log" "${env[@]}"
}
check_idle "the run"
log "rows of ${DURATION}s, wrk -t$THREADS -c$CONNECTIONS, warm-up ${WARMUP}s, provider $PROVIDER, work files in $TMP"

# 1. The ceiling: the echo app.
echo_rows() { # [_after]: starts the echo app (ECHO_PID) and measures its GET and POST rows, echo_get$1 and echo_post$1
  local suffix=${1:-}
  local again=${suffix:+, again after the service rows}
  check_idle "echo${suffix:+ again}"
  start_server "$ECHO_DIR" Echo "$ECHO_PORT" "$TMP/echo$suffix.log" "Echo__Database=$TMP/echo-durable$suffix.db" \
    "Echo__TwoPhaseDatabase=$TMP/echo-two-phase$suffix.db"
  ECHO_PID=$SERVER_PID
  warm echo-get.lua "$ECHO_URL"
  row "echo_get$suffix" "echo: GET /echo${again:- (ceiling for GETs)}" '' echo-get.lua "$ECHO_URL"
  warm echo-post.lua "$ECHO_URL"
  row "echo_post$suffix" "echo: POST /echo${again:- (ceiling for POSTs)}" '' echo-post.lua "$ECHO_URL"
}
echo_rows
# The floor under the write rows: the same body and a new key INSERTed, group-committed (DurableEcho).
warm echo-post.lua "$ECHO_URL" BENCH_ECHO_PATH=/echo/durable
row echo_durable 'echo: POST /echo/durable (one INSERT, group commit, synchronous=FULL)' echo_post echo-post.lua "$ECHO_URL" \
  BENCH_ECHO_PATH=/echo/durable
# The floor under a charge in the service's design: only the SQL a keyed charge writes, in its two group-committed turns
# with a savepoint each (TwoPhaseEcho). What the service adds to a charge is what the service costs above this row.
curl -sf --max-time 10 -o /dev/null -X POST -H 'Content-Type: application/json' -H 'Idempotency-Key: bench-preflight' \
  -d '{"amount":10.00,"currency":"USD","source":"tok_visa"}' "$ECHO_URL/echo/two-phase" \
  || die "the echo app does not answer POST /echo/two-phase (an older build in BENCH_ECHO_DIR?)"
warm echo-post.lua "$ECHO_URL" BENCH_ECHO_PATH=/echo/two-phase
row echo_two_phase "echo: POST /echo/two-phase (a charge's SQL only: two group-committed turns, savepoints)" echo_post echo-post.lua \
  "$ECHO_URL" BENCH_ECHO_PATH=/echo/two-phase
ECHO_PEAK_KB=$(hwm_kb "$ECHO_PID")
stop_server "$ECHO_PID"

# 2. The service, shipped settings.
check_idle service
[ "$PROVIDER" = PostgreSql ] && start_pg_cluster
start_service main "$TMP/bench"
SMALL_PAYMENT=$(api_post /v1/payments '{"amount":10.00,"currency":"USD","source":"tok_visa"}' | first_id)
LARGE_PAYMENT=$(api_post /v1/payments '{"amount":999999.99,"currency":"USD","source":"tok_visa"}' | first_id)
[ -n "$SMALL_PAYMENT" ] && [ -n "$LARGE_PAYMENT" ] || die "could not create the payments the rows read and refund"
note_rss "$SERVICE_PID" "after start-up"
for r in "${ROWS[@]}"; do
  "$r"
  note_rss "$SERVICE_PID" "after ${ORDER[-1]}"
done
MAIN_LOG_BYTES=$(stat -c %s "$TMP/service-main.log")
MAIN_LOG_LINES=$(wc -l <"$TMP/service-main.log")
stop_server "$SERVICE_PID"

# 2b. The ceiling again, after the service's rows. The machine's speed drifts by a fifth or more within minutes, and a
#     ratio to an echo row that ran in a slow moment flatters every row (one run's echo POST ran at 38,434 req/s, the
#     next one's at 57,472). "vs echo" divides by the faster of the two echo rows of the method.
echo_rows _after
ECHO_PEAK_KB=$(awk -v a="$ECHO_PEAK_KB" -v b="$(hwm_kb "$ECHO_PID")" 'BEGIN { print (b > a ? b : a) }')
stop_server "$ECHO_PID"

# 3. A slow processor: every processor call takes SLOW_LATENCY longer. The main load pays; a second wrk of one
#    connection creates orders (or refunds) meanwhile, and its latency is reported on its own.
check_idle "slow processor"
start_service slow "$TMP/slow" "Processor__Sandbox__Latency=$SLOW_LATENCY"
LARGE_PAYMENT=$(api_post /v1/payments '{"amount":999999.99,"currency":"USD","source":"tok_visa"}' | first_id)
note_rss "$SERVICE_PID" "slow processor, after start-up"
case "$SLOW_PROBE" in
  orders) probe_lua=create-order.lua probe_label='POST /v1/orders' ;;
  refunds) probe_lua=create-refund.lua probe_label='POST /v1/refunds (0.01)' ;;
  *) die "BENCH_SLOW_PROBE is orders or refunds" ;;
esac
ORDER+=(slow_create_payment slow_probe)
SLOW_SECONDS=$(awk -v t="$SLOW_LATENCY" 'BEGIN { n = split(t, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }')
LABEL[slow_create_payment]="POST /v1/payments, processor +${SLOW_SECONDS} s a call"
LABEL[slow_probe]="... meanwhile $probe_label on 1 connection"
RATIO_OF[slow_create_payment]='' RATIO_OF[slow_probe]=''
# The probe starts 1 s into the load and stops 1 s before it ends.
wrk_run slow_create_payment create-payment.lua "$SERVICE_URL" "$THREADS" "$CONNECTIONS" "$SLOW_DURATION" "$SLOW_WRK_TIMEOUT" &
slow_main=$!
sleep 1
probe_seconds=$((SLOW_DURATION - 2))
wrk_run slow_probe "$probe_lua" "$SERVICE_URL" 1 1 "$probe_seconds" "$SLOW_WRK_TIMEOUT" BENCH_PAYMENT_ID="$LARGE_PAYMENT"
wait "$slow_main" || die "the slow-processor load failed"
# wrk_run ran in a subshell for the main load: read its result back from its output.
parse_result "$(grep -E '^RESULT slow_create_payment ' "$TMP/wrk-slow_create_payment.txt")"
note_rss "$SERVICE_PID" "slow processor, after the load"
stop_server "$SERVICE_PID"

BOUND=$(awk -v c="$CONNECTIONS" -v s="$SLOW_SECONDS" 'BEGIN { printf "%.0f", (s > 0 ? c / s : 0) }')
ACHIEVED=$(awk -v r="${RPS[slow_create_payment]}" -v b="$BOUND" 'BEGIN { printf "%.1f", (b > 0 ? 100 * r / b : 0) }')
PROBE_MET=$(awk -v p="${P99[slow_probe]}" -v t="$PROBE_P99_TARGET_MS" 'BEGIN { print (p + 0 < t ? "met" : "missed") }')
if [ "${REQUESTS[slow_probe]}" = 0 ]; then
  # Not one answer in the probe's time: every request took longer than that.
  P50[slow_probe]="> $((probe_seconds * 1000))" P99[slow_probe]="> $((probe_seconds * 1000))" PROBE_MET=missed
  NOTE[slow_probe]="no answer at all within its ${probe_seconds}s"
elif [ "${REQUESTS[slow_probe]}" -lt 20 ]; then
  NOTE[slow_probe]="only ${REQUESTS[slow_probe]} answers in ${probe_seconds}s: the percentiles rest on those"
fi

# 4. PostgreSQL: a throwaway cluster on 127.0.0.1 (fsync and synchronous_commit on, as shipped), the service on it
#    with one instance, then with two on one database, each driven by its own wrk with half the connections (no load
#    balancer in between): their sum is the two-instance row. Every process shares the same cores.
pair_row() { # name label ratio-of lua [NAME=value ...]: two wrk at once, one per instance, each -t1 with half the connections
  local name=$1 label=$2 ratio_of=$3 lua=$4
  shift 4
  local half=$((CONNECTIONS / 2))
  warm "$lua" "$SERVICE_URL" "$@" &
  local warming=$!
  warm "$lua" "$SECOND_URL" "$@"
  wait "$warming" || true
  wrk_run "${name}_a" "$lua" "$SERVICE_URL" 1 "$half" "$DURATION" "$WRK_TIMEOUT" "$@" &
  local first=$!
  wrk_run "${name}_b" "$lua" "$SECOND_URL" 1 "$half" "$DURATION" "$WRK_TIMEOUT" "$@" || die "the second instance's load failed"
  wait "$first" || die "the first instance's load failed"
  parse_result "$(grep -E "^RESULT ${name}_a " "$TMP/wrk-${name}_a.txt")"
  ORDER+=("$name") LABEL[$name]=$label RATIO_OF[$name]=$ratio_of NOTE[$name]="sum of the two; p50 and p99 of the slower"
  RPS[$name]=$(awk -v a="${RPS[${name}_a]}" -v b="${RPS[${name}_b]}" 'BEGIN { printf "%.1f", a + b }')
  P50[$name]=$(awk -v a="${P50[${name}_a]}" -v b="${P50[${name}_b]}" 'BEGIN { print (a + 0 > b + 0 ? a : b) }')
  P99[$name]=$(awk -v a="${P99[${name}_a]}" -v b="${P99[${name}_b]}" 'BEGIN { print (a + 0 > b + 0 ? a : b) }')
  ERRORS[$name]=$((${ERRORS[${name}_a]} + ${ERRORS[${name}_b]}))
  NON2XX[$name]=$((${NON2XX[${name}_a]} + ${NON2XX[${name}_b]}))
  SOCKET[$name]=$((${SOCKET[${name}_a]} + ${SOCKET[${name}_b]}))
  REQUESTS[$name]=$((${REQUESTS[${name}_a]} + ${REQUESTS[${name}_b]}))
  STATUSES[$name]="${STATUSES[${name}_a]}"
  log "$(printf '%-22s %9s req/s (two instances)' "$name" "${RPS[$name]}")"
}
SECOND_URL="http://127.0.0.1:$SECOND_PORT"
if [ "$POSTGRES" = 1 ]; then
  check_idle "PostgreSQL"
  start_pg_cluster

  start_pg_service pg1 "$(pg_database bench_one)" "$SERVICE_PORT"
  SERVICE_PID=$SERVER_PID
  SMALL_PAYMENT=$(api_post /v1/payments '{"amount":10.00,"currency":"USD","source":"tok_visa"}' | first_id)
  [ -n "$SMALL_PAYMENT" ] || die "could not create the payment the PostgreSQL rows read"
  warm get-payment.lua "$SERVICE_URL" BENCH_PAYMENT_ID="$SMALL_PAYMENT"
  row pg1_get 'PostgreSQL, 1 instance: GET /v1/payments/{id}' echo_get get-payment.lua "$SERVICE_URL" BENCH_PAYMENT_ID="$SMALL_PAYMENT"
  warm create-payment.lua "$SERVICE_URL"
  row pg1_create_payment 'PostgreSQL, 1 instance: POST /v1/payments (tok_visa, new key)' echo_post create-payment.lua "$SERVICE_URL"
  note_rss "$SERVICE_PID" "PostgreSQL, 1 instance"
  stop_server "$SERVICE_PID"

  two=$(pg_database bench_two)
  start_pg_service pg2a "$two" "$SERVICE_PORT"
  PG_FIRST_PID=$SERVER_PID
  start_pg_service pg2b "$two" "$SECOND_PORT"
  PG_SECOND_PID=$SERVER_PID
  SMALL_PAYMENT=$(api_post /v1/payments '{"amount":10.00,"currency":"USD","source":"tok_visa"}' | first_id)
  pair_row pg2_get 'PostgreSQL, 2 instances: GET /v1/payments/{id}' echo_get get-payment.lua BENCH_PAYMENT_ID="$SMALL_PAYMENT"
  pair_row pg2_create_payment 'PostgreSQL, 2 instances: POST /v1/payments (tok_visa, new key)' echo_post create-payment.lua
  note_rss "$PG_FIRST_PID" "PostgreSQL, 2 instances (first)"
  stop_server "$PG_SECOND_PID"
  stop_server "$PG_FIRST_PID"
else
  log "PostgreSQL is not installed: its rows are skipped (apt-get install -y postgresql, or BENCH_POSTGRES=0 to silence this)"
fi
stop_pg_cluster
ELAPSED=$(($(date +%s) - START_EPOCH))

# ---------------------------------------------------------------------------------------------- report
ratio() { # name: its req/s over the faster of the two echo rows of its method (before and after the service's rows)
  local of=${RATIO_OF[$1]}
  [ -n "$of" ] || { echo "-"; return; }
  awk -v a="${RPS[$1]}" -v b="${RPS[$of]}" -v c="${RPS[${of}_after]:-0}" \
    'BEGIN { if (c > b) b = c; if (b > 0) printf "%.1f%%", 100 * a / b; else print "-" }'
}
ratio_to() { # name of
  awk -v a="${RPS[$1]:-0}" -v b="${RPS[$2]:-0}" 'BEGIN { if (b > 0) printf "%.1f%%", 100 * a / b; else print "-" }'
}
errors_cell() { # name
  local n=$1 cell=${ERRORS[$1]}
  if [ "${ERRORS[$n]}" != 0 ]; then
    cell="$cell (non-2xx ${NON2XX[$n]}"
    [ "${STATUSES[$n]}" != "-" ] && cell="$cell: ${STATUSES[$n]}"
    cell="$cell; socket ${SOCKET[$n]})"
  fi
  echo "$cell"
}

cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem_total=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
runtime=$(dotnet --list-runtimes 2>/dev/null | awk '/^Microsoft.AspNetCore.App/ { v = $2 } END { print v }')
wrk_version=$( (wrk -v 2>&1 || true) | awk 'NR == 1 { print $2 }')
if [ -n "$LOG_LEVEL" ]; then
  logging="Logging__LogLevel__Default=$LOG_LEVEL (NOT as shipped)"
else
  logging="as shipped (Information, JSON console lines, stdout to a file: $((MAIN_LOG_BYTES / 1024 / 1024)) MiB, $MAIN_LOG_LINES lines in the main phase)"
fi
mode=$([ "$QUICK" = 1 ] && echo "quick" || echo "full")

table() {
  echo "| row | req/s | p50 ms | p99 ms | errors | vs echo |"
  echo "|---|---:|---:|---:|---|---:|"
  local n label
  for n in "${ORDER[@]}"; do
    label=${LABEL[$n]}
    [ -n "${NOTE[$n]:-}" ] && label="$label (${NOTE[$n]})"
    echo "| $label | ${RPS[$n]} | ${P50[$n]} | ${P99[$n]} | $(errors_cell "$n") | $(ratio "$n") |"
  done
  echo
  echo "- Against the durable echo (${RPS[echo_durable]} req/s: the least a durable write costs here, one INSERT and a shared commit):" \
       "POST /v1/payments $(ratio_to create_payment echo_durable), POST /v1/orders $(ratio_to create_order echo_durable)," \
       "PayOrder $(ratio_to pay_order echo_durable), refunds $(ratio_to create_refund echo_durable)."
  if [ "$PROVIDER" = Sqlite ]; then
    echo "- Against the two-phase floor (${RPS[echo_two_phase]} req/s, p99 ${P99[echo_two_phase]} ms: a keyed charge's SQL and nothing" \
         "else, in the same two group-committed turns): POST /v1/payments $(ratio_to create_payment echo_two_phase)."
  fi
  echo "- Slow processor (+${SLOW_SECONDS}s a call): the connection bound is $CONNECTIONS / ${SLOW_SECONDS} s = $BOUND req/s;" \
       "POST /v1/payments achieved ${RPS[slow_create_payment]} req/s = **$ACHIEVED%** of it."
  echo "- $probe_label issued during that load: p50 ${P50[slow_probe]} ms, p99 ${P99[slow_probe]} ms" \
       "(target p99 < $PROBE_P99_TARGET_MS ms: **$PROBE_MET**)."
  echo "- Service peak RSS (VmHWM, max over phases): **$((SERVICE_PEAK_KB / 1024)) MiB** ($(IFS=';'; echo "${RSS_NOTES[*]}" | sed 's/;/; /g'));" \
       "echo app: $((ECHO_PEAK_KB / 1024)) MiB."
  if [ "$POSTGRES" = 1 ]; then
    echo "- PostgreSQL rows: PostgreSQL $PG_VERSION on 127.0.0.1 (a throwaway cluster in ${BENCH_TMPDIR:-/var/tmp}, fsync and" \
         "synchronous_commit on), \`Database__Provider=PostgreSql\`, a pool of up to 64 connections per instance. Two instances share one" \
         "database; each takes its own wrk (-t1 -c$((CONNECTIONS / 2))), with no load balancer between; the server, both instances and wrk share the cores."
  else
    if [ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ]; then
      echo "- PostgreSQL rows (phase 4): not run (BENCH_POSTGRES=0)."
    else
      echo "- PostgreSQL rows: not run (PostgreSQL is not installed here)."
    fi
  fi
  echo "- Machine: $(nproc) cores ($cpu_model), $mem_total; database: $("provider_describe_$PROVIDER" "$TMP/bench")." \
       "wrk and the server share the cores;" \
       "CPU busy before each phase (someone else's load): $(IFS=';'; echo "${BUSY_NOTES[*]}" | sed 's/;/, /g')."
  echo "- $(date -u +%Y-%m-%dT%H:%MZ), commit $COMMIT_DESC; $mode mode: wrk $wrk_version -t$THREADS -c$CONNECTIONS," \
       "${DURATION}s a row after ${WARMUP}s of warm-up (slow-processor phase ${SLOW_DURATION}s); ASP.NET Core $runtime; logging $logging; run took ${ELAPSED}s."
}

TABLE=$(table)
printf '\n%s\n' "$TABLE"

if [ -n "$RESULTS" ]; then
  {
    echo "# Benchmark results"
    echo
    echo "Produced by \`bash bench/run.sh\` (see [README.md](README.md)): the service and the bare echo app"
    echo "(\`bench/Echo\`, the ceiling on this machine) published Release and run in Production on 127.0.0.1, configured by"
    echo "environment variables only (fresh SQLite database, raised rate limits), driven by wrk with the Lua scripts in"
    echo "\`bench/lua\`. Errors are non-2xx answers plus socket errors (connect, read, write, timeout). \"vs echo\" is the"
    echo "row's req/s over the faster of the two echo rows of the same method (one before the service's rows, one after)."
    echo "**wrk and the server share the machine's $(nproc) cores**, so"
    echo "these are numbers for comparing commits on this machine, not capacity figures."
    echo
    echo "$TABLE"
  } >"$RESULTS"
  log "wrote $RESULTS"
fi
