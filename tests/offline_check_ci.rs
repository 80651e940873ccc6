//! `check` as a CI gate: nothing passes by accident (unmanaged objects,
//! empty runs, special files), YAML read as kubectl reads it, bounded
//! input, `file:line:column` on every finding in every format, the CI
//! formats (GitHub, SARIF validated against its schema, Markdown) and
//! `--local-queues`. The built binary on real files.

mod offline_support;

use offline_support::{CLUSTER as LABELLED, position_of, run, run_in};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

const UNLABELLED: &str = "\
apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: free
spec:
  enableInTreeAutoscaling: true
";

// ------------------------------------------------------------ silent passes

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
    let text = "apiVersion: ray.io/v1\nkind: RayCronJob\nmetadata: {name: nightly}\n";
    let out = run(&["check", "-"], Some(text.as_bytes()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "SKIPPED   RayCronJob (-#0): RayCronJob is not a kind this webhook admits \
         (RayCluster, RayService, RayJob)\n0 admitted, 0 denied, 0 unmanaged, 1 skipped\n"
    );
}

#[test]
fn symlinked_directories_are_followed_each_real_directory_once() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    std::fs::create_dir(&real).unwrap();
    std::fs::write(real.join("cluster.yaml"), LABELLED).unwrap();
    let top = dir.path().join("top");
    std::fs::create_dir(&top).unwrap();
    std::os::unix::fs::symlink(&real, top.join("linked")).unwrap();
    std::os::unix::fs::symlink(&real, top.join("again")).unwrap();
    // A loop: real/up -> top.
    std::os::unix::fs::symlink(&top, real.join("up")).unwrap();
    let out = run(&["check", "-o", "json", path_str(&top)], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = out.json();
    assert_eq!(report["summary"]["admitted"], 1, "{report}");
    assert_eq!(
        report["objects"][0]["source"]["file"],
        path_str(&top.join("again/cluster.yaml"))
    );
}

#[test]
fn fifos_and_devices_are_refused_never_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), LABELLED).unwrap();
    let fifo = dir.path().join("pipe.yaml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // In a directory, and named on the command line: refused, not opened
    // (opening a FIFO with no writer would block forever).
    for target in [".", "pipe.yaml"] {
        let out = run_in(dir.path(), &["check", target], None);
        assert_eq!((out.code, out.stdout.as_str()), (2, ""), "{target}");
        assert!(
            out.stderr
                .contains("pipe.yaml is a FIFO, not a regular file or directory"),
            "{target}: {}",
            out.stderr
        );
    }
    let out = run(&["check", "/dev/zero"], None);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("/dev/zero is a device, not a regular file or directory"),
        "{}",
        out.stderr
    );
}

// ------------------------------------------------------- YAML as kubectl reads it

#[test]
fn a_byte_order_mark_is_read_and_lines_still_count_from_the_top() {
    let text = format!("\u{feff}{LABELLED}");
    let out = run(&["check", "-o", "json", "-"], Some(text.as_bytes()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = out.json();
    assert_eq!(report["objects"][0]["verdict"], "admitted");
    // `add /spec/suspend` sits on `spec:`, line 7.
    assert_eq!(report["objects"][0]["patch"][0]["line"], 7);
}

#[test]
fn a_local_tag_keeps_the_value_so_the_autoscaler_is_seen() {
    let text = LABELLED.replace(
        "spec:\n  headGroupSpec",
        "spec: !local\n  enableInTreeAutoscaling: true\n  headGroupSpec",
    );
    let out = run(&["check", "-o", "json", "-"], Some(text.as_bytes()));
    assert_eq!(out.code, 1, "{}", out.stdout);
    let verdict = &out.json()["objects"][0];
    assert_eq!(verdict["verdict"], "denied");
    assert_eq!(
        verdict["violations"][0]["path"],
        "spec.enableInTreeAutoscaling"
    );
    assert_eq!(verdict["violations"][0]["line"], 8);
    // Flow style with a tag on the map.
    let head = LABELLED.split("spec:\n").next().unwrap();
    let text = format!("{head}spec: !local {{enableInTreeAutoscaling: true}}\n");
    let out = run(&["check", "-"], Some(text.as_bytes()));
    assert_eq!(out.code, 1, "{}", out.stdout);
}

#[test]
fn merge_keys_are_applied() {
    let text = "\
apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: merged
  labels: &labels
    kueue.x-k8s.io/queue-name: team-a
spec:
  <<: {enableInTreeAutoscaling: true}
";
    let out = run(&["check", "-o", "json", "-"], Some(text.as_bytes()));
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert_eq!(out.json()["objects"][0]["verdict"], "denied");
}

// ------------------------------------------------------------ bounded input

#[test]
fn deep_nesting_fails_while_parsing_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{LABELLED}---\nx: {}\n", "[".repeat(200_000));
    std::fs::write(dir.path().join("deep.yaml"), text).unwrap();
    let out = run_in(dir.path(), &["check", "deep.yaml"], None);
    assert_eq!((out.code, out.stdout.as_str()), (2, ""));
    assert!(
        out.stderr.contains(&format!(
            "cannot parse deep.yaml:{}:",
            LABELLED.lines().count() + 2
        )) && out.stderr.contains("document 1"),
        "{}",
        out.stderr
    );
}

#[test]
fn alias_expansion_has_a_budget() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        let refs = vec![format!("*a{p}"); 10].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    let out = run(&["check", "-"], Some(text.as_bytes()));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("aliases expand to more than"),
        "{}",
        out.stderr
    );
}

