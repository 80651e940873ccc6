#!/usr/bin/env bash
# The end-to-end control plane: etcd and kube-apiserver on loopback ports, the
# KubeRay CRDs, and the release build of the webhook registered through
# manifests/ (docs/e2e.md).
#
#   e2e/cluster.sh up             start everything (fails if already up)
#   e2e/cluster.sh down           stop what `up` started, by pid; remove its data
#   e2e/cluster.sh webhook-start  (re)start the webhook with the flags `up` used
#                                 (or E2E_WEBHOOK_FLAGS when set, for this start only)
#   e2e/cluster.sh webhook-stop   SIGTERM the webhook and wait for it to exit
#   e2e/cluster.sh logs [N]       the last N (40) lines of every component's log
#
# Layout under target/e2e/ (E2E_DIR): bin/ (the built tools, e2e/build.sh),
# run/ (pids, certificates, etcd data, the kustomize overlay, state.env),
# logs/<component>.log, kubeconfig.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${E2E_DIR:-$root/target/e2e}
run=$dir/run
logs=$dir/logs
bin=$dir/bin
kubeconfig=$dir/kubeconfig
webhook_bin=${E2E_WEBHOOK_BIN:-$root/target/release/kueue-ray-webhook}

# The webhook's policy and serving flags, besides the listeners and the
# certificate (docs/e2e.md). The tests give `check` the same policy flags.
# --api-access: as the shipped Deployment, with the identity of
# webhook_identity below.
DEFAULT_WEBHOOK_FLAGS="--kueue-version=v0.17 --default-queue=user-queue --elastic-jobs --shutdown-delay=5s --shutdown-timeout=20s --api-access"
webhook_flags=${E2E_WEBHOOK_FLAGS-$DEFAULT_WEBHOOK_FLAGS}

# Bounds of every wait (seconds).
READY_TIMEOUT=60
STOP_TIMEOUT=30

# CRD folders installed by server-side apply, then waited on until
# Established. A component that needs more CRDs appends its folder here.
crd_dirs=()

