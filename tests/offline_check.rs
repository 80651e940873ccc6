//! `kueue-ray-webhook check` as a CI job runs it: the built binary, real files,
//! exit codes and the three report formats.

mod offline_support;

use offline_support::{
    AUTOSCALING_SAMPLES, CLUSTER, DENIED_RAYJOB_SAMPLES, EXISTING_CLUSTER_RAYJOB_SAMPLE,
    QUEUE_LABEL, position_of, run, run_in, sample_files, samples, without_positions,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Parses a YAML stream as the test's own reference reader.
fn yaml_documents(text: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|doc| serde::Deserialize::deserialize(doc).unwrap())
        .filter(|value: &Value| !value.is_null())
        .collect()
}

fn is_ray_object(value: &Value) -> bool {
    value["apiVersion"]
        .as_str()
        .is_some_and(|v| v.starts_with("ray.io/"))
        && matches!(
            value["kind"].as_str(),
            Some("RayCluster" | "RayService" | "RayJob")
        )
}

/// Copies every sample into `dir`, with the queue label on each RayCluster,
/// RayService and RayJob, and returns how many such objects there are.
fn labelled_samples(samples: &Path, dir: &Path) -> usize {
    labelled_samples_with(samples, dir, |_, _| {})
}

/// [`labelled_samples`], with `edit` applied to each labelled object (and
/// the name of its file).
fn labelled_samples_with(samples: &Path, dir: &Path, edit: impl Fn(&str, &mut Value)) -> usize {
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
fn verdicts_by_file(report: &Value, root: &Path) -> BTreeMap<String, Vec<Value>> {
    let mut by_file: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for object in report["objects"].as_array().unwrap() {
        let file = Path::new(object["source"]["file"].as_str().unwrap());
        let file = file.strip_prefix(root).unwrap().display().to_string();
        by_file.entry(file).or_default().push(object.clone());
    }
    by_file
}

fn autoscaling_path(kind: &str) -> &'static str {
    match kind {
        "RayService" => "spec.rayClusterConfig.enableInTreeAutoscaling",
        _ => "spec.enableInTreeAutoscaling",
    }
}

