#!/usr/bin/env bash
# The API-aware webhook's memory with many objects in its caches (issue 20;
# docs/performance.md, "API access: memory"): against a running `make e2e-up`
# (the webhook with --api-access), creates E2E_SCALE_OBJECTS (10000)
# LocalQueues and as many RayJobs (suspended through the webhook, a tiny
# spec) spread over E2E_SCALE_NAMESPACES (100) namespaces, and prints the
# webhook's RSS (VmRSS of /proc/<pid>/status) empty, with the LocalQueues,
# and with the RayJobs too, once its caches hold them
# (kueue_ray_webhook_cluster_cache_objects).
#
#   make e2e-scale        e2e-up, this script, e2e-down
#   e2e/scale.sh          against the cluster `make e2e-up` started
#
# Slow (minutes: every RayJob is a create through the webhook), so not part
# of `make test`. Every wait is bounded (WAIT seconds).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${E2E_DIR:-$root/target/e2e}
objects=${E2E_SCALE_OBJECTS:-10000}
namespaces=${E2E_SCALE_NAMESPACES:-100}
# Objects per kubectl call, and kubectl calls at once.
BATCH=500
PARALLEL=4
WAIT=600

say() { echo "e2e-scale: $*" >&2; }
die() { say "$*"; exit 1; }

[ -f "$dir/run/state.env" ] || die "not up: run 'make e2e-up' first"
# shellcheck disable=SC1091
. "$dir/run/state.env"
kubectl() { "$dir/bin/kubectl" --kubeconfig "$dir/kubeconfig" "$@"; }
read -r pid _ <"$dir/run/webhook.pid"
[ -d "/proc/$pid" ] || die "the webhook (pid $pid) is not running"
case " $WEBHOOK_FLAGS " in
  *" --api-access "*) ;;
  *) die "the webhook runs without --api-access (E2E_WEBHOOK_FLAGS): nothing to measure" ;;
esac

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"; }
cached() { # cached WATCH: the objects in that watch's cache
  curl -fsS "http://127.0.0.1:$WEBHOOK_ADMIN_PORT/metrics" |
    awk -v w="watch=\"$1\"" '$1 ~ /^kueue_ray_webhook_cluster_cache_objects\{/ && index($1, w) {print $2}'
}
# settle WATCH N: wait until the cache holds at least N, then a few seconds
# more for the allocator to settle; prints the RSS (KiB).
settle() {
  local i
  for ((i = 0; i < WAIT; i++)); do
    [ "$(cached "$1")" -ge "$2" ] 2>/dev/null && break
    sleep 1
  done
  [ "$(cached "$1")" -ge "$2" ] || die "the $1 cache holds $(cached "$1"), not $2, after ${WAIT}s"
  sleep 5
  rss_kib
}

# batch KIND FROM TO: the objects FROM..TO-1 of KIND as one List, object i
# in namespace scale-(i % namespaces).
batch() {
  python3 - "$@" "$namespaces" <<'EOF'
import json, sys
kind, start, end, spread = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
items = []
for i in range(start, end):
    meta = {"name": "%s-%d" % (kind.lower(), i), "namespace": "scale-%d" % (i % spread)}
    if kind == "LocalQueue":
        items.append({"apiVersion": "kueue.x-k8s.io/v1beta2", "kind": kind, "metadata": meta,
                      "spec": {"clusterQueue": "scale"}})
    else:
        meta["labels"] = {"kueue.x-k8s.io/queue-name": "localqueue-%d" % i}
        head = {"rayStartParams": {}, "template": {"spec": {"containers": [
            {"name": "ray-head", "image": "rayproject/ray:2.46.0"}]}}}
        items.append({"apiVersion": "ray.io/v1", "kind": kind, "metadata": meta,
                      "spec": {"entrypoint": "python -c 'print(1)'", "shutdownAfterJobFinishes": True,
                               "rayClusterSpec": {"headGroupSpec": head}}})
print(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
EOF
}

# create KIND: OBJECTS of KIND, BATCH per kubectl create, PARALLEL at once.
create() {
  local kind=$1 from running=0
  for ((from = 0; from < objects; from += BATCH)); do
    batch "$kind" "$from" "$((from + BATCH < objects ? from + BATCH : objects))" |
      kubectl create -f - -o name >/dev/null 2>>"$dir/logs/scale.log" &
    running=$((running + 1))
    if [ "$running" -ge "$PARALLEL" ]; then wait -n; running=$((running - 1)); fi
  done
  wait
}

started=$SECONDS
python3 -c '
import json, sys
n = int(sys.argv[1])
items = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "scale-%d" % i}} for i in range(n)]
print(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
' "$namespaces" | kubectl create -f - -o name >/dev/null
empty=$(settle namespaces "$namespaces")
say "webhook pid $pid: RSS ${empty} KiB with $(cached namespaces) namespaces, no LocalQueues or RayJobs"
create LocalQueue
queues=$(settle localqueues "$objects")
say "RSS ${queues} KiB with $(cached localqueues) LocalQueues ($((SECONDS - started)) s)"
create RayJob
jobs=$(settle rayjobs "$objects")
say "RSS ${jobs} KiB with $(cached rayjobs) RayJobs more ($((SECONDS - started)) s)"
echo "| state | VmRSS | per object |"
echo "|---|---|---|"
echo "| $namespaces namespaces, caches synced | $((empty / 1024)).$(((empty % 1024) * 10 / 1024)) MiB | |"
echo "| + $objects LocalQueues | $((queues / 1024)).$(((queues % 1024) * 10 / 1024)) MiB | $(((queues - empty) * 1024 / objects)) bytes |"
echo "| + $objects RayJobs | $((jobs / 1024)).$(((jobs % 1024) * 10 / 1024)) MiB | $(((jobs - queues) * 1024 / objects)) bytes |"