#[test]
fn files_over_the_size_limit_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.yaml"), LABELLED).unwrap();
    let size = LABELLED.len().to_string();
    let smaller = (LABELLED.len() - 1).to_string();
    let out = run_in(
        dir.path(),
        &["check", "--max-file-size", &smaller, "c.yaml"],
        None,
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains(&format!(
            "c.yaml is larger than {smaller} bytes (--max-file-size)"
        )),
        "{}",
        out.stderr
    );
    let out = run_in(
        dir.path(),
        &["check", "--max-file-size", &size, "c.yaml"],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Standard input too.
    let out = run(
        &["check", "--max-file-size", &smaller, "-"],
        Some(LABELLED.as_bytes()),
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("- is larger than"), "{}", out.stderr);
}

#[test]
fn review_refuses_a_body_over_the_servers_limit_with_its_message() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.json");
    std::fs::write(&big, vec![b' '; 8 << 20]).unwrap();
    for args in [vec!["review", path_str(&big)], vec!["review", "/dev/zero"]] {
        let out = run(&args, None);
        assert_eq!((out.code, out.stdout.as_str()), (2, ""), "{args:?}");
        assert!(
            out.stderr.contains(
                "the server would answer HTTP 413: request body is larger than 7340032 bytes (7 MiB)"
            ),
            "{args:?}: {}",
            out.stderr
        );
    }
}

// ---------------------------------------------- line and column in every format

/// The fixture's findings and where they are written.
struct Expected {
    file: PathBuf,
    autoscaling: (usize, usize),
    group_name: (usize, usize),
    too_many: (usize, usize),
    fine_spec: (usize, usize),
}

fn expected_positions() -> Expected {
    let file = fixture("check/findings.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    Expected {
        autoscaling: position_of(&text, "name: broken", "enableInTreeAutoscaling"),
        group_name: position_of(&text, "name: broken", "groupName"),
        too_many: position_of(&text, "name: broken", "workerGroupSpecs"),
        fine_spec: position_of(&text, "name: fine", "spec:"),
        file,
    }
}

fn check_findings(format: &str) -> offline_support::Run {
    let file = fixture("check/findings.yaml");
    run(
        &[
            "check",
            "-o",
            format,
            "--max-worker-groups",
            "1",
            path_str(&file),
        ],
        None,
    )
}

