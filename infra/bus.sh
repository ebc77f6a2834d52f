#!/usr/bin/env bash
# The bus on the local AWS stack: LocalStack (and DynamoDB Local) on the host, the topology of
# template.yaml deployed to it, and every function of the template running behind the local SQS
# event source (`esign-bus run`).
#
# Usage:
#   infra/bus.sh demo    the main job: a fresh stack, the functions running, a whole envelope
#                        lifecycle published, and the e-mails SES captured printed
#   infra/bus.sh test    the tests: unit tests and the integration tests against the stack
#   infra/bus.sh up      start the stack and the functions (left running)
#   infra/bus.sh down    stop the functions and the stack; nothing is left behind
#   infra/bus.sh publish FILE   publish an event to the running local stack
#   infra/bus.sh outbox         print the e-mails and SMS the local stack captured
#   infra/bus.sh verify-sender EMAIL   make an address a verified SES sending identity
#   infra/bus.sh dlq list|redrive QUEUE ...   what is parked and why; send it back after a fix
#   infra/bus.sh replay ENVELOPE --consumer NAME ...   re-send an envelope's history
#
# Local parameters: SmsEnabled=true, so SMS can be seen in the local SNS log.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ESIGN_BUS_HOME="${ESIGN_BUS_HOME:-$HOME/.cache/esign-bus}"
RUN_DIR="$ESIGN_BUS_HOME/runners"
LOG_DIR="$ESIGN_BUS_HOME/logs"
PARAMETERS=(--parameter SmsEnabled=true)

cd "$ROOT"
log() { printf '[bus.sh] %s\n' "$*" >&2; }

# The AWS endpoint, region and test credentials of the local stack.
eval "$(bash infra/localstack.sh env)"

target_dir() {
  cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
}

# Stops every local event source started by start_runner; they stop their functions.
stop_runners() {
  local pidfile pid
  for pidfile in "$RUN_DIR"/*.pid; do
    [[ -f "$pidfile" ]] || continue
    pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  done
}

# start_runner NAME TEMPLATE STACK [ARGS...]: deploys the template as the stack and runs its
# functions behind the local event source, in the background.
start_runner() {
  local name="$1" template="$2" stack="$3"
  shift 3
  local log="$LOG_DIR/functions-$name.log" pidfile="$RUN_DIR/$name.pid"
  "$BIN/esign-bus" deploy --template "$template" --stack "$stack" "$@"
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  setsid "$BIN/esign-bus" run --template "$template" --stack "$stack" --bin-dir "$BIN" "$@" >"$log" 2>&1 &
  echo $! >"$pidfile"
  # The runner logs "polling" per queue once it is receiving.
  for _ in $(seq 100); do
    grep -q '"polling"' "$log" 2>/dev/null && break
    kill -0 "$(cat "$pidfile")" 2>/dev/null || { cat "$log" >&2; log "the functions of $template did not start"; exit 1; }
    sleep 0.1
  done
  log "functions of $template running (log: $log)"
}

# The certificate tests render PDFs with poppler's pdftoppm and pdftotext.
ensure_tools() {
  command -v pdftoppm >/dev/null 2>&1 && return 0
  log "installing poppler-utils (pdftoppm, pdftotext)"
  if [[ $(id -u) -eq 0 ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null
  fi
}

up() {
  bash infra/localstack.sh start
  log "building the functions and esign-bus (the first build takes several minutes)"
  cargo build --workspace --bins
  BIN="$(target_dir)/debug"
  stop_runners
  start_runner main template.yaml esign-bus "${PARAMETERS[@]}"
}

down() {
  stop_runners
  bash infra/localstack.sh stop
}

case "${1:-}" in
  demo)
    # A fresh stack, so the outbox holds only this run's mail.
    down
    up
    BIN="$(target_dir)/debug"
    sample=examples/lifecycle/1-envelope-sent.json
    sender="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["data"]["senderEmail"])' "$sample")"
    "$BIN/esign-bus" verify-sender "$sender"
    # A whole lifecycle: sent, viewed, the first signer signs (the second is invited), the
    # second signs; the envelope completes and its certificate goes to every party.
    "$BIN/esign-bus" publish examples/lifecycle/*.json
    "$BIN/esign-bus" outbox --expect 12 --wait-secs 60
    log "the bus is still running: publish more with 'infra/bus.sh publish <file>', read mail with 'infra/bus.sh outbox', stop it with 'infra/bus.sh down'"
    ;;
  publish | outbox | verify-sender | dlq | replay)
    # These talk to the running stack; say so plainly rather than fail on a refused connection.
    if ! bash infra/localstack.sh status >/dev/null; then
      log "the local stack is not running: start it with 'infra/bus.sh up' (or 'infra/bus.sh demo')"
      exit 1
    fi
    # A no-op when up to date; after a pull it rebuilds rather than run an old binary.
    cargo build -p bus-cli --quiet
    "$(target_dir)/debug/esign-bus" "$@"
    ;;
  test)
    ensure_tools
    up
    # The runtime's own tests use a probe function on a stack of their own.
    start_runner probe tests/template.yaml esign-bus-test
    # Nothing is left running afterwards, whether the tests pass or not.
    trap down EXIT
    out="$(mktemp)"
    status=0
    # --no-fail-fast: one failing test binary must not hide the results of the others.
    cargo test --workspace --no-fail-fast 2>&1 | tee "$out" || status=$?
    # One closing line for the whole run: cargo prints a result line per test binary.
    awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, i }' "$out"
    rm -f "$out"
    exit "$status"
    ;;
  up) up ;;
  down) down ;;
  help | -h | --help)
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
    ;;
  *)
    [[ -z "${1:-}" ]] || log "unknown command '$1'"
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
