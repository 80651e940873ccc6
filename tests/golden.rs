//! Golden AdmissionReviews: each `tests/golden/<webhook>-<case>.request.json`
//! is answered by [`admission::review`] with the default policy and compared
//! with `<case>.response.json` (and the decoded patch with `<case>.patch.json`).
//! A subdirectory holds the cases of another policy: its `flags` file lists
//! the policy flags (one a line, as on the command line, e.g.
//! `--kueue-version=v0.19`).
//!
//! After a deliberate change of the answers, regenerate them with `make bless`
//! and review the diff. Blessing is an ignored test that refuses to run
//! without `BLESS=1`, and the comparison refuses to run with it, so no test
//! run can both rewrite the files and pass.

use base64::Engine as _;
use kueue_ray_webhook::admission::{Webhook, review};
use kueue_ray_webhook::policy::Policy;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn read_json(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap() + "\n"
}

fn blessing() -> bool {
    std::env::var_os("BLESS").is_some()
}

/// One golden case answered now: its files and what the webhook says.
struct Case {
    name: String,
    response_file: PathBuf,
    patch_file: PathBuf,
    answer: Value,
    patch: Option<Value>,
}

/// Every golden request, answered, with the invariants that hold for every
/// answer whatever the golden files say already checked.
fn answered_cases() -> Vec<Case> {
    let mut cases = answered_in(&golden_dir(), &Policy::default());
    assert!(cases.len() >= 16, "golden requests missing");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let flags = std::fs::read_to_string(dir.join("flags")).unwrap_or_else(|e| {
            panic!("{}: a golden subdirectory needs flags: {e}", dir.display())
        });
        let policy = kueue_ray_webhook::cli::policy_from_flags(flags.lines().map(str::trim))
            .unwrap_or_else(|e| panic!("{}/flags: {e}", dir.display()));
        let in_dir = answered_in(&dir, &policy);
        assert!(!in_dir.is_empty(), "{}: no golden requests", dir.display());
        cases.extend(in_dir);
    }
    cases
}

/// The requests in `dir`, answered under `policy`.
fn answered_in(dir: &Path, policy: &Policy) -> Vec<Case> {
    let mut requests: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".request.json"))
        .collect();
    requests.sort();
    requests
        .iter()
        .map(|request| answer_case(request, policy))
        .collect()
}

fn answer_case(request: &Path, policy: &Policy) -> Case {
    let name = request
        .file_name()
        .unwrap()
        .to_string_lossy()
        .replace(".request.json", "");
    let webhook = match name.split('-').next() {
        Some("mutate") => Webhook::Mutate,
        Some("validate") => Webhook::Validate,
        _ => panic!("{name}: the file name must start with mutate- or validate-"),
    };
    let body = std::fs::read(request).unwrap();
    let answer = review(webhook, &body, policy);
    assert_eq!(
        answer.status,
        200,
        "{name}: {}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.content_type, "application/json");
    let got: Value = serde_json::from_slice(&answer.body).unwrap();
    let sent: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(got["apiVersion"], "admission.k8s.io/v1", "{name}");
    assert_eq!(got["kind"], "AdmissionReview", "{name}");
    assert_eq!(got["response"]["uid"], sent["request"]["uid"], "{name}");
    let patch = got["response"].get("patch").map(|p| {
        assert_eq!(got["response"]["patchType"], "JSONPatch", "{name}");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(p.as_str().expect("patch is a base64 string"))
            .unwrap();
        serde_json::from_slice::<Value>(&bytes).unwrap()
    });
    if webhook == Webhook::Validate {
        assert!(
            patch.is_none(),
            "{name}: a validating answer carries a patch"
        );
    }
    Case {
        response_file: request.with_file_name(format!("{name}.response.json")),
        patch_file: request.with_file_name(format!("{name}.patch.json")),
        name,
        answer: got,
        patch,
    }
}

#[test]
fn answers_match_the_golden_files() {
    assert!(
        !blessing(),
        "BLESS is set: tests never rewrite the golden files; run `make bless` to regenerate them"
    );
    let mut failures = Vec::new();
    for case in answered_cases() {
        let name = &case.name;
        if read_json(&case.response_file).as_ref() != Some(&case.answer) {
            failures.push(format!(
                "{name}: answer differs from {}:\n{}",
                case.response_file.display(),
                pretty(&case.answer)
            ));
        }
        if read_json(&case.patch_file) != case.patch {
            failures.push(format!(
                "{name}: patch differs from {}: {:?}",
                case.patch_file.display(),
                case.patch
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `make bless`: rewrites the golden answers from what the webhook answers now.
#[test]
#[ignore = "rewrites tests/golden; run by `make bless`"]
fn bless() {
    assert!(
        blessing(),
        "blessing rewrites tests/golden: run it with `make bless` (which sets BLESS=1)"
    );
    for case in answered_cases() {
        std::fs::write(&case.response_file, pretty(&case.answer)).unwrap();
        match &case.patch {
            Some(patch) => std::fs::write(&case.patch_file, pretty(patch)).unwrap(),
            None => {
                let _ = std::fs::remove_file(&case.patch_file);
            }
        }
    }
}