say() { echo "e2e: $*" >&2; }
die() { say "$*"; exit 1; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

kubectl() { "$bin/kubectl" --kubeconfig "$kubeconfig" "$@"; }

# The folder of a module required by e2e/assets/go.mod, as `go mod download`
# verifies it against go.sum.
module_dir() {
  (cd "$root/e2e/assets" && go mod download -json "$1") | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'
}

# ---------------------------------------------------------------- processes

# start NAME CMD...: run CMD detached (its own session, so a Ctrl-C in the
# terminal does not reach it), output to logs/NAME.log; the pid and the
# executable go to run/NAME.pid so `down` stops exactly this process.
start() {
  local name=$1; shift
  setsid "$@" >"$logs/$name.log" 2>&1 </dev/null &
  local pid=$! exe i
  exe=$(readlink -f "$1")
  echo "$pid $exe" >"$run/$name.pid"
  # Until its exec, /proc/PID/exe is this shell's or setsid's: wait for it
  # (at most 5 s) so that live_pid does not take a starting process for a
  # gone one (a restart under load failed so).
  for ((i = 0; i < 50; i++)); do
    [ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" != "$exe" ] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
}

# The pid of NAME if it is still the process `start` started, else nothing.
live_pid() {
  local file=$run/$1.pid pid exe
  [ -f "$file" ] || return 0
  read -r pid exe <"$file"
  # A binary rebuilt while it runs reads as "<path> (deleted)": still ours.
  case $(readlink "/proc/$pid/exe" 2>/dev/null) in
    "$exe" | "$exe (deleted)") echo "$pid" ;;
  esac
}

# stop NAME: SIGTERM, wait up to STOP_TIMEOUT, then SIGKILL.
stop() {
  local name=$1 pid i
  pid=$(live_pid "$name")
  rm -f "$run/$name.pid"
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  say "$name (pid $pid) did not exit in ${STOP_TIMEOUT}s after SIGTERM; SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

# wait_for WHAT NAME CMD...: poll CMD every 0.2 s until it succeeds, at most
# READY_TIMEOUT seconds; if component NAME exits first, fail at once.
wait_for() {
  local what=$1 name=$2 i; shift 2
  for ((i = 0; i < READY_TIMEOUT * 5; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    [ -n "$(live_pid "$name")" ] || { logs 20 "$name"; die "$name exited before $what"; }
    sleep 0.2
  done
  logs 20 "$name"
  die "no $what within ${READY_TIMEOUT}s"
}

logs() {
  local n=${1:-40} f; shift || true
  for f in "$logs"/*.log; do
    [ -f "$f" ] || continue
    if [ $# -gt 0 ] && [ "$(basename "$f" .log)" != "$1" ]; then continue; fi
    echo "==> $f (last $n lines) <=="
    tail -n "$n" "$f"
  done >&2
}

# ---------------------------------------------------------------- certificates

# One throwaway CA signs the API server's serving certificate, the admin's
# client certificate (group system:masters) and the webhook's serving
# certificate (for 127.0.0.1). The tests sign the webhook's rotated
# certificate with the same CA (run/pki/ca.key).
sign() { # sign NAME SUBJECT EXTENSIONS
  local pki=$run/pki
  openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -out "$pki/$1.key"
  openssl req -new -key "$pki/$1.key" -subj "$2" -out "$pki/$1.csr"
  printf '%s\n' "$3" >"$pki/$1.ext"
  openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 2 -sha256 -extfile "$pki/$1.ext" -out "$pki/$1.crt" 2>/dev/null
}

make_certs() {
  local pki=$run/pki
  mkdir -p "$pki"
  openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -out "$pki/ca.key"
  openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=kueue-ray-webhook e2e CA" -days 2 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$pki/ca.crt"
  local serving="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost"
  sign apiserver "/CN=kube-apiserver" "$serving"
  sign webhook "/CN=kueue-ray-webhook" "$serving"
  sign admin "/O=system:masters/CN=e2e-admin" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
  openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -out "$pki/sa.key"
  openssl ec -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  # The webhook reads its pair from here; a rotation rewrites these files.
  cp "$pki/webhook.crt" "$run/webhook-tls.crt"
  cp "$pki/webhook.key" "$run/webhook-tls.key"
}

# client_kubeconfig FILE CERT USER: a kubeconfig for the client certificate
# run/pki/CERT.{crt,key} (user USER) against the e2e API server.
client_kubeconfig() {
  local pki=$run/pki
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: e2e
    cluster:
      server: https://127.0.0.1:$APISERVER_PORT
      certificate-authority: $pki/ca.crt
users:
  - name: $3
    user:
      client-certificate: $pki/$2.crt
      client-key: $pki/$2.key
contexts:
  - name: e2e
    context: {cluster: e2e, user: $3}
current-context: e2e
EOF
}

write_kubeconfig() { client_kubeconfig "$kubeconfig" admin e2e-admin; }

# ---------------------------------------------------------------- components

start_etcd() {
  start etcd "$bin/etcd" --name e2e --data-dir "$run/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "e2e=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync --log-level warn
}

# envtest's flags (sigs.k8s.io/controller-runtime/pkg/internal/testing), with
# RBAC authorization and client-certificate authentication.
start_apiserver() {
  local pki=$run/pki
  start kube-apiserver "$bin/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --secure-port "$APISERVER_PORT" --advertise-address 127.0.0.1 \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" --authorization-mode RBAC \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --service-account-issuer "https://127.0.0.1:$APISERVER_PORT" \
    --disable-admission-plugins ServiceAccount --endpoint-reconciler-type none \
    --service-cluster-ip-range 10.0.0.0/24 --allow-privileged=true --cert-dir "$run/apiserver"
}

# The webhook's own identity for --api-access, as the shipped Deployment has
# it: a client certificate for the user name of the ServiceAccount that
# manifests/base's ClusterRoleBinding binds (system:serviceaccount:NS:NAME,
# which RBAC matches to that subject), in run/webhook.kubeconfig; and the
# shipped Namespace, ServiceAccount, ClusterRole and ClusterRoleBinding
# applied before the webhook starts, so that its watches sync with exactly
# the shipped rights (least privilege: tests/e2e_cluster_aware.rs).
webhook_identity() {
  local pki=$run/pki rendered subject
  rendered=$(kubectl kustomize "$root/manifests/base" | kubectl create --dry-run=client -f - -o json)
  subject=$(python3 -c '
import json, sys
text, at, objects = sys.stdin.read(), 0, []
while text[at:].strip():
    o, at = json.JSONDecoder().raw_decode(text, len(text) - len(text[at:].lstrip()))
    objects.append(o)
for o in objects:
    if o["kind"] == "ClusterRoleBinding":
        for s in o.get("subjects", []):
            if s.get("kind") == "ServiceAccount":
                print("system:serviceaccount:%s:%s" % (s["namespace"], s["name"]))
' <<<"$rendered")
  [ -n "$subject" ] && [ "$(wc -l <<<"$subject")" = 1 ] ||
    die "expected one ServiceAccount subject in manifests/base's ClusterRoleBinding, got: $subject"
  sign webhook-client "/CN=$subject" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
  client_kubeconfig "$run/webhook.kubeconfig" webhook-client "$subject"
  python3 -c '
import json, sys
text, at, objects = sys.stdin.read(), 0, []
while text[at:].strip():
    o, at = json.JSONDecoder().raw_decode(text, len(text) - len(text[at:].lstrip()))
    objects.append(o)
kinds = {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"}
items = [o for o in objects if o["kind"] in kinds]
print(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
' <<<"$rendered" | kubectl apply --server-side -f - >"$logs/rbac.log"
}

# Whether the flags turn --api-access on; then the webhook gets
# --kubeconfig run/webhook.kubeconfig, unless they name a kubeconfig.
api_aware() {
  local flag aware=0
  for flag in $webhook_flags; do
    case $flag in
      --api-access | --api-access=true | --kubeconfig | --kubeconfig=*) aware=1 ;;
      --api-access=false) aware=0 ;;
    esac
  done
  [ "$aware" = 1 ]
}

webhook_start() {
  [ -z "$(live_pid webhook)" ] || die "the webhook is already running (pid $(live_pid webhook))"
  local identity=()
  if api_aware && [[ " $webhook_flags " != *" --kubeconfig"* ]]; then
    identity=(--kubeconfig "$run/webhook.kubeconfig")
  fi
  # shellcheck disable=SC2086 # the flags are words
  start webhook "$webhook_bin" serve \
    --listen "127.0.0.1:$WEBHOOK_PORT" --admin-listen "127.0.0.1:$WEBHOOK_ADMIN_PORT" \
    --tls-cert-file "$run/webhook-tls.crt" --tls-key-file "$run/webhook-tls.key" \
    "${identity[@]}" $webhook_flags
  wait_for "webhook /readyz" webhook curl -fsS "http://127.0.0.1:$WEBHOOK_ADMIN_PORT/readyz"
}

# The project's manifests/base through an overlay that points every webhook's
# clientConfig at https://127.0.0.1:WEBHOOK_PORT<its path> instead of the
# Service, with the e2e CA as caBundle; every other field as shipped.
register_webhook() {
  local overlay=$run/overlay ca kind i path base paths
  mkdir -p "$overlay"
  base=$(realpath --relative-to="$overlay" "$root/manifests/base")
  ca=$(base64 -w0 <"$run/pki/ca.crt")
  # One line per object of the base: its kind, then each webhook's path.
  paths=$(kubectl kustomize "$root/manifests/base" | kubectl create --dry-run=client -f - \
    -o jsonpath='{.kind}{" "}{.webhooks[*].clientConfig.service.path}{"\n"}')
  {
    echo "# Written by e2e/cluster.sh: manifests/base with URL clientConfigs."
    echo "apiVersion: kustomize.config.k8s.io/v1beta1"
    echo "kind: Kustomization"
    echo "resources: [$base]"
    echo "patches:"
    for kind in MutatingWebhookConfiguration ValidatingWebhookConfiguration; do
      echo "  - target: {kind: $kind}"
      echo "    patch: |-"
      i=0
      for path in $(grep "^$kind " <<<"$paths" | cut -d' ' -f2-); do
        echo "      - {op: remove, path: /webhooks/$i/clientConfig/service}"
        echo "      - {op: add, path: /webhooks/$i/clientConfig/url, value: \"https://127.0.0.1:$WEBHOOK_PORT$path\"}"
        echo "      - {op: add, path: /webhooks/$i/clientConfig/caBundle, value: \"$ca\"}"
        i=$((i + 1))
      done
      [ "$i" -gt 0 ] || die "no $kind webhook with a service path in manifests/base"
    done
  } >"$overlay/kustomization.yaml"
  kubectl apply --server-side -k "$overlay" >"$logs/register.log"
}

install_crds() {
  local d
  for d in "${crd_dirs[@]}"; do
    kubectl apply --server-side -f "$d" >>"$logs/crds.log"
  done
  kubectl wait --for condition=Established --timeout "${READY_TIMEOUT}s" crd --all >>"$logs/crds.log"
}

# ---------------------------------------------------------------- commands

load_state() {
  [ -f "$run/state.env" ] || die "not up (no $run/state.env): run 'make e2e-up'"
  # shellcheck disable=SC1091
  . "$run/state.env"
}

up() {
  if [ -f "$run/state.env" ]; then
    local name
    for name in etcd kube-apiserver webhook; do
      [ -z "$(live_pid "$name")" ] || die "already up ($name runs, pid $(live_pid "$name")): run 'make e2e-down' first"
    done
    say "removing the data of an earlier run whose processes are gone"
    down
  fi
  [ -x "$webhook_bin" ] || die "no webhook binary at $webhook_bin (cargo build --release)"
  local name
  for name in etcd kube-apiserver kubectl; do
    [ -x "$bin/$name" ] || die "no $bin/$name: run e2e/build.sh"
  done
  local started=$SECONDS
  mkdir -p "$run" "$logs"
  rm -f "$logs"/*.log
  cat >"$run/state.env" <<EOF
ETCD_PORT=$(free_port)
ETCD_PEER_PORT=$(free_port)
APISERVER_PORT=$(free_port)
WEBHOOK_PORT=$(free_port)
WEBHOOK_ADMIN_PORT=$(free_port)
WEBHOOK_FLAGS='$webhook_flags'
WEBHOOK_BIN='$webhook_bin'
EOF
  load_state
  # On any failure below, stop what started.
  trap 'if [ $? -ne 0 ]; then say "e2e-up failed; stopping what it started"; down; fi' EXIT
  make_certs
  write_kubeconfig
  crd_dirs+=("$(module_dir github.com/ray-project/kuberay/ray-operator)/config/crd/bases")
  crd_dirs+=("$("$root/e2e/operators.sh" crd-dir)")  # Kueue's CRDs, always (e2e/kueue/README.md)
  start_etcd
  wait_for "etcd health" etcd curl -fsS "http://127.0.0.1:$ETCD_PORT/health"
  start_apiserver
  wait_for "kube-apiserver /readyz" kube-apiserver kubectl get --raw /readyz
  install_crds
  webhook_identity
  webhook_start
  register_webhook
  # Kueue and the KubeRay operator with OPERATORS=1 (e2e/operators.sh).
  if [ "${OPERATORS:-0}" = 1 ]; then "$root/e2e/operators.sh" up; fi
  trap - EXIT
  say "up in $((SECONDS - started)) s; logs in $logs/"
  echo "export KUBECONFIG=$kubeconfig"
}

down() {
  local name
  # The reverse order of `up`: nothing is left calling a stopped component.
  "$root/e2e/operators.sh" down
  for name in webhook kube-apiserver etcd; do
    stop "$name"
  done
  rm -rf "$run" "$kubeconfig"
}

case ${1:-} in
  up) up ;;
  down) down ;;
  webhook-start) load_state && webhook_bin=$WEBHOOK_BIN && webhook_flags=${E2E_WEBHOOK_FLAGS-$WEBHOOK_FLAGS} && webhook_start ;;
  webhook-stop) load_state && stop webhook ;;
  logs) logs "${2:-40}" ;;
  *) echo "usage: $0 up|down|webhook-start|webhook-stop|logs [N]" >&2; exit 2 ;;
esac
