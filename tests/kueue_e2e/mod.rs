//! The end-to-end setup with the real Kueue and KubeRay operator (issue 17),
//! as `make e2e-up OPERATORS=1` leaves it: `target/e2e/kubeconfig` and
//! `target/e2e/operators.env` (written by `e2e/operators.sh up`). Tests drive
//! the API server with `kubectl`, each in its own namespace, and wait on API
//! state by bounded polling (no kubelet runs: Pods stay Pending).
#![allow(dead_code)] // each test binary uses a different subset

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Bound of every wait on API state (Kueue and the operator react within
/// seconds; a loaded 2-core machine is given room). Never asserted.
pub const PATIENCE: Duration = Duration::from_secs(120);
/// Pause between two polls.
const POLL: Duration = Duration::from_millis(500);

pub const QUEUE_LABEL: &str = "kueue.x-k8s.io/queue-name";
/// The LocalQueue of every test namespace, pointing at the ClusterQueue with quota.
pub const QUEUE: &str = "lq";
/// A LocalQueue pointing at the ClusterQueue without quota.
pub const EMPTY_QUEUE: &str = "lq-empty";

/// Kueue's webhook configurations as a cluster that installs Kueue has them
/// (`e2e/operators.sh kueue-webhooks`), calling only in namespaces labelled `label`.
pub fn kueue_webhooks(label: &str) -> String {
    let out =
        std::process::Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e/operators.sh"))
            .args(["kueue-webhooks", label])
            .output()
            .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub struct Cluster {
    pub kubeconfig: PathBuf,
    /// `target/e2e/operators.env`: versions, Kueue's webhook URL and CA, queue names.
    pub env: BTreeMap<String, String>,
}

fn e2e_dir() -> PathBuf {
    std::env::var_os("E2E_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/e2e"),
        PathBuf::from,
    )
}

impl Cluster {
    /// The running setup; a test without it fails, saying how to start it.
    /// (These test targets are `test = false`: `make e2e` runs them.)
    pub fn get() -> Cluster {
        let dir = e2e_dir();
        let env_file = dir.join("operators.env");
        let kubeconfig = dir.join("kubeconfig");
        let text = std::fs::read_to_string(&env_file).unwrap_or_else(|e| {
            panic!(
                "{}: {e}: Kueue and the KubeRay operator are not running (make e2e-up OPERATORS=1)",
                env_file.display()
            )
        });
        let env = text
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Cluster { kubeconfig, env }
    }

    /// A component's log as written so far (`target/e2e/logs/NAME.log`:
    /// `ray-operator`, `kueue`, `webhook`).
    pub fn log(&self, name: &str) -> String {
        let file = e2e_dir().join(format!("logs/{name}.log"));
        std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
    }

    pub fn var(&self, key: &str) -> &str {
        self.env
            .get(key)
            .unwrap_or_else(|| panic!("operators.env has no {key}"))
    }

    pub fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new("kubectl")
            .env("KUBECONFIG", &self.kubeconfig)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl runs");
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
        drop(pipe);
        child.wait_with_output().unwrap()
    }

    /// `kubectl ARGS`, which must succeed; its stdout.
    pub fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.kubectl(args, stdin);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `kubectl create -f -`: Ok(the object as the create stored it, before
    /// any controller touched it) or Err(stderr).
    pub fn create(&self, namespace: &str, yaml: &str) -> Result<Value, String> {
        let out = self.kubectl(
            &["create", "-n", namespace, "-o", "json", "-f", "-"],
            Some(yaml),
        );
        if out.status.success() {
            Ok(serde_json::from_slice(&out.stdout).unwrap())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// The object as stored, or `None` when it does not exist.
    pub fn get_json(&self, namespace: &str, resource: &str, name: &str) -> Option<Value> {
        let out = self.kubectl(
            &["get", "-n", namespace, resource, name, "-o", "json"],
            None,
        );
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).unwrap())
    }

    /// Every object of a resource in a namespace.
    pub fn list(&self, namespace: &str, resource: &str) -> Vec<Value> {
        let text = self.ok(&["get", "-n", namespace, resource, "-o", "json"], None);
        let list: Value = serde_json::from_str(&text).unwrap();
        list["items"].as_array().cloned().unwrap_or_default()
    }

    /// The Workloads whose controller owner is KIND/NAME.
    pub fn workloads_of(&self, namespace: &str, kind: &str, name: &str) -> Vec<Value> {
        self.list(namespace, "workloads.kueue.x-k8s.io")
            .into_iter()
            .filter(|w| owned_by(w, kind, name))
            .collect()
    }

    /// Waits for the one Workload of KIND/NAME.
    pub fn workload_of(&self, namespace: &str, kind: &str, name: &str) -> Value {
        wait_for(&format!("a Workload owned by {kind} {name}"), || {
            self.workloads_of(namespace, kind, name).into_iter().next()
        })
    }

    /// A namespace of its own, with the LocalQueues `lq` (quota) and
    /// `lq-empty` (none); deleted when dropped.
    pub fn namespace(&self, test: &str) -> Namespace<'_> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "{test}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        self.ok(&["create", "namespace", &name], None);
        let queues = format!(
            "apiVersion: kueue.x-k8s.io/v1beta2\nkind: LocalQueue\nmetadata: {{name: {QUEUE}}}\nspec: {{clusterQueue: {}}}\n---\n\
             apiVersion: kueue.x-k8s.io/v1beta2\nkind: LocalQueue\nmetadata: {{name: {EMPTY_QUEUE}}}\nspec: {{clusterQueue: {}}}\n",
            self.var("CLUSTER_QUEUE"),
            self.var("EMPTY_CLUSTER_QUEUE"),
        );
        self.ok(&["apply", "-n", &name, "-f", "-"], Some(&queues));
        Namespace {
            cluster: self,
            name,
        }
    }
}

