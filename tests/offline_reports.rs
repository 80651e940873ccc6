//! `check`'s report formats (text, JSON, JUnit, GitHub, SARIF validated
//! against its schema, Markdown) with `file:line:column` on every finding,
//! and the patched objects (`--patched`). The built binary on real files.

mod offline_support;

use offline_support::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

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
#[cfg_attr(no_shared_samples, ignore = "needs ../shared/samples/kuberay")]
fn junit_report_has_one_case_per_object_and_a_failure_per_denial() {
    let samples = samples();
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
    // 18 Ray objects and the 8 skipped documents, each with its reason.
    assert_eq!(report.tests, 26);
    assert_eq!(report.failures, 7);
    let suite = &report.test_suites[0];
    assert_eq!(suite.skipped, 8);
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
/// package `@microsoft/jest-sarif` (not written here). Missing, the test
/// fails (as the manifests test does without kubernetes-validate): `make
/// test` installs both, and a skip here would read as a pass.
fn sarif_schema() -> PathBuf {
    let schema =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-tools/sarif-2.1.0-rtm.5.json");
    let validator = std::process::Command::new("python3")
        .args(["-c", "import jsonschema"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        schema.is_file() && validator,
        "the SARIF schema or python3 jsonschema is missing: run `make test-tools` (`make test` does)"
    );
    schema
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

    let schema = sarif_schema();
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

#[test]
#[cfg_attr(no_shared_samples, ignore = "needs ../shared/samples/kuberay")]
fn patched_objects_are_what_the_patch_makes_and_are_stable() {
    let samples = samples();
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
            "default.raycronjob.raycronjob-sample.yaml",
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
            .ends_with("11 admitted, 0 denied, 0 unmanaged, 0 skipped\n"),
        "{}",
        again.stdout
    );
    assert_eq!(
        again.stdout.matches(": unchanged\n").count(),
        11,
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

/// `check` of the RayCronJob fixture with `flags`, as `format`.
fn check_cron_jobs(format: &str, flags: &[&str]) -> offline_support::Run {
    let file = fixture("check/raycronjobs.yaml");
    let args = [&["check", "-o", format][..], flags, &[path_str(&file)]].concat();
    run(&args, None)
}

#[test]
fn a_raycronjob_is_judged_by_its_runs_in_every_format_on_the_lines_of_its_fields() {
    let file = fixture("check/raycronjobs.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let label = |name: &str| position_of(&text, &format!("name: {name}"), "kueue.x-k8s.io/");
    let shutdown = position_of(&text, "name: hourly", "shutdownAfterJobFinishes");
    let at = |v: &Value| {
        (
            v["line"].as_u64().unwrap() as usize,
            v["column"].as_u64().unwrap() as usize,
        )
    };

    // Served without API access: the label never reaches the runs; nothing
    // queues them, so their rules do not apply; a warning on each label.
    let out = check_cron_jobs("json", &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = out.json();
    for (object, name) in report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .zip(["nightly", "hourly"])
    {
        assert_eq!(object["verdict"], "unmanaged", "{object}");
        assert_eq!(object["patch"], json!([]), "{object}");
        assert_eq!(object["warnings"].as_array().unwrap().len(), 1, "{object}");
        assert_eq!(at(&object["warnings"][0]), label(name), "{object}");
    }
    // --deny-unqueued-cron-runs: both denied at the label.
    let out = check_cron_jobs("json", &["--deny-unqueued-cron-runs"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    for (object, name) in out.json()["objects"]
        .as_array()
        .unwrap()
        .iter()
        .zip(["nightly", "hourly"])
    {
        assert_eq!(object["verdict"], "denied", "{object}");
        let violations = object["violations"].as_array().unwrap();
        assert_eq!(violations.len(), 1, "{object}");
        assert_eq!(
            violations[0]["path"],
            "metadata.labels[kueue.x-k8s.io/queue-name]"
        );
        assert_eq!(at(&violations[0]), label(name), "{object}");
    }

    // The runs carry the label: nightly is admitted unpatched, hourly's
    // runs would never release their quota.
    let labelled = ["--cron-runs-labelled"];
    let out = check_cron_jobs("json", &labelled);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = out.json();
    let nightly = &report["objects"][0];
    assert_eq!(nightly["verdict"], "admitted", "{nightly}");
    assert_eq!(nightly["patch"], json!([]));
    assert_eq!(nightly["warnings"], json!([]));
    let hourly = &report["objects"][1];
    assert_eq!(hourly["verdict"], "denied", "{hourly}");
    let path = "spec.jobTemplate.shutdownAfterJobFinishes";
    assert_eq!(hourly["violations"][0]["path"], path, "{hourly}");
    assert_eq!(at(&hourly["violations"][0]), shutdown);

    let file = file.display().to_string();
    let (line, column) = shutdown;
    let out = check_cron_jobs("text", &labelled);
    let expected = format!("    {file}:{line}:{column}: {path}: Invalid value: false");
    assert!(out.stdout.contains(&expected), "{expected}\n{}", out.stdout);
    let out = check_cron_jobs("junit", &labelled);
    let expected = format!("{file}:{line}:{column}: {path}");
    assert!(out.stdout.contains(&expected), "{expected}\n{}", out.stdout);
    let out = check_cron_jobs("github", &labelled);
    let expected =
        format!("line={line},col={column},title=RayCronJob default/hourly denied::{path}");
    assert!(out.stdout.contains(&expected), "{expected}\n{}", out.stdout);
    let out = check_cron_jobs("markdown", &labelled);
    let expected = format!("line {line}: {path}");
    assert!(out.stdout.contains(&expected), "{expected}\n{}", out.stdout);
    let out = check_cron_jobs("sarif", &labelled);
    let log = out.json();
    let result = log["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["message"]["text"].as_str().unwrap().contains(path))
        .unwrap();
    assert_eq!(
        result["locations"][0]["physicalLocation"]["region"],
        json!({"startLine": line, "startColumn": column})
    );
}