#[test]
fn labelled_kuberay_samples_get_kueues_verdicts() {
    let Some(samples) = samples() else { return };
    let dir = tempfile::tempdir().unwrap();
    let ray_objects = labelled_samples(&samples, dir.path());
    let out = run(&["check", "--output", "json", path_str(dir.path())], None);
    assert_eq!(
        out.code, 1,
        "autoscaling samples are denied\n{}",
        out.stderr
    );
    let report = out.json();
    let by_file = verdicts_by_file(&report, dir.path());
    assert_eq!(by_file.values().map(Vec::len).sum::<usize>(), ray_objects);

    for (file, verdicts) in &by_file {
        let name = Path::new(file).file_name().unwrap().to_str().unwrap();
        for verdict in verdicts {
            let kind = verdict["kind"].as_str().unwrap();
            if AUTOSCALING_SAMPLES.contains(&name) {
                assert_eq!(verdict["verdict"], "denied", "{file}");
                let paths: Vec<_> = verdict["violations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v["path"].as_str().unwrap())
                    .collect();
                assert_eq!(paths, [autoscaling_path(kind)], "{file}");
                assert_eq!(verdict["patch"], json!([]), "{file}");
            } else if let Some((_, expected)) =
                DENIED_RAYJOB_SAMPLES.iter().find(|(f, _)| *f == name)
            {
                assert_eq!(verdict["verdict"], "denied", "{file}");
                let paths: Vec<_> = verdict["violations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v["path"].as_str().unwrap())
                    .collect();
                assert_eq!(paths, *expected, "{file}: {verdict}");
            } else if name == EXISTING_CLUSTER_RAYJOB_SAMPLE {
                // Not suspended: KubeRay cannot suspend a job on an existing cluster.
                assert_eq!(verdict["verdict"], "admitted", "{file}: {verdict}");
                assert_eq!(verdict["patch"], json!([]), "{file}");
                assert!(
                    verdict["warnings"][0]["message"]
                        .as_str()
                        .unwrap()
                        .contains("clusterSelector"),
                    "{file}: {verdict}"
                );
            } else if kind == "RayCluster" || kind == "RayJob" {
                let verdict = &without_positions(verdict);
                assert_eq!(verdict["verdict"], "admitted", "{file}: {verdict}");
                assert_eq!(
                    verdict["patch"],
                    json!([{"op": "add", "path": "/spec/suspend", "value": true}]),
                    "{file}"
                );
                assert!(
                    !verdict["warnings"].as_array().unwrap().is_empty(),
                    "{file}"
                );
            } else {
                // raycluster mode: the RayCluster KubeRay creates is suspended, not the RayService.
                let verdict = &without_positions(verdict);
                assert_eq!(verdict["verdict"], "admitted", "{file}: {verdict}");
                assert_eq!(verdict["patch"], json!([]), "{file}");
            }
        }
    }
    let denied = AUTOSCALING_SAMPLES.len() + DENIED_RAYJOB_SAMPLES.len();
    assert_eq!(
        report["summary"]["denied"].as_u64(),
        Some(denied as u64),
        "{report}"
    );
    assert_eq!(
        report["summary"]["admitted"].as_u64(),
        Some((ray_objects - denied) as u64)
    );
    let skipped_kinds: std::collections::BTreeSet<_> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        skipped_kinds.into_iter().collect::<Vec<_>>(),
        ["ConfigMap", "RayCronJob"]
    );
}

#[test]
fn rayservice_workload_mode_suspends_the_rayservice_itself() {
    let Some(samples) = samples() else { return };
    let dir = tempfile::tempdir().unwrap();
    labelled_samples(&samples, dir.path());
    let sample = dir.path().join("ray-service.sample.yaml");
    let out = run(
        &[
            "check",
            "-o",
            "json",
            "--rayservice-workload",
            "rayservice",
            path_str(&sample),
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = out.json();
    assert_eq!(
        without_positions(&report["objects"][0]["patch"]),
        json!([{"op": "add", "path": "/spec/rayClusterConfig/suspend", "value": true}])
    );
}

#[test]
fn unlabelled_samples_are_reported_unmanaged_not_admitted() {
    let Some(samples) = samples() else { return };
    let out = run(&["check", path_str(&samples)], None);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let objects: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with(char::is_uppercase) && !l.starts_with("SKIPPED"))
        .collect();
    assert_eq!(objects.len(), 17, "{}", out.stdout);
    assert!(
        objects.iter().all(|l| l.starts_with("UNMANAGED Ray")),
        "{}",
        out.stdout
    );
    // Each says why, on the object's first line.
    let autoscaler = samples.join("ray-cluster.autoscaler.yaml");
    let text = std::fs::read_to_string(&autoscaler).unwrap();
    let first = first_content_line(&text);
    assert!(
        out.stdout.contains(&format!(
            "    {}:{first}:1: no kueue.x-k8s.io/queue-name label and --manage-jobs-without-queue-name is off",
            autoscaler.display()
        )),
        "{}",
        out.stdout
    );
    // SOURCE.md: 11 RayClusters and RayServices, 6 RayJobs; skipped: 8
    // ConfigMaps and a RayCronJob.
    assert_eq!(
        out.stdout.lines().last(),
        Some("0 admitted, 0 denied, 17 unmanaged, 9 skipped")
    );
    assert_eq!(
        out.stdout.matches("\nSKIPPED   ").count(),
        9,
        "{}",
        out.stdout
    );

    // --require-managed: an unmanaged object fails the run.
    let out = run(&["check", "--require-managed", path_str(&samples)], None);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let out = run(&["check", "-o", "json", path_str(&samples)], None);
    let report = out.json();
    assert_eq!(report["summary"]["unmanaged"], 17);
    assert!(
        report["objects"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["verdict"] == "unmanaged" && o["message"].as_str().is_some()),
        "{report}"
    );
    assert!(
        report["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["reason"].as_str().is_some_and(|r| !r.is_empty())),
        "{report}"
    );
}

/// The 1-based number of the first line that is not a comment or blank.
fn first_content_line(text: &str) -> usize {
    text.lines()
        .position(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#') && l != "---")
        .unwrap()
        + 1
}

#[test]
fn default_queue_flag_manages_unlabelled_samples_in_text_output() {
    let Some(samples) = samples() else { return };
    let out = run(
        &["check", "--default-queue", "user-queue", path_str(&samples)],
        None,
    );
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stdout.lines().last(),
        Some("10 admitted, 7 denied, 0 unmanaged, 9 skipped")
    );
    let autoscaler = out
        .stdout
        .lines()
        .find(|l| l.contains("ray-cluster.autoscaler.yaml#0"))
        .unwrap();
    assert!(
        autoscaler.starts_with("DENIED    RayCluster default/raycluster-autoscaler ("),
        "{autoscaler}"
    );
    // Each finding on the line (and column) of its field in the sample.
    let file = samples.join("ray-cluster.autoscaler.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let (line, column) = position_of(&text, "", "enableInTreeAutoscaling:");
    assert!(
        out.stdout.contains(&format!(
            "    {}:{line}:{column}: spec.enableInTreeAutoscaling: ",
            file.display()
        )),
        "{}",
        out.stdout
    );
    let file = samples.join("ray-cluster.sample.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let (spec, _) = position_of(&text, "", "spec:");
    let (metadata, _) = position_of(&text, "", "metadata:");
    let file = file.display();
    for expected in [
        format!("    {file}:{spec}:1: add /spec/suspend true\n"),
        format!(
            "    {file}:{metadata}:1: add /metadata/labels/kueue.x-k8s.io~1queue-name \"user-queue\"\n"
        ),
        format!("    {file}:{spec}:1: warning: set spec.suspend=true: "),
    ] {
        assert!(out.stdout.contains(&expected), "{expected}\n{}", out.stdout);
    }
}

#[test]
fn manage_jobs_without_queue_name_suspends_without_a_label() {
    let Some(samples) = samples() else { return };
    let sample = samples.join("ray-cluster.sample.yaml");
    let out = run(
        &[
            "check",
            "-o",
            "json",
            "--manage-jobs-without-queue-name",
            path_str(&sample),
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        without_positions(&out.json()["objects"][0]["patch"]),
        json!([{"op": "add", "path": "/spec/suspend", "value": true}])
    );
}

#[test]
fn standard_input_is_read_with_dash() {
    let out = run(&["check", "-n", "ml", "-"], Some(CLUSTER.as_bytes()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "ADMITTED  RayCluster ml/train (-#0)\n    -:7:1: add /spec/suspend true\n    \
         -:7:1: warning: set spec.suspend=true: Kueue starts this RayCluster when LocalQueue \"team-a\" admits it\n\
         1 admitted, 0 denied, 0 unmanaged, 0 skipped\n"
    );
}

#[test]
fn the_manifest_namespace_wins_over_the_flag() {
    let manifest = CLUSTER.replace("  name: train\n", "  name: train\n  namespace: research\n");
    let out = run(
        &["check", "-n", "ml", "-o", "json", "-"],
        Some(manifest.as_bytes()),
    );
    assert_eq!(out.json()["objects"][0]["namespace"], "research");
}

#[test]
fn malformed_yaml_is_exit_2_naming_file_and_document_with_no_verdict() {
    let dir = tempfile::tempdir().unwrap();
    // Document 0 is a good cluster: its verdict must not be printed.
    let text = format!("{CLUSTER}---\nkind: RayCluster\nmetadata: {{name: [broken\n");
    std::fs::write(dir.path().join("bad.yaml"), text).unwrap();
    for format in ["text", "json", "junit"] {
        let out = run_in(dir.path(), &["check", "-o", format, "bad.yaml"], None);
        assert_eq!(out.code, 2, "{format}");
        assert_eq!(out.stdout, "", "{format}: no partial report");
        assert!(
            out.stderr.contains("cannot parse bad.yaml:20:"),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains(", document 1: "), "{}", out.stderr);
    }
}

#[test]
fn a_bad_file_after_good_ones_still_prints_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), CLUSTER).unwrap();
    std::fs::write(dir.path().join("b.json"), "{\"kind\": ").unwrap();
    let out = run_in(dir.path(), &["check", "."], None);
    assert_eq!(out.code, 2);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("cannot parse ./b.json:1:"),
        "{}",
        out.stderr
    );
}

#[test]
fn finding_nothing_to_check_is_exit_2_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty.yaml"), "").unwrap();
    std::fs::write(dir.path().join("comments.yml"), "# nothing\n---\n---\n").unwrap();
    std::fs::write(
        dir.path().join("web.yaml"),
        "apiVersion: v1\nkind: Service\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("empty-dir")).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "kind: RayCluster\n").unwrap();
    for args in [
        vec!["check", "."],
        vec!["check", "empty-dir"],
        vec!["check", "-o", "json", "."],
        vec!["check", "-"],
    ] {
        let out = run_in(dir.path(), &args, Some(b""));
        assert_eq!((out.code, out.stdout.as_str()), (2, ""), "{args:?}");
        assert!(
            out.stderr.contains("no ray.io object found in ")
                && out.stderr.contains("--allow-empty"),
            "{args:?}: {}",
            out.stderr
        );
    }
    let out = run_in(dir.path(), &["check", "--allow-empty", "."], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .ends_with("0 admitted, 0 denied, 0 unmanaged, 1 skipped\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("SKIPPED   Service (./web.yaml#0): not a ray.io object\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_directory_of_other_documents_is_all_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("apps/web");
    std::fs::create_dir_all(&nested).unwrap();
    std::fs::write(
        nested.join("deploy.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("job.json"),
        r#"{"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}}"#,
    )
    .unwrap();
    // Not a manifest name: not read at all (it would not parse).
    std::fs::write(dir.path().join("notes.txt"), "kind: [").unwrap();
    // No ray.io object: only --allow-empty lets the run pass.
    let out = run_in(dir.path(), &["check", "-o", "json", "."], None);
    assert_eq!((out.code, out.stdout.as_str()), (2, ""), "{}", out.stderr);
    let out = run_in(
        dir.path(),
        &["check", "-o", "json", "--allow-empty", "."],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = out.json();
    assert_eq!(
        report["summary"],
        json!({"admitted": 0, "denied": 0, "unmanaged": 0, "skipped": 3})
    );
    let reasons: Vec<&str> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "not a ray.io object",
            "not a ray.io object",
            "not a ray.io object"
        ]
    );
    let sources: Vec<String> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{}#{}",
                s["source"]["file"].as_str().unwrap(),
                s["source"]["document"]
            )
        })
        .collect();
    assert_eq!(
        sources,
        [
            "./apps/web/deploy.yaml#0",
            "./apps/web/deploy.yaml#1",
            "./job.json#0"
        ]
    );
}

#[test]
fn lists_and_json_files_are_admitted_item_by_item() {
    let dir = tempfile::tempdir().unwrap();
    let cluster: Value = serde_yaml_ng::from_str(CLUSTER).unwrap();
    let mut autoscaling = cluster.clone();
    autoscaling["metadata"]["name"] = json!("scaling");
    autoscaling["spec"]["enableInTreeAutoscaling"] = json!(true);
    let list = json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, cluster, autoscaling]});
    std::fs::write(dir.path().join("list.json"), list.to_string()).unwrap();
    let out = run_in(dir.path(), &["check", "list.json"], None);
    assert_eq!(out.code, 1);
    let verdicts: Vec<&str> = out.stdout.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(
        verdicts,
        [
            "ADMITTED  RayCluster default/train (list.json#0.items[1])",
            "DENIED    RayCluster default/scaling (list.json#0.items[2])",
            "SKIPPED   ConfigMap (list.json#0.items[0]): not a ray.io object",
            "1 admitted, 1 denied, 0 unmanaged, 1 skipped",
        ]
    );
}

