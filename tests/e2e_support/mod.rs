//! The end-to-end control plane as the tests see it (`make e2e-up`, see
//! docs/e2e.md): kubectl against the real kube-apiserver, the webhook's and
//! the API server's `/metrics`, the served binary's `check`, one namespace
//! per test, bounded polling.

#![allow(dead_code)] // each test binary uses a different subset

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Upper bound of every wait (never asserted as a timing).
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The webhook names of manifests/base/webhooks.yaml end with this.
pub const WEBHOOK_DOMAIN: &str = "kueue-ray-webhook.kb.io";

pub const QUEUE_LABEL: &str = "kueue.x-k8s.io/queue-name";

/// Flags of `serve` that `check` has not (or, for `--require-local-queue`,
/// has only with `--local-queues`: [`Cluster::check_flags`]).
pub const SERVE_ONLY: &[&str] = &[
    "--shutdown-",
    "--api-access",
    "--kubeconfig",
    "--managed-namespace-selector",
    "--require-local-queue",
    "--sync-timeout",
    "--owner-read-timeout",
];

/// The running control plane: target/e2e/run/state.env written by
/// `e2e/cluster.sh up`.
pub struct Cluster {
    pub dir: PathBuf,
    pub state: BTreeMap<String, String>,
}

impl Cluster {
    /// The control plane `make e2e-up` started; a test run without one fails
    /// with what to do (these targets never run under plain `cargo test`).
    pub fn up() -> Cluster {
        let dir = std::env::var_os("E2E_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/e2e"));
        let file = dir.join("run/state.env");
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| {
            panic!(
                "no control plane ({}: {e}): run `make e2e` (or `make e2e-up` first)",
                file.display()
            )
        });
        let state = text
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
            .collect();
        Cluster { dir, state }
    }

    pub fn var(&self, name: &str) -> &str {
        self.state
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing from state.env"))
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    /// The policy flags the webhook runs with (`E2E_WEBHOOK_FLAGS`): all
    /// but [`SERVE_ONLY`] (written `--flag=value`).
    pub fn policy_flags(&self) -> Vec<String> {
        self.var("WEBHOOK_FLAGS")
            .split_whitespace()
            .filter(|flag| !SERVE_ONLY.iter().any(|serve| flag.starts_with(serve)))
            .map(String::from)
            .collect()
    }

    /// Whether the webhook decides with what the cluster holds
    /// (`--api-access`, or a `--kubeconfig`; docs/serving.md).
    pub fn api_aware(&self) -> bool {
        self.var("WEBHOOK_FLAGS")
            .split_whitespace()
            .fold(false, |aware, flag| match flag {
                "--api-access" | "--api-access=true" => true,
                "--api-access=false" => false,
                _ => aware || flag.starts_with("--kubeconfig"),
            })
    }

    /// `check`'s flags for an object in a namespace with no LocalQueue: the
    /// policy flags, and when the webhook is API-aware the same knowledge
    /// offline, `--local-queues` of an empty file (written into `dir`) and
    /// `--require-local-queue` if the webhook has it.
    pub fn check_flags(&self, dir: &Path) -> Vec<String> {
        let mut flags = self.policy_flags();
        if self.api_aware() {
            let none = dir.join("no-local-queues.yaml");
            std::fs::write(&none, "").unwrap();
            flags.push("--local-queues".into());
            flags.push(none.to_str().unwrap().into());
            if self.webhook_has("--require-local-queue") {
                flags.push("--require-local-queue".into());
            }
        }
        flags
    }

    /// Whether the webhook runs with `flag` (e.g. `--elastic-jobs`).
    pub fn webhook_has(&self, flag: &str) -> bool {
        self.var("WEBHOOK_FLAGS")
            .split_whitespace()
            .any(|f| f == flag)
    }

    /// `kubectl ARGS` (the built one, with the e2e kubeconfig), `stdin` fed.
    pub fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut command = Command::new(self.dir.join("bin/kubectl"));
        command
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .args(args);
        run(command, stdin)
    }

    /// `kubectl ARGS`, which must succeed; its stdout.
    pub fn kubectl_ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.kubectl(args, stdin);
        assert_eq!(out.code, 0, "kubectl {args:?} failed:\n{}", out.stderr);
        out.stdout
    }

    /// The object as stored, as JSON.
    pub fn get(&self, ns: &str, resource: &str, name: &str) -> Value {
        let out = self.kubectl_ok(&["-n", ns, "get", resource, name, "-o", "json"], None);
        serde_json::from_str(&out).unwrap()
    }

    /// The served binary (`E2E_WEBHOOK_BIN`, the release build) with `args`.
    pub fn webhook_binary(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut command = Command::new(self.var("WEBHOOK_BIN"));
        command.args(args).env_remove("POD_NAMESPACE");
        for (key, _) in std::env::vars() {
            if key.starts_with("KUEUE_RAY_WEBHOOK_") {
                command.env_remove(key);
            }
        }
        run(command, stdin)
    }

    /// The webhook's Prometheus text (`/metrics` on its admin listener).
    pub fn webhook_metrics(&self) -> String {
        let url = format!(
            "http://127.0.0.1:{}/metrics",
            self.var("WEBHOOK_ADMIN_PORT")
        );
        let out = run(
            {
                let mut c = Command::new("curl");
                c.args(["-fsS", &url]);
                c
            },
            None,
        );
        assert_eq!(out.code, 0, "GET {url}: {}", out.stderr);
        out.stdout
    }

    /// The API server's Prometheus text.
    pub fn apiserver_metrics(&self) -> String {
        self.kubectl_ok(&["get", "--raw", "/metrics"], None)
    }

    /// `e2e/cluster.sh COMMAND` (webhook-start, webhook-stop).
    pub fn script(&self, command: &str) -> Run {
        let mut c = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e/cluster.sh"));
        c.arg(command).env("E2E_DIR", &self.dir);
        run(c, None)
    }

    /// Restarts the registered webhook (`webhook-stop`, `webhook-start`)
    /// with `flags` as its `E2E_WEBHOOK_FLAGS`, or with `None` the flags of
    /// `make e2e-up` (state.env).
    pub fn webhook_restart(&self, flags: Option<&str>) -> Run {
        let stop = self.script("webhook-stop");
        if stop.code != 0 {
            return stop;
        }
        let mut c = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e/cluster.sh"));
        c.arg("webhook-start").env("E2E_DIR", &self.dir);
        match flags {
            Some(flags) => c.env("E2E_WEBHOOK_FLAGS", flags),
            None => c.env_remove("E2E_WEBHOOK_FLAGS"),
        };
        run(c, None)
    }

    /// The pid of the running webhook (run/webhook.pid).
    pub fn webhook_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.dir.join("run/webhook.pid")).ok()?;
        text.split_whitespace().next()?.parse().ok()
    }
}

