//! `check`'s verdicts, through the built binary on real files: KubeRay's
//! samples admitted, denied or unmanaged as Kueue would, the policy flags
//! (and their environment twins), namespaces, elastic jobs, LocalQueues, and
//! warnings on the field they concern.

mod offline_support;

use offline_support::*;
use serde_json::{Value, json};
use std::path::Path;

#[test]
#[cfg_attr(no_shared_samples, ignore = "needs ../shared/samples/kuberay")]
fn labelled_kuberay_samples_get_kueues_verdicts() {
    let samples = samples();
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
            } else if name == CRON_SAMPLE {
                // Its runs will not carry its label: nothing queues them.
                let verdict = &without_positions(verdict);
                assert_eq!(verdict["verdict"], "unmanaged", "{file}: {verdict}");
                assert_eq!(verdict["patch"], json!([]), "{file}");
                let warnings = verdict["warnings"].as_array().unwrap();
                assert_eq!(warnings.len(), 1, "{file}: {verdict}");
                assert!(
                    warnings[0]["message"]
                        .as_str()
                        .unwrap()
                        .starts_with("metadata.labels[kueue.x-k8s.io/queue-name]: the RayJobs"),
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
    assert_eq!(report["summary"]["unmanaged"].as_u64(), Some(1));
    assert_eq!(
        report["summary"]["admitted"].as_u64(),
        Some((ray_objects - denied - 1) as u64)
    );
    let skipped_kinds: std::collections::BTreeSet<_> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(skipped_kinds.into_iter().collect::<Vec<_>>(), ["ConfigMap"]);
}

#[test]
#[cfg_attr(no_shared_samples, ignore = "needs ../shared/samples/kuberay")]
fn rayservice_workload_mode_suspends_the_rayservice_itself() {
    let samples = samples();
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
#[cfg_attr(no_shared_samples, ignore = "needs ../shared/samples/kuberay")]
fn unlabelled_samples_are_reported_unmanaged_not_admitted() {
    let samples = samples();
    let out = run(&["check", path_str(&samples)], None);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let objects: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with(char::is_uppercase) && !l.starts_with("SKIPPED"))
        .collect();
    assert_eq!(objects.len(), 18, "{}", out.stdout);
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
    // SOURCE.md: 11 RayClusters and RayServices, 6 RayJobs, a RayCronJob;
    // skipped: 8 ConfigMaps.
    assert_eq!(
        out.stdout.lines().last(),
        Some("0 admitted, 0 denied, 18 unmanaged, 8 skipped")
    );
    assert_eq!(
        out.stdout.matches("\nSKIPPED   ").count(),
        8,
        "{}",
        out.stdout
    );

    // --require-managed: an unmanaged object fails the run.
    let out = run(&["check", "--require-managed", path_str(&samples)], None);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let out = run(&["check", "-o", "json", path_str(&samples)], None);
    let report = out.json();
    assert_eq!(report["summary"]["unmanaged"], 18);
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

#[test]
#[cfg_attr(no_shared_samples, ignore = "needs ../shared/samples/kuberay")]
fn default_queue_flag_manages_unlabelled_samples_in_text_output() {
    let samples = samples();
    let out = run(
        &["check", "--default-queue", "user-queue", path_str(&samples)],
        None,
    );
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stdout.lines().last(),
        Some("11 admitted, 7 denied, 0 unmanaged, 8 skipped")
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
#[cfg_attr(no_shared_samples, ignore = "needs ../shared/samples/kuberay")]
fn manage_jobs_without_queue_name_suspends_without_a_label() {
    let samples = samples();
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
fn an_unmanaged_object_is_its_own_verdict_and_fails_with_require_managed() {
    let out = run(&["check", "-"], Some(UNLABELLED.as_bytes()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.starts_with(
            "UNMANAGED RayCluster default/free (-#0)\n    -:1:1: no kueue.x-k8s.io/queue-name label"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .ends_with("0 admitted, 0 denied, 1 unmanaged, 0 skipped\n")
    );
    let out = run(
        &["check", "--require-managed", "-"],
        Some(UNLABELLED.as_bytes()),
    );
    assert_eq!(out.code, 1, "{}", out.stdout);

    // JUnit: a skipped case with the reason; with --require-managed a failure.
    let out = run(&["check", "-o", "junit", "-"], Some(UNLABELLED.as_bytes()));
    let report = quick_junit::Report::deserialize_from_str(&out.stdout).unwrap();
    let case = &report.test_suites[0].test_cases[0];
    match &case.status {
        quick_junit::TestCaseStatus::Skipped { message, .. } => assert!(
            message
                .as_ref()
                .unwrap()
                .as_str()
                .contains("Kueue does not manage this object")
        ),
        other => panic!("{other:?}"),
    }
    let out = run(
        &["check", "-o", "junit", "--require-managed", "-"],
        Some(UNLABELLED.as_bytes()),
    );
    let report = quick_junit::Report::deserialize_from_str(&out.stdout).unwrap();
    assert_eq!(report.failures, 1);
}

#[test]
fn a_ray_io_kind_not_handled_is_listed_and_counts_as_found() {
    // No such kind exists (yet): one KubeRay adds after this webhook's release.
    let text = "apiVersion: ray.io/v1\nkind: RayBatch\nmetadata: {name: nightly}\n";
    let out = run(&["check", "-"], Some(text.as_bytes()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "SKIPPED   RayBatch (-#0): RayBatch is not a kind this webhook admits \
         (RayCluster, RayService, RayJob, RayCronJob)\n0 admitted, 0 denied, 0 unmanaged, 1 skipped\n"
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
fn the_json_report_names_every_knob_and_where_it_came_from() {
    let out = offline_support::run_env(
        &[
            "check",
            "--kueue-version",
            "v0.19",
            "--max-worker-groups",
            "9",
            "--tas-topology-spreading",
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
            knob("cron-runs-labelled", "false", "default"),
            knob("deny-unqueued-cron-runs", "false", "default"),
            knob("tas-topology-spreading", "true", "flag"),
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
#[cfg_attr(no_shared_samples, ignore = "needs ../shared/samples/kuberay")]
fn elastic_autoscaling_samples_are_admitted_with_gates_under_kueue_v0_19() {
    let samples = samples();
    let input = tempfile::tempdir().unwrap();
    let output = tempfile::tempdir().unwrap();
    let ray_objects = labelled_samples_with(&samples, input.path(), |file, object| {
        if object["kind"] == "RayJob" {
            // Kueue needs it; most samples leave it unset. and
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
            // A RayCronJob's runs carry its label, as under `serve --api-access`.
            "--cron-runs-labelled",
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
        // existing cluster is left running; a RayCronJob is never patched.
        let suspend = match (verdict["kind"].as_str(), name) {
            (Some("RayService"), _) => Some("/spec/rayClusterConfig/suspend"),
            (Some("RayCronJob"), _) => {
                assert_eq!(ops, [] as [&str; 0], "{file}");
                None
            }
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
        &[
            "check",
            "--kueue-version",
            "v0.19",
            "--cron-runs-labelled",
            path_str(&patched),
        ],
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
fn local_queues_present_absent_and_default() {
    let queues = fixture("local-queues/queues.yaml");
    let clusters = fixture("local-queues/clusters.yaml");
    let text = std::fs::read_to_string(&clusters).unwrap();
    let args = [
        "check",
        "-o",
        "json",
        "--local-queues",
        path_str(&queues),
        "--",
        path_str(&clusters),
    ];
    let out = run(&args, None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = out.json();
    let by_name = |name: &str| {
        report["objects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == name)
            .unwrap()
            .clone()
    };
    let present = by_name("present");
    assert_eq!(present["verdict"], "admitted");
    assert!(
        present["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| !w["message"].as_str().unwrap().contains("no LocalQueue")),
        "{present}"
    );
    let absent = by_name("absent");
    assert_eq!(absent["verdict"], "admitted");
    let warning = absent["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["message"].as_str().unwrap().contains("no LocalQueue"))
        .unwrap_or_else(|| panic!("{absent}"));
    assert_eq!(
        warning["message"],
        "metadata.labels[kueue.x-k8s.io/queue-name]: no LocalQueue \"team-b\" in namespace \"ml\": \
         Kueue would leave the workload pending forever"
    );
    let (line, column) = position_of(&text, "name: absent", "kueue.x-k8s.io/queue-name");
    assert_eq!(
        (warning["line"].as_u64(), warning["column"].as_u64()),
        (Some(line as u64), Some(column as u64))
    );
    let defaulted = by_name("defaulted");
    assert_eq!(defaulted["verdict"], "admitted");
    assert_eq!(
        offline_support::without_positions(&defaulted["patch"]),
        json!([
            {"op": "add", "path": "/metadata/labels", "value": {}},
            {"op": "add", "path": "/metadata/labels/kueue.x-k8s.io~1queue-name", "value": "default"},
            {"op": "add", "path": "/spec/suspend", "value": true},
        ])
    );
    // No LocalQueue `default` in `ml`: Kueue leaves it alone.
    assert_eq!(by_name("no-default-here")["verdict"], "unmanaged");

    // --require-local-queue: the missing queue is a denial.
    let mut strict = args.to_vec();
    strict.insert(1, "--require-local-queue");
    let out = run(&strict, None);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = out.json();
    assert_eq!(report["summary"]["denied"], 1);
    let denied = report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["verdict"] == "denied")
        .unwrap();
    assert_eq!(denied["name"], "absent");
    assert_eq!(denied["violations"][0]["reason"], "FieldValueNotFound");

    // --default-queue wins over the namespace's `default` LocalQueue.
    let out = run(
        &[
            "check",
            "-o",
            "json",
            "--default-queue",
            "team-a",
            "--local-queues",
            path_str(&queues),
            "--",
            path_str(&clusters),
        ],
        None,
    );
    let report = out.json();
    let defaulted = report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "defaulted")
        .unwrap();
    assert_eq!(defaulted["patch"][1]["value"], "team-a");
}

#[test]
fn local_queues_among_the_checked_documents_count_too() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty.yaml"), "# no queues here\n").unwrap();
    let queues = std::fs::read_to_string(fixture("local-queues/queues.yaml")).unwrap();
    let clusters = std::fs::read_to_string(fixture("local-queues/clusters.yaml")).unwrap();
    // The clusters come first: the LocalQueues are read before any check.
    std::fs::write(
        dir.path().join("all.yaml"),
        format!("{clusters}---\n{queues}"),
    )
    .unwrap();
    let out = run_in(
        dir.path(),
        &[
            "check",
            "-o",
            "json",
            "--require-local-queue",
            "--local-queues",
            "empty.yaml",
            "--",
            "all.yaml",
        ],
        None,
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = out.json();
    assert_eq!(
        report["summary"]["denied"], 1,
        "only team-b is missing: {report}"
    );
    assert_eq!(report["summary"]["admitted"], 2);
}

/// Each warning sits on the field the policy says it is about, whatever its
/// wording: neither the elastic-job gate warning nor the existing-cluster
/// warning starts with its field, and both were once put on the object's line.
#[test]
fn warnings_sit_on_the_field_the_policy_names_not_one_read_from_their_text() {
    let text = "\
apiVersion: ray.io/v1
kind: RayJob
metadata:
  name: on-shared
  labels:
    kueue.x-k8s.io/queue-name: q
spec:
  entrypoint: python main.py
  clusterSelector:
    ray.io/cluster: shared
---
apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: elastic
  labels:
    kueue.x-k8s.io/queue-name: q
  annotations:
    kueue.x-k8s.io/elastic-job: \"true\"
spec:
  enableInTreeAutoscaling: true
  headGroupSpec:
    template:
      spec:
        containers: []
";
    let out = run(
        &["check", "--kueue-version", "v0.19", "-o", "json", "-"],
        Some(text.as_bytes()),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = out.json();
    let warning = |name: &str, about: &str| {
        let object = report["objects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == name)
            .unwrap_or_else(|| panic!("{name}: {report}"));
        let warning = object["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["message"].as_str().unwrap().contains(about))
            .unwrap_or_else(|| panic!("{name}: no warning about {about:?}: {object}"));
        (warning["line"].as_u64(), warning["column"].as_u64())
    };
    let at = |after: &str, needle: &str| {
        let (line, column) = position_of(text, after, needle);
        (Some(line as u64), Some(column as u64))
    };
    assert_eq!(
        warning("on-shared", "not suspended"),
        at("name: on-shared", "clusterSelector:")
    );
    assert_eq!(
        warning("elastic", "scheduling gate"),
        at("name: elastic", "spec:")
    );
    assert_eq!(
        warning("elastic", "set spec.suspend=true"),
        at("name: elastic", "spec:")
    );
}
