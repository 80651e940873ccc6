//! What `check` reads, and its limits: files, directories (symbolic links
//! followed once), standard input, Lists, JSON; YAML as kubectl reads it;
//! special files refused; input that cannot be read is exit 2 with nothing
//! reported; nesting, aliases and file size bounded. The built binary on
//! real files.

mod offline_support;

use offline_support::CLUSTER as LABELLED;
use offline_support::*;
use serde_json::{Value, json};

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
