#!/usr/bin/env bash
# Kueue's controller manager and the KubeRay operator, out of cluster, against the
# e2e API server (issue 17). Called by `make e2e-up OPERATORS=1` after the API server
# is up (target/e2e/kubeconfig), and by `make e2e-down`.
#
#   e2e/operators.sh crds       install Kueue's CRDs (server-side apply), wait until Established
#   e2e/operators.sh crd-dir    print the folder of Kueue's CRDs (e2e/cluster.sh installs them always)
#   e2e/operators.sh up         crds + Kueue + KubeRay operator + queues; KUEUE_WEBHOOKS=1 also
#                               registers Kueue's own webhook configurations (the "both" setup)
#   e2e/operators.sh down       stop what `up` started (by pid), remove its state
#   e2e/operators.sh env        print the settings the tests read (target/e2e/operators.env)
#   e2e/operators.sh kueue-webhooks [LABEL]
#                               print Kueue's webhook configurations as `up` registers them
#                               (with LABEL: calling only in namespaces labelled LABEL=true)
#
# Kueue's version and the KubeRay version it runs with are pinned in e2e/kueue/go.mod and
# e2e/kuberay/go.mod (`tool` directives); e2e/build.sh builds and caches them like the API server.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
E2E=${E2E_DIR:-$ROOT/target/e2e}
RUN=$E2E/run
STATE=$RUN/operators
LOGS=$E2E/logs
KUBECONFIG=$E2E/kubeconfig
export KUBECONFIG
KUBECTL=$E2E/bin/kubectl
[[ -x $KUBECTL ]] || KUBECTL=kubectl
# Kueue reads its metrics serving pair from this fixed path when internalCertManagement is
# off (cmd/kueue/main.go); `up` writes it there and `down` removes it when `up` made it.
KUEUE_METRICS_CERTS=/etc/kueue/metrics/certs
# Bound of every wait in this script (CRDs Established, operators ready).
WAIT_SECONDS=${E2E_OPERATORS_WAIT_SECONDS:-120}
# The queues `up` creates; the tests make a LocalQueue per namespace that points at them.
CLUSTER_QUEUE=e2e-cq
EMPTY_CLUSTER_QUEUE=e2e-cq-empty

log() { echo "operators: $*" >&2; }
die() { log "$*"; exit 1; }

# bin NAME: a binary e2e/build.sh builds from the `tool` directives of e2e/*/go.mod (kueue from
# e2e/kueue, ray-operator from e2e/kuberay), cached by the hash of go.mod and go.sum.
bin() {
  local path=$E2E/bin/$1
  if [[ ! -x $path ]]; then
    "$ROOT/e2e/build.sh" >&2 || die "e2e/build.sh failed"
  fi
  [[ -x $path ]] || die "e2e/build.sh built no $path"
  echo "$path"
}