#[test]
fn json_and_text_carry_the_line_of_every_finding() {
    let e = expected_positions();
    let out = check_findings("json");
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = out.json();
    let broken = &report["objects"][0];
    let at = |v: &Value| {
        (
            v["line"].as_u64().unwrap() as usize,
            v["column"].as_u64().unwrap() as usize,
        )
    };
    let violations: Vec<(String, (usize, usize))> = broken["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["path"].as_str().unwrap().to_owned(), at(v)))
        .collect();
    assert_eq!(
        violations,
        [
            ("spec.workerGroupSpecs".to_owned(), e.too_many),
            (
                "spec.workerGroupSpecs[0].groupName".to_owned(),
                e.group_name
            ),
            ("spec.enableInTreeAutoscaling".to_owned(), e.autoscaling),
        ]
    );
    let fine = &report["objects"][1];
    assert_eq!(fine["verdict"], "admitted");
    assert_eq!(at(&fine["patch"][0]), e.fine_spec);
    assert_eq!(at(&fine["warnings"][0]), e.fine_spec);
    assert_eq!(report["skipped"][0]["source"]["line"], 2);

    let out = check_findings("text");
    let line = |(line, column): (usize, usize), finding: &str| {
        format!("    {}:{line}:{column}: {finding}", e.file.display())
    };
    for expected in [
        line(
            e.autoscaling,
            "spec.enableInTreeAutoscaling: Invalid value: true",
        ),
        line(e.group_name, "spec.workerGroupSpecs[0].groupName: "),
        line(e.too_many, "spec.workerGroupSpecs: Too many: 2: "),
        line(e.fine_spec, "add /spec/suspend true\n"),
        line(e.fine_spec, "warning: set spec.suspend=true"),
    ] {
        assert!(out.stdout.contains(&expected), "{expected}\n{}", out.stdout);
    }
}

#[test]
fn junit_github_and_markdown_carry_the_lines() {
    let e = expected_positions();
    let file = e.file.display().to_string();
    let out = check_findings("junit");
    assert!(
        out.stdout.contains(&format!(
            "{file}:{}:{}: spec.enableInTreeAutoscaling",
            e.autoscaling.0, e.autoscaling.1
        )),
        "{}",
        out.stdout
    );

    let out = check_findings("github");
    assert_eq!(out.code, 1);
    let lines: Vec<&str> = out.stdout.lines().collect();
    let property = |text: &str| text.replace(':', "%3A").replace(',', "%2C");
    let title = property("RayCluster default/broken denied");
    assert!(
        lines.contains(&format!(
            "::error file={},line={},col={},title={title}::spec.enableInTreeAutoscaling: Invalid value: true: Kueue sizes the cluster, so KubeRay's in-tree autoscaler must be off; set it to false or remove it; Kueue's elastic jobs, which may autoscale, are off in this configuration (--elastic-jobs)",
            property(&file), e.autoscaling.0, e.autoscaling.1
        ).as_str()),
        "{}",
        out.stdout
    );
    let notice = format!(
        "::notice file={},line={},col={},title={}::add /spec/suspend true",
        property(&file),
        e.fine_spec.0,
        e.fine_spec.1,
        property("RayCluster default/fine admitted")
    );
    assert!(lines.contains(&notice.as_str()), "{notice}\n{}", out.stdout);
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("::error ")).count(),
        3
    );
    assert_eq!(
        lines.last(),
        Some(&"kueue-ray-webhook check: 1 admitted, 1 denied, 0 unmanaged, 1 skipped")
    );

    let out = check_findings("markdown");
    assert!(
        out.stdout.starts_with("## kueue-ray-webhook check\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!("### `{file}`")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!(
            "line {}: spec.enableInTreeAutoscaling",
            e.autoscaling.0
        )),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("| ❌ denied |"), "{}", out.stdout);
}

/// The SARIF 2.1.0 schema, installed by `make test-tools` from the npm
/// package `@microsoft/jest-sarif` (not written here).
fn sarif_schema() -> Option<PathBuf> {
    let schema =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-tools/sarif-2.1.0-rtm.5.json");
    let validator = std::process::Command::new("python3")
        .args(["-c", "import jsonschema"])
        .status()
        .is_ok_and(|s| s.success());
    if schema.is_file() && validator {
        return Some(schema);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "the SARIF schema or python3 jsonschema is missing: run `make test-tools`"
    );
    eprintln!(
        "skipped: the SARIF schema or python3 jsonschema is missing (`make test-tools` installs them)"
    );
    None
}

#[test]
fn sarif_is_valid_against_the_sarif_2_1_0_schema_and_points_at_the_lines() {
    let e = expected_positions();
    let out = check_findings("sarif");
    assert_eq!(out.code, 1, "{}", out.stderr);
    let log: Value = out.json();
    let run0 = &log["runs"][0];
    let rules: Vec<&str> = run0["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["FieldValueInvalid", "FieldValueTooMany", "Warning"]);
    for rule in run0["tool"]["driver"]["rules"].as_array().unwrap() {
        assert!(!rule["help"]["text"].as_str().unwrap().is_empty());
    }
    let autoscaling = run0["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["message"]["text"]
                .as_str()
                .unwrap()
                .contains("enableInTreeAutoscaling")
        })
        .unwrap();
    assert_eq!(autoscaling["level"], "error");
    let location = &autoscaling["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], path_str(&e.file));
    assert_eq!(
        location["region"],
        json!({"startLine": e.autoscaling.0, "startColumn": e.autoscaling.1})
    );

    let Some(schema) = sarif_schema() else { return };
    let dir = tempfile::tempdir().unwrap();
    let log_file = dir.path().join("check.sarif");
    std::fs::write(&log_file, &out.stdout).unwrap();
    let validate = |file: &Path| {
        std::process::Command::new("python3")
            .args([
                "-c",
                "import json, sys, jsonschema\n\
                 schema = json.load(open(sys.argv[1]))\n\
                 jsonschema.validators.validator_for(schema)(schema).validate(json.load(open(sys.argv[2])))",
            ])
            .arg(&schema)
            .arg(file)
            .output()
            .unwrap()
    };
    let checked = validate(&log_file);
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    // The validator does reject what the schema forbids.
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]["level"] = json!("fatal");
    std::fs::write(&log_file, broken.to_string()).unwrap();
    assert!(!validate(&log_file).status.success());
}

// ------------------------------------------------------------- local queues

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

// ------------------------------------------------------------- warnings

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
