//! Running the built binary as a user would, and the KubeRay samples.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Exit status, standard output and standard error of one run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs `kueue-ray-webhook ARGS` in `dir` with `env` set and `stdin` (empty
/// when `None`).
pub fn run_with(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kueue-ray-webhook"))
        .args(args)
        .current_dir(dir)
        // The policy flags have environment twins: keep the caller's out.
        .env_remove("KUEUE_RAY_WEBHOOK_DEFAULT_QUEUE")
        .env_remove("KUEUE_RAY_WEBHOOK_MANAGE_JOBS_WITHOUT_QUEUE_NAME")
        .env_remove("KUEUE_RAY_WEBHOOK_MAX_WORKER_GROUPS")
        .env_remove("KUEUE_RAY_WEBHOOK_RAYSERVICE_WORKLOAD")
        .env_remove("KUEUE_RAY_WEBHOOK_KUEUE_VERSION")
        .env_remove("KUEUE_RAY_WEBHOOK_ELASTIC_JOBS")
        .env_remove("KUEUE_RAY_WEBHOOK_EXCLUDE_NAMESPACE")
        .env_remove("POD_NAMESPACE")
        .env_remove("KUEUE_RAY_WEBHOOK_RAYJOB_WORKLOAD")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut input = child.stdin.take().unwrap();
    // A run that fails on its arguments exits without reading its input.
    if let Err(error) = input.write_all(stdin.unwrap_or_default()) {
        assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe, "{error}");
    }
    drop(input);
    let output = child.wait_with_output().unwrap();
    Run {
        code: output.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

pub fn run_in(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Run {
    run_with(dir, args, &[], stdin)
}

pub fn run(args: &[&str], stdin: Option<&[u8]>) -> Run {
    run_in(Path::new(env!("CARGO_MANIFEST_DIR")), args, stdin)
}

pub fn run_env(args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Run {
    run_with(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        args,
        env,
        Some(stdin),
    )
}

/// The real KubeRay samples (`../shared/samples/kuberay`, see its SOURCE.md),
/// or `None` with the reason printed when they are absent and `CI` is unset
/// (a plain clone); in CI they are always there, and their absence fails.
pub fn samples() -> Option<PathBuf> {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/samples/kuberay"
    ));
    if dir.join("SOURCE.md").is_file() {
        return Some(dir.to_path_buf());
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "the KubeRay samples are missing: expected {} (the shared/ folder beside the repository)",
        dir.display()
    );
    eprintln!(
        "skipped: the KubeRay samples are not at {} (the shared/ folder beside the repository)",
        dir.display()
    );
    None
}

/// `value` without the `line` and `column` members that `check` adds to
/// each finding (to compare with the server's answer).
pub fn without_positions(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Array(items) => items.iter().map(without_positions).collect(),
        serde_json::Value::Object(map) => map
            .iter()
            .filter(|(key, _)| *key != "line" && *key != "column")
            .map(|(key, value)| (key.clone(), without_positions(value)))
            .collect(),
        other => other.clone(),
    }
}

/// Every YAML sample file, relative to [`samples`], sorted.
pub fn sample_files(root: &Path) -> Vec<String> {
    let root = root.to_path_buf();
    let mut files = Vec::new();
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path.strip_prefix(&root).unwrap().display().to_string());
            }
        }
    }
    files.sort();
    files
}

/// The RayCluster and RayService samples whose in-tree autoscaler is on.
pub const AUTOSCALING_SAMPLES: [&str; 4] = [
    "ray-cluster-label-selector.yaml",
    "ray-cluster.autoscaler-v2.yaml",
    "ray-cluster.autoscaler.yaml",
    "ray-service.incremental-upgrade.yaml",
];

/// The RayJob samples that a managed RayJob's rules deny, with the violated
/// paths: KubeRay's samples leave `shutdownAfterJobFinishes` unset, and
/// Kueue releases the quota only when the cluster goes away; deletion rules
/// cannot go with `shutdownAfterJobFinishes: true`.
pub const DENIED_RAYJOB_SAMPLES: [(&str, &[&str]); 3] = [
    ("ray-job.sample.yaml", &["spec.shutdownAfterJobFinishes"]),
    (
        "ray-job.sidecar-mode.yaml",
        &["spec.shutdownAfterJobFinishes"],
    ),
    (
        "ray-job.deletion-rules.yaml",
        &[
            "spec.shutdownAfterJobFinishes",
            "spec.deletionStrategy.deletionRules",
        ],
    ),
];

/// The RayJob sample that runs on an existing cluster (`clusterSelector`):
/// admitted unchanged, never suspended.
pub const EXISTING_CLUSTER_RAYJOB_SAMPLE: &str = "ray-job.use-existing-raycluster.yaml";

/// Label key Kueue reads.
pub const QUEUE_LABEL: &str = "kueue.x-k8s.io/queue-name";

/// A labelled RayCluster (its `spec:` on line 7) with one worker group.
pub const CLUSTER: &str = "\
apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: train
  labels:
    kueue.x-k8s.io/queue-name: team-a
spec:
  headGroupSpec:
    template:
      spec:
        containers: [{name: head, image: rayproject/ray}]
  workerGroupSpecs:
    - groupName: gpu
      template:
        spec:
          containers: [{name: worker, image: rayproject/ray}]
";

/// 1-based line and column where `needle` starts, searching from the
/// first line that holds `after` (the first line when empty).
pub fn position_of(text: &str, after: &str, needle: &str) -> (usize, usize) {
    let start = text.lines().position(|l| l.contains(after)).unwrap();
    for (index, line) in text.lines().enumerate().skip(start) {
        if let Some(column) = line.find(needle) {
            return (index + 1, line[..column].chars().count() + 1);
        }
    }
    panic!("{needle:?} not found after {after:?}")
}