pub struct Namespace<'a> {
    cluster: &'a Cluster,
    pub name: String,
}

impl Drop for Namespace<'_> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.cluster
                .kubectl(&["delete", "namespace", &self.name, "--wait=false"], None);
        }
    }
}

pub fn owned_by(object: &Value, kind: &str, name: &str) -> bool {
    object["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|owners| {
            owners.iter().any(|o| {
                o["kind"] == kind && o["name"] == name && o["controller"] == Value::Bool(true)
            })
        })
}

/// Polls `probe` until it returns `Some`, at most [`PATIENCE`].
pub fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "gave up after {PATIENCE:?} waiting for {what}"
        );
        std::thread::sleep(POLL);
    }
}

/// The status of a condition of an object (`"True"`, `"False"`), if present.
pub fn condition<'v>(object: &'v Value, kind: &str) -> Option<&'v Value> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

pub fn is_true(object: &Value, kind: &str) -> bool {
    condition(object, kind).is_some_and(|c| c["status"] == "True")
}

/// `(name, count)` of a Workload's PodSets, in order.
pub fn pod_sets(workload: &Value) -> Vec<(String, i64)> {
    workload["spec"]["podSets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["count"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// A pod template asking for a little CPU and memory (Kueue sums requests).
pub fn template(indent: usize) -> String {
    let pad = " ".repeat(indent);
    format!(
        "{pad}template:\n{pad}  spec:\n{pad}    containers:\n{pad}    - name: ray\n{pad}      image: rayproject/ray:2.46.0\n\
         {pad}      resources:\n{pad}        requests: {{cpu: 100m, memory: 128Mi}}\n"
    )
}

/// A cluster spec (`headGroupSpec` and `groups` worker groups of 2 replicas) at `indent`.
pub fn cluster_spec(indent: usize, groups: usize) -> String {
    let pad = " ".repeat(indent);
    let mut spec = format!(
        "{pad}headGroupSpec:\n{pad}  rayStartParams: {{}}\n{}",
        template(indent + 2)
    );
    if groups > 0 {
        spec += &format!("{pad}workerGroupSpecs:\n");
        for i in 0..groups {
            spec += &format!(
                "{pad}- groupName: group-{i}\n{pad}  replicas: 2\n{pad}  minReplicas: 0\n{pad}  maxReplicas: 2\n{pad}  rayStartParams: {{}}\n{}",
                template(indent + 2)
            );
        }
    }
    spec
}

/// `metadata` with the given labels and annotations.
pub fn metadata(name: &str, labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> String {
    let mut meta = format!("metadata:\n  name: {name}\n");
    if !labels.is_empty() {
        meta += "  labels:\n";
        for (k, v) in labels {
            meta += &format!("    {k}: {v:?}\n");
        }
    }
    if !annotations.is_empty() {
        meta += "  annotations:\n";
        for (k, v) in annotations {
            meta += &format!("    {k}: {v:?}\n");
        }
    }
    meta
}

pub fn raycluster(name: &str, labels: &[(&str, &str)], groups: usize) -> String {
    format!(
        "apiVersion: ray.io/v1\nkind: RayCluster\n{}spec:\n{}",
        metadata(name, labels, &[]),
        cluster_spec(2, groups)
    )
}

pub fn rayjob(name: &str, labels: &[(&str, &str)], groups: usize) -> String {
    format!(
        "apiVersion: ray.io/v1\nkind: RayJob\n{}spec:\n  entrypoint: python -c 'print(1)'\n  shutdownAfterJobFinishes: true\n  rayClusterSpec:\n{}",
        metadata(name, labels, &[]),
        cluster_spec(4, groups)
    )
}

pub fn rayservice(name: &str, labels: &[(&str, &str)], groups: usize) -> String {
    format!(
        "apiVersion: ray.io/v1\nkind: RayService\n{}spec:\n  rayClusterConfig:\n{}",
        metadata(name, labels, &[]),
        cluster_spec(4, groups)
    )
}

/// `spec.suspend` of a stored object (absent is false).
pub fn suspended(object: &Value) -> bool {
    object["spec"]["suspend"] == Value::Bool(true)
}