/// Exit status, standard output and standard error of one command.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(mut command: Command, stdin: Option<&str>) -> Run {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?} does not start: {e}"));
    let mut input = child.stdin.take().unwrap();
    if let Err(error) = input.write_all(stdin.unwrap_or_default().as_bytes()) {
        assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe, "{error}");
    }
    drop(input);
    let output = child.wait_with_output().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A namespace of its own for one test, named `e2e-PREFIX-N-PID`. Never
/// deleted: no namespace controller runs, and `make e2e-down` removes all data.
pub fn namespace(cluster: &Cluster, prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "e2e-{prefix}-{}-{}",
        NEXT.fetch_add(1, Ordering::Relaxed),
        std::process::id()
    );
    cluster.kubectl_ok(&["create", "namespace", &name], None);
    name
}

/// Polls `probe` every 200 ms until it returns `Some`, at most [`PATIENCE`].
pub fn poll<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(start.elapsed() < PATIENCE, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The sum of the samples of `metric` whose labels contain every `labels`
/// pair (`key="value"`), in Prometheus text.
pub fn metric_sum(text: &str, metric: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (name_labels, value) = line.rsplit_once(' ')?;
            let (name, rest) = match name_labels.split_once('{') {
                Some((name, rest)) => (name, rest),
                None => (name_labels, ""),
            };
            if name != metric {
                return None;
            }
            labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
                .then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

/// The KubeRay samples: `../shared/samples/kuberay` (SOURCE.md) and the
/// pinned ray-operator module's `config/samples`; every `.yaml` below them.
pub fn sample_files() -> Vec<PathBuf> {
    let shared = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/samples/kuberay"
    ));
    let mut roots = vec![operator_module_dir().join("config/samples")];
    if shared.join("SOURCE.md").is_file() {
        roots.push(shared.to_path_buf());
    } else {
        assert!(
            std::env::var_os("CI").is_none(),
            "the KubeRay samples are missing: expected {}",
            shared.display()
        );
        eprintln!(
            "skipped the shared samples: not at {} (the shared/ folder beside the repository)",
            shared.display()
        );
    }
    let mut files = Vec::new();
    let mut pending = roots;
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The ray-operator module's folder, as `go mod download` verifies it
/// against e2e/assets/go.sum.
pub fn operator_module_dir() -> PathBuf {
    let mut command = Command::new("go");
    command
        .args([
            "mod",
            "download",
            "-json",
            "github.com/ray-project/kuberay/ray-operator",
        ])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e/assets"));
    let out = run(command, None);
    assert_eq!(out.code, 0, "go mod download: {}", out.stderr);
    let info: Value = serde_json::from_str(&out.stdout).unwrap();
    PathBuf::from(info["Dir"].as_str().unwrap())
}

/// The documents of a YAML stream, parsed (empty documents left out).
pub fn documents(text: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|doc| serde::Deserialize::deserialize(doc).unwrap())
        .filter(|doc: &Value| !doc.is_null())
        .collect()
}