# module_dir DIR MODULE: where the Go module cache holds MODULE as DIR's go.mod pins it.
module_dir() {
  (cd "$ROOT/e2e/$1" && go mod download -json "$2" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_for() { # wait_for WHAT COMMAND...: bounded polling, once a second
  local what=$1; shift
  local deadline=$((SECONDS + WAIT_SECONDS))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "timed out after ${WAIT_SECONDS}s waiting for $what"
    sleep 1
  done
}

cmd_crds() {
  [[ -f $KUBECONFIG ]] || die "no $KUBECONFIG: run make e2e-up first"
  local dir
  dir=$(module_dir kueue sigs.k8s.io/kueue)
  # config/components/crd/bases only: the conversion-webhook patches of config/components/crd
  # would point v1beta1 <-> v1beta2 conversion at a webhook Service that does not exist here.
  "$KUBECTL" apply --server-side --force-conflicts -f "$dir/config/components/crd/bases" >/dev/null
  # By name (kueue.x-k8s.io_workloads.yaml is workloads.kueue.x-k8s.io): `wait -f FILE` compares
  # with the file's own (status-less) object and never sees the condition.
  local names=() f
  for f in "$dir"/config/components/crd/bases/kueue.x-k8s.io_*.yaml; do
    f=${f##*/kueue.x-k8s.io_}
    names+=("crd/${f%.yaml}.kueue.x-k8s.io")
  done
  "$KUBECTL" wait --for=condition=Established --timeout="${WAIT_SECONDS}s" "${names[@]}" >/dev/null
  log "Kueue CRDs installed from $dir/config/components/crd/bases"
}

# certs DIR: a CA and a serving pair for 127.0.0.1 (openssl; the files Kueue's certDir expects).
make_certs() {
  local dir=$1
  mkdir -p "$dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=e2e-kueue-ca -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
    -keyout "$dir/tls.key" -out "$dir/tls.csr" 2>/dev/null
  openssl x509 -req -in "$dir/tls.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 2 -extfile <(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n') \
    -out "$dir/tls.crt" 2>/dev/null
}

# The Configuration: the three Ray integrations, no cert management, no leader election,
# free loopback ports. ElasticJobsViaWorkloadSlices on (the elastic flows); the visibility
# server off (it would need an APIService and its own port).
write_config() {
  cat >"$STATE/kueue-config.yaml" <<EOF
apiVersion: config.kueue.x-k8s.io/v1beta2
kind: Configuration
namespace: kueue-system
health:
  healthProbeBindAddress: 127.0.0.1:$KUEUE_HEALTH_PORT
metrics:
  bindAddress: "0"
webhook:
  host: 127.0.0.1
  port: $KUEUE_WEBHOOK_PORT
  certDir: $STATE/kueue-certs
leaderElection:
  leaderElect: false
internalCertManagement:
  enable: false
integrations:
  frameworks:
  - ray.io/rayjob
  - ray.io/raycluster
  - ray.io/rayservice
featureGates:
  ElasticJobsViaWorkloadSlices: true
  VisibilityOnDemand: false
EOF
}

# Kueue's own webhook configurations (config/components/webhook/manifests.yaml), named as
# Kueue's release names them (kueue- prefix) and pointed at the local Kueue by URL; every
# other field as shipped. With LABEL, every entry also gets a namespaceSelector on
# LABEL=true, so a test can have them call only in its own namespaces.
kueue_webhooks() {
  local dir ca label=${1:-}
  dir=$(module_dir kueue sigs.k8s.io/kueue)
  ca=$(base64 -w0 <"$KUEUE_CA")
  awk -v url="$KUEUE_WEBHOOK_URL" -v ca="$ca" -v label="$label" '
    /^  name: (mutating|validating)-webhook-configuration$/ { print "  name: kueue-" $2; next }
    /^    service:$/ { inservice = 1; next }
    inservice && /^      (name|namespace):/ { next }
    inservice && /^      path:/ { print "    url: " url $2; print "    caBundle: " ca; inservice = 0; next }
    label != "" && /^  failurePolicy:/ { print; print "  namespaceSelector:"; print "    matchLabels:"; print "      " label ": \"true\""; next }
    { print }
  ' "$dir/config/components/webhook/manifests.yaml"
}

queues() {
  cat <<EOF
apiVersion: kueue.x-k8s.io/v1beta2
kind: ResourceFlavor
metadata:
  name: e2e-flavor
---
apiVersion: kueue.x-k8s.io/v1beta2
kind: ClusterQueue
metadata:
  name: $CLUSTER_QUEUE
spec:
  namespaceSelector: {}
  resourceGroups:
  - coveredResources: [cpu, memory]
    flavors:
    - name: e2e-flavor
      resources:
      - {name: cpu, nominalQuota: "1000"}
      - {name: memory, nominalQuota: 4000Gi}
---
apiVersion: kueue.x-k8s.io/v1beta2
kind: ClusterQueue
metadata:
  name: $EMPTY_CLUSTER_QUEUE
spec:
  namespaceSelector: {}
  resourceGroups:
  - coveredResources: [cpu, memory]
    flavors:
    - name: e2e-flavor
      resources:
      - {name: cpu, nominalQuota: "0"}
      - {name: memory, nominalQuota: "0"}
EOF
}

# start NAME COMMAND...: detached (its own session), output to logs/NAME.log, "pid executable"
# in run/NAME.pid as e2e/cluster.sh keeps them, so only this process is ever stopped.
start() {
  local name=$1; shift
  setsid "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
  local pid=$! exe i
  exe=$(readlink -f "$1")
  echo "$pid $exe" >"$RUN/$name.pid"
  log "$name started (pid $pid, log $LOGS/$name.log)"
  # As in e2e/cluster.sh: wait (at most 5 s) for the exec, so that live_pid
  # does not take the starting process for a gone one.
  for ((i = 0; i < 50; i++)); do
    [[ $(readlink -f "/proc/$pid/exe" 2>/dev/null) != "$exe" ]] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
}

# The pid of NAME if it still runs the executable `start` started, else nothing.
live_pid() {
  local file=$RUN/$1.pid pid exe
  [[ -f $file ]] || return 0
  read -r pid exe <"$file"
  # A rebuilt binary leaves the running one's exe as "PATH (deleted)".
  case "$(readlink "/proc/$pid/exe" 2>/dev/null)" in
    "$exe" | "$exe (deleted)") echo "$pid" ;;
  esac
}

cmd_up() {
  [[ -f $KUBECONFIG ]] || die "no $KUBECONFIG: start the API server first (make e2e-up)"
  if [[ -n $(live_pid kueue) || -n $(live_pid ray-operator) ]]; then
    die "the operators already run (pids in $RUN); make e2e-down first"
  fi
  local kueue kuberay
  kueue=$(bin kueue)
  kuberay=$(bin ray-operator)
  rm -rf "$STATE"
  mkdir -p "$STATE" "$LOGS" "$RUN"
  cmd_crds

  KUEUE_WEBHOOK_PORT=$(free_port)
  KUEUE_HEALTH_PORT=$(free_port)
  local ray_metrics ray_probe
  ray_metrics=$(free_port)
  ray_probe=$(free_port)
  make_certs "$STATE/kueue-certs"
  if [[ ! -e /etc/kueue ]]; then
    mkdir -p "$KUEUE_METRICS_CERTS" && touch "$STATE/made-etc-kueue"
  fi
  mkdir -p "$KUEUE_METRICS_CERTS"
  cp "$STATE/kueue-certs/tls.crt" "$STATE/kueue-certs/tls.key" "$KUEUE_METRICS_CERTS/"
  write_config
  "$KUBECTL" create namespace kueue-system --dry-run=client -o yaml | "$KUBECTL" apply -f - >/dev/null

  start kueue "$kueue" --config "$STATE/kueue-config.yaml" --kubeconfig "$KUBECONFIG"
  # Webhooks stay off unless ENABLE_WEBHOOKS=true (main.go); leader election off by flag;
  # the RayCronJob controller (Alpha in v1.6, off by default) on by its feature gate.
  ENABLE_WEBHOOKS=false start ray-operator "$kuberay" \
    --kubeconfig "$KUBECONFIG" --enable-leader-election=false --feature-gates=RayCronJob=true \
    --metrics-addr "127.0.0.1:$ray_metrics" --health-probe-bind-address "127.0.0.1:$ray_probe"

  wait_for "Kueue ready (127.0.0.1:$KUEUE_HEALTH_PORT/readyz)" curl -sf "http://127.0.0.1:$KUEUE_HEALTH_PORT/readyz"
  wait_for "Kueue's webhook server (127.0.0.1:$KUEUE_WEBHOOK_PORT)" \
    curl -s --cacert "$STATE/kueue-certs/ca.crt" -o /dev/null "https://127.0.0.1:$KUEUE_WEBHOOK_PORT/"
  wait_for "the KubeRay operator ready (127.0.0.1:$ray_probe/readyz)" curl -sf "http://127.0.0.1:$ray_probe/readyz"
  # Kueue's webhooks for its own objects are not registered by default, so a queue object is
  # stored as sent: retry until Kueue's caches and the CRDs serve it.
  queues >"$STATE/queues.yaml"
  wait_for "the queues" "$KUBECTL" apply -f "$STATE/queues.yaml"

  local both=${KUEUE_WEBHOOKS:-0}
  KUEUE_WEBHOOK_URL=https://127.0.0.1:$KUEUE_WEBHOOK_PORT KUEUE_CA=$STATE/kueue-certs/ca.crt
  if [[ $both == 1 ]]; then
    kueue_webhooks >"$STATE/kueue-webhooks.yaml"
    "$KUBECTL" apply -f "$STATE/kueue-webhooks.yaml" >/dev/null
    log "Kueue's webhook configurations registered (kueue-mutating-/kueue-validating-webhook-configuration)"
  fi
  cat >"$E2E/operators.env" <<EOF
KUEUE_VERSION=$(cd "$ROOT/e2e/kueue" && go list -m -f '{{.Version}}' sigs.k8s.io/kueue)
KUBERAY_VERSION=$(cd "$ROOT/e2e/kuberay" && go list -m -f '{{.Version}}' github.com/ray-project/kuberay/ray-operator)
KUEUE_WEBHOOK_URL=https://127.0.0.1:$KUEUE_WEBHOOK_PORT
KUEUE_CA=$STATE/kueue-certs/ca.crt
KUEUE_WEBHOOKS_REGISTERED=$both
CLUSTER_QUEUE=$CLUSTER_QUEUE
EMPTY_CLUSTER_QUEUE=$EMPTY_CLUSTER_QUEUE
EOF
  log "ready: settings in $E2E/operators.env"
}

cmd_down() {
  local name pid
  for name in ray-operator kueue; do
    pid=$(live_pid "$name")
    rm -f "$RUN/$name.pid"
    [[ -n $pid ]] || continue
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    log "$name stopped (pid $pid)"
  done
  [[ -f $STATE/made-etc-kueue ]] && rm -rf /etc/kueue
  rm -rf "$STATE" "$E2E/operators.env"
}

case ${1:-} in
  crds) cmd_crds ;;
  crd-dir) echo "$(module_dir kueue sigs.k8s.io/kueue)/config/components/crd/bases" ;;
  up) cmd_up ;;
  down) cmd_down ;;
  env) cat "$E2E/operators.env" ;;
  kueue-webhooks) . "$E2E/operators.env" && kueue_webhooks "${2:-}" ;;
  *) echo "usage: $0 crds|crd-dir|up|down|env|kueue-webhooks [LABEL]" >&2; exit 2 ;;
esac