#[test]
fn junit_report_has_one_case_per_object_and_a_failure_per_denial() {
    let Some(samples) = samples() else { return };
    let out = run(
        &[
            "check",
            "-o",
            "junit",
            "--default-queue",
            "q",
            path_str(&samples),
        ],
        None,
    );
    assert_eq!(out.code, 1);
    let report = quick_junit::Report::deserialize_from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JUnit XML: {e}\n{}", out.stdout));
    // 17 Ray objects and the 9 skipped documents, each with its reason.
    assert_eq!(report.tests, 26);
    assert_eq!(report.failures, 7);
    let suite = &report.test_suites[0];
    assert_eq!(suite.skipped, 9);
    let failed: Vec<String> = suite
        .test_cases
        .iter()
        .filter(|case| matches!(case.status, quick_junit::TestCaseStatus::NonSuccess { .. }))
        .map(|case| {
            case.classname
                .as_ref()
                .unwrap()
                .as_str()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    let mut expected: Vec<String> = AUTOSCALING_SAMPLES
        .iter()
        .chain(DENIED_RAYJOB_SAMPLES.iter().map(|(f, _)| f))
        .map(|f| format!("{f}#0"))
        .collect();
    expected.sort();
    let mut failed_sorted = failed.clone();
    failed_sorted.sort();
    assert_eq!(failed_sorted, expected);
}

#[test]
fn patched_objects_are_what_the_patch_makes_and_are_stable() {
    let Some(samples) = samples() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("patched");
    let input = path_str(&samples).to_owned();
    let out = run(
        &[
            "check",
            "--default-queue",
            "q",
            "--patched",
            path_str(&out_dir),
            &input,
        ],
        None,
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let mut names: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    // Admitted objects only; the two copies of rayservice-sample keep apart.
    assert_eq!(
        names,
        [
            "default.raycluster.custom-head-svc.yaml",
            "default.raycluster.raycluster-complete.yaml",
            "default.raycluster.raycluster-heterogeneous.yaml",
            "default.raycluster.raycluster-kuberay.yaml",
            "default.raycluster.raycluster-tpu-v6e-multihost.yaml",
            "default.rayjob.rayjob-sample-.yaml",
            "default.rayjob.rayjob-sample-shutdown.yaml",
            "default.rayjob.rayjob-use-existing-raycluster.yaml",
            "default.rayservice.rayservice-sample-2.yaml",
            "default.rayservice.rayservice-sample.yaml",
        ]
    );
    let patched =
        std::fs::read_to_string(out_dir.join("default.raycluster.raycluster-kuberay.yaml"))
            .unwrap();
    assert!(patched.starts_with("---\n# source: "), "{patched}");
    let object = &yaml_documents(&patched)[0];
    let original =
        &yaml_documents(&std::fs::read_to_string(samples.join("ray-cluster.sample.yaml")).unwrap())
            [0];
    let mut expected = original.clone();
    expected["metadata"]["labels"] = json!({QUEUE_LABEL: "q"});
    expected["metadata"]["namespace"] = json!("default");
    expected["spec"]["suspend"] = json!(true);
    assert_eq!(object, &expected);

    // The webhook on its own output changes nothing.
    let again = run(&["check", "--default-queue", "q", path_str(&out_dir)], None);
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert!(
        again
            .stdout
            .ends_with("10 admitted, 0 denied, 0 unmanaged, 0 skipped\n"),
        "{}",
        again.stdout
    );
    assert_eq!(
        again.stdout.matches(": unchanged\n").count(),
        10,
        "{}",
        again.stdout
    );
}

#[test]
fn patched_to_stdout_moves_the_report_to_stderr() {
    let out = run(&["check", "--patched", "-", "-"], Some(CLUSTER.as_bytes()));
    assert_eq!(out.code, 0);
    assert!(
        out.stderr
            .ends_with("1 admitted, 0 denied, 0 unmanaged, 0 skipped\n"),
        "{}",
        out.stderr
    );
    let objects = yaml_documents(&out.stdout);
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[0]["spec"]["suspend"], true);
    assert_eq!(objects[0]["metadata"]["namespace"], "default");
}

#[test]
fn usage_errors_exit_2() {
    let bad = [
        vec!["check"],
        vec!["check", "--output", "xml", "-"],
        vec!["check", "/nonexistent/manifests"],
        vec!["check", "--default-queue", "Not_A_Queue", "-"],
        vec!["check", "--max-worker-groups", "many", "-"],
        vec!["check", "--require-local-queue", "-"],
        vec!["check", "--max-file-size", "-1", "-"],
    ];
    for args in bad {
        let out = run(&args, Some(CLUSTER.as_bytes()));
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert_eq!(out.stdout, "", "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
}

#[test]
fn policy_flags_have_environment_twins() {
    let out = offline_support::run_env(
        &["check", "-o", "json", "-"],
        &[("KUEUE_RAY_WEBHOOK_MAX_WORKER_GROUPS", "0")],
        CLUSTER.as_bytes(),
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(
        out.json()["objects"][0]["violations"][0]["path"],
        "spec.workerGroupSpecs"
    );
}

#[test]
fn v1alpha1_objects_are_admitted_like_v1() {
    let manifest = CLUSTER.replace("ray.io/v1\n", "ray.io/v1alpha1\n");
    let out = run(&["check", "-o", "json", "-"], Some(manifest.as_bytes()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let verdict = &out.json()["objects"][0];
    assert_eq!(verdict["apiVersion"], "ray.io/v1alpha1");
    assert_eq!(
        without_positions(&verdict["patch"]),
        json!([{"op": "add", "path": "/spec/suspend", "value": true}])
    );
}

#[test]
fn the_json_report_names_every_knob_and_where_it_came_from() {
    let out = offline_support::run_env(
        &[
            "check",
            "--kueue-version",
            "v0.19",
            "--max-worker-groups",
            "9",
            "-o",
            "json",
            "-",
        ],
        &[
            ("KUEUE_RAY_WEBHOOK_EXCLUDE_NAMESPACE", "ci,tools"),
            ("KUEUE_RAY_WEBHOOK_MULTIKUEUE_RAY_AUTOSCALING", "true"),
        ],
        CLUSTER.as_bytes(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stderr, "");
    let knob = |name: &str, value: &str, source: &str| json!({"name": name, "value": value, "source": source});
    assert_eq!(
        out.json()["policy"],
        json!([
            knob("kueue-version", "v0.19", "flag"),
            knob("max-worker-groups", "9", "flag"),
            knob("default-queue", "none", "default"),
            knob("manage-jobs-without-queue-name", "false", "default"),
            knob("rayservice-workload", "rayservice", "profile"),
            knob("rayjob-workload", "rayjob", "default"),
            knob("elastic-jobs", "true", "profile"),
            knob("exclude-namespace", "ci,tools", "environment"),
            knob("multikueue-ray-autoscaling", "true", "environment"),
        ])
    );
}

#[test]
fn a_release_newer_than_the_table_is_checked_with_its_newest_row_and_a_warning() {
    let out = run(
        &["check", "--kueue-version", "0.22.1", "-o", "json", "-"],
        Some(CLUSTER.as_bytes()),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("warning: Kueue v0.22 is newer than the newest release this webhook knows (v0.20): using the v0.20 profile"),
        "{}",
        out.stderr
    );
    assert_eq!(out.json()["policy"][1]["value"], "17");
}

#[test]
fn check_reads_the_namespace_for_exclusions_from_the_manifest_or_the_flag() {
    let unlabelled = CLUSTER.replace("  labels:\n    kueue.x-k8s.io/queue-name: team-a\n", "");
    assert_ne!(unlabelled, CLUSTER);
    let in_namespace = |namespace: &str| {
        unlabelled.replace(
            "  name: train\n",
            &format!("  name: train\n  namespace: {namespace}\n"),
        )
    };
    // The verdict and message of the one object, checked with --default-queue.
    let check = |namespace: &str, manifest: &str, env: &[(&str, &str)]| {
        let out = offline_support::run_env(
            &[
                "check",
                "--default-queue",
                "q",
                "-n",
                namespace,
                "-o",
                "json",
                "-",
            ],
            env,
            manifest.as_bytes(),
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        let object = out.json()["objects"][0].clone();
        (object["verdict"].clone(), object["message"].to_string())
    };
    let excluded = |(verdict, message): (Value, String)| {
        verdict == "unmanaged" && message.contains("is excluded (--exclude-namespace)")
    };
    // The webhook's own namespace (POD_NAMESPACE) is excluded by default,
    // whether the manifest or -n names it.
    let pod_namespace = [("POD_NAMESPACE", "tools")];
    assert!(excluded(check(
        "default",
        &in_namespace("tools"),
        &pod_namespace
    )));
    assert!(excluded(check("tools", &unlabelled, &pod_namespace)));
    // Elsewhere the default queue applies.
    assert_eq!(check("default", &unlabelled, &pod_namespace).0, "admitted");
    // kube-system is excluded by default, not once the exclusions are replaced.
    assert!(excluded(check(
        "default",
        &in_namespace("kube-system"),
        &[]
    )));
    let replaced = [("KUEUE_RAY_WEBHOOK_EXCLUDE_NAMESPACE", "tools")];
    assert_eq!(
        check("default", &in_namespace("kube-system"), &replaced).0,
        "admitted"
    );
    // A queue label of its own is managed anywhere.
    let labelled = CLUSTER.replace(
        "  name: train\n",
        "  name: train\n  namespace: kube-system\n",
    );
    assert_eq!(check("default", &labelled, &[]).0, "admitted");
}

const ELASTIC_JOB: &str = "kueue.x-k8s.io/elastic-job";

/// Every pod template of a RayCluster's or RayService's cluster spec: the head's, then the workers'.
fn pod_templates(object: &Value) -> Vec<&Value> {
    let cluster = match object["kind"].as_str() {
        Some("RayService") => &object["spec"]["rayClusterConfig"],
        _ => &object["spec"],
    };
    let workers = cluster["workerGroupSpecs"].as_array().unwrap();
    std::iter::once(&cluster["headGroupSpec"]["template"])
        .chain(workers.iter().map(|group| &group["template"]))
        .collect()
}

#[test]
fn elastic_autoscaling_samples_are_admitted_with_gates_under_kueue_v0_19() {
    let Some(samples) = samples() else { return };
    let input = tempfile::tempdir().unwrap();
    let output = tempfile::tempdir().unwrap();
    let ray_objects = labelled_samples_with(&samples, input.path(), |file, object| {
        if object["kind"] == "RayJob" {
            // Kueue needs it (issue #9); most samples leave it unset, and
            // it cannot go with deletion rules.
            object["spec"]["shutdownAfterJobFinishes"] = json!(true);
            object["spec"]
                .as_object_mut()
                .unwrap()
                .remove("deletionStrategy");
        }
        if AUTOSCALING_SAMPLES.contains(&file) {
            let metadata = object["metadata"].as_object_mut().unwrap();
            let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
            annotations[ELASTIC_JOB] = json!("true");
        }
    });
    let patched = output.path().join("patched");
    let out = run(
        &[
            "check",
            "--kueue-version",
            "v0.19",
            "--output",
            "json",
            "--patched",
            path_str(&patched),
            path_str(input.path()),
        ],
        None,
    );
    assert_eq!(out.code, 0, "every sample is admitted\n{}", out.stdout);
    let report = out.json();
    assert_eq!(report["summary"]["admitted"], ray_objects as u64);
    let mut elastic = 0;
    for verdict in report["objects"].as_array().unwrap() {
        let file = verdict["source"]["file"].as_str().unwrap();
        let name = Path::new(file).file_name().unwrap().to_str().unwrap();
        let ops: Vec<&str> = verdict["patch"]
            .as_array()
            .unwrap()
            .iter()
            .map(|op| op["path"].as_str().unwrap())
            .collect();
        // v0.19: Kueue admits the RayService itself; a RayJob on an
        // existing cluster is left running.
        let suspend = match (verdict["kind"].as_str(), name) {
            (Some("RayService"), _) => Some("/spec/rayClusterConfig/suspend"),
            (Some("RayJob"), "ray-job.use-existing-raycluster.yaml") => None,
            _ => Some("/spec/suspend"),
        };
        if let Some(suspend) = suspend {
            assert!(ops.contains(&suspend), "{file}: {ops:?}");
        }
        let gates = ops
            .iter()
            .filter(|p| p.contains("/schedulingGates"))
            .count();
        if AUTOSCALING_SAMPLES.contains(&name) {
            elastic += 1;
            assert!(gates > 1, "{file}: head and workers gated: {ops:?}");
            let warnings = verdict["warnings"].to_string();
            assert!(
                warnings.contains("scheduling gate kueue.x-k8s.io/elastic-job"),
                "{file}: {warnings}"
            );
        } else {
            assert_eq!(gates, 0, "{file}: not elastic: {ops:?}");
        }
    }
    assert_eq!(elastic, AUTOSCALING_SAMPLES.len());

    // The patched objects: every template of an elastic one carries the gate.
    let mut gated_objects = 0;
    for entry in std::fs::read_dir(&patched).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for object in yaml_documents(&text) {
            if object["metadata"]["annotations"][ELASTIC_JOB] != "true" {
                continue;
            }
            gated_objects += 1;
            for template in pod_templates(&object) {
                let gates = template["spec"]["schedulingGates"].as_array().unwrap();
                assert_eq!(
                    gates.iter().filter(|g| g["name"] == ELASTIC_JOB).count(),
                    1,
                    "{object}"
                );
            }
        }
    }
    assert_eq!(gated_objects, AUTOSCALING_SAMPLES.len());

    // Checked again, they are admitted unchanged: the mutation is idempotent.
    let again = run(
        &["check", "--kueue-version", "v0.19", path_str(&patched)],
        None,
    );
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert_eq!(
        again.stdout.matches(": unchanged\n").count(),
        ray_objects,
        "{}",
        again.stdout
    );
}

#[test]
fn json_columns_after_surrogate_pairs_and_astral_characters_count_characters() {
    // One line: two escaped surrogate pairs and a literal astral character
    // before `spec`, where the patch's finding is reported.
    let text = concat!(
        r#"{"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "train","#,
        r#" "labels": {"kueue.x-k8s.io/queue-name": "team-a"},"#,
        r#" "annotations": {"a": "\ud83d\ude00\uD83D\uDE00", "b": "😀"}},"#,
        r#" "spec": {"headGroupSpec": {"template": {"spec": {"containers": [{"name": "h", "image": "i"}]}}}}}"#,
        "\n"
    );
    let (line, column) = position_of(text, "", r#""spec""#);
    let out = run(&["check", "-n", "ml", "-"], Some(text.as_bytes()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let finding = format!("-:{line}:{column}: add /spec/suspend true");
    assert!(
        out.stdout.lines().any(|l| l.trim() == finding),
        "{finding} not in\n{}",
        out.stdout
    );
}
