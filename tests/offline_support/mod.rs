//! Running the built binary as a user would, and the KubeRay samples.

#![allow(dead_code)]

use serde_json::{Value, json};
use std::collections::BTreeMap;
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

/// The real KubeRay samples (`../shared/samples/kuberay`, see its SOURCE.md).
/// A test that reads them carries
/// `#[cfg_attr(no_shared_samples, ignore = "needs ../shared/samples/kuberay")]`:
/// without them (and `CI` unset) `build.rs` sets that cfg and the test is
/// reported as ignored; when it runs (in CI, always) their absence fails it.
pub fn samples() -> PathBuf {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/samples/kuberay"
    ));
    assert!(
        dir.join("SOURCE.md").is_file(),
        "the KubeRay samples are missing: expected {} (the shared/ folder beside the repository)",
        dir.display()
    );
    dir.to_path_buf()
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

/// The RayCronJob sample: labelled, checked without --cron-runs-labelled, it
/// is unmanaged (its runs will not carry the label), with a warning at the label.
pub const CRON_SAMPLE: &str = "ray-cronjob.sample.yaml";

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

pub fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Parses a YAML stream as the test's own reference reader.
pub fn yaml_documents(text: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|doc| serde::Deserialize::deserialize(doc).unwrap())
        .filter(|value: &Value| !value.is_null())
        .collect()
}

pub fn is_ray_object(value: &Value) -> bool {
    value["apiVersion"]
        .as_str()
        .is_some_and(|v| v.starts_with("ray.io/"))
        && matches!(
            value["kind"].as_str(),
            Some("RayCluster" | "RayService" | "RayJob" | "RayCronJob")
        )
}

/// Copies every sample into `dir`, with the queue label on each RayCluster,
/// RayService, RayJob and RayCronJob, and returns how many such objects there are.
pub fn labelled_samples(samples: &Path, dir: &Path) -> usize {
    labelled_samples_with(samples, dir, |_, _| {})
}

/// [`labelled_samples`], with `edit` applied to each labelled object (and
/// the name of its file).
pub fn labelled_samples_with(samples: &Path, dir: &Path, edit: impl Fn(&str, &mut Value)) -> usize {
    let mut objects = 0;
    for file in sample_files(samples) {
        let text = std::fs::read_to_string(samples.join(&file)).unwrap();
        let name = Path::new(&file).file_name().unwrap().to_str().unwrap();
        let mut out = String::new();
        for mut value in yaml_documents(&text) {
            if is_ray_object(&value) {
                objects += 1;
                let metadata = value["metadata"].as_object_mut().unwrap();
                let labels = metadata.entry("labels").or_insert_with(|| json!({}));
                labels[QUEUE_LABEL] = json!("team-a");
                edit(name, &mut value);
            }
            out.push_str("---\n");
            out.push_str(&serde_yaml_ng::to_string(&value).unwrap());
        }
        let target = dir.join(&file);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, out).unwrap();
    }
    objects
}

/// The verdicts of a JSON report, by `file` (relative to `root`) and kind.
pub fn verdicts_by_file(report: &Value, root: &Path) -> BTreeMap<String, Vec<Value>> {
    let mut by_file: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for object in report["objects"].as_array().unwrap() {
        let file = Path::new(object["source"]["file"].as_str().unwrap());
        let file = file.strip_prefix(root).unwrap().display().to_string();
        by_file.entry(file).or_default().push(object.clone());
    }
    by_file
}

pub fn autoscaling_path(kind: &str) -> &'static str {
    match kind {
        "RayService" => "spec.rayClusterConfig.enableInTreeAutoscaling",
        _ => "spec.enableInTreeAutoscaling",
    }
}

/// The 1-based number of the first line that is not a comment or blank.
pub fn first_content_line(text: &str) -> usize {
    text.lines()
        .position(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#') && l != "---")
        .unwrap()
        + 1
}

pub const UNLABELLED: &str = "\
apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: free
spec:
  enableInTreeAutoscaling: true
";

/// One row of a by-release table: a sample file (relative to the labelled
/// folder), its denied fields under Kueue v0.19, and under v0.20 (empty:
/// admitted). A row whose two columns differ is named in docs/policy.md
/// with the reason.
pub type ByRelease = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
);

/// Writes `objects` (labelled Ray objects of the sample `file`) below `root`
/// as one YAML stream, for [`check_by_release`].
pub fn write_labelled(root: &Path, file: &str, objects: &[Value]) {
    let text: String = objects
        .iter()
        .map(|o| format!("---\n{}", serde_yaml_ng::to_string(o).unwrap()))
        .collect();
    let target = root.join(file);
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::write(target, text).unwrap();
}

/// `check --kueue-version v0.19`, then `v0.20`, over `root`, as the
/// Deployment serves (--api-access: a RayCronJob's runs carry its label):
/// one object per row, each with the verdict and the denied fields of its
/// row's column.
pub fn check_by_release(root: &Path, table: &[ByRelease]) {
    for (column, release) in ["v0.19", "v0.20"].into_iter().enumerate() {
        let flags = ["--kueue-version", release, "--cron-runs-labelled"];
        let out = run(
            &[
                &["check", "-o", "json"][..],
                &flags,
                &[root.to_str().unwrap()],
            ]
            .concat(),
            None,
        );
        assert_eq!(out.code, 1, "{release}: {}", out.stderr);
        let report = out.json();
        let objects = report["objects"].as_array().unwrap();
        assert_eq!(objects.len(), table.len(), "{release}");
        for object in objects {
            let file = object["source"]["file"].as_str().unwrap();
            let file = Path::new(file).strip_prefix(root).unwrap();
            let file = file.to_str().unwrap();
            let row = table.iter().find(|(f, _, _)| *f == file).unwrap();
            let expected = if column == 0 { row.1 } else { row.2 };
            let fields: Vec<&str> = object["violations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["path"].as_str().unwrap())
                .collect();
            assert_eq!(fields, expected, "{release} {file}");
            let verdict = if expected.is_empty() {
                "admitted"
            } else {
                "denied"
            };
            assert_eq!(object["verdict"], verdict, "{release} {file}");
        }
    }
}
