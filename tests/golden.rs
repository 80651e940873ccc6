//! Golden AdmissionReviews: each `tests/golden/<webhook>-<case>.request.json`
//! is answered by [`admission::review`] with the default policy and compared
//! with `<case>.response.json` (and the decoded patch with `<case>.patch.json`).
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
    let mut requests: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".request.json"))
        .collect();
    requests.sort();
    assert!(
        requests.len() >= 16,
        "golden requests missing: {requests:?}"
    );
    requests
        .iter()
        .map(PathBuf::as_path)
        .map(answer_case)
        .collect()
}

fn answer_case(request: &Path) -> Case {
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
    let answer = review(webhook, &body, &Policy::default());
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
        response_file: golden_dir().join(format!("{name}.response.json")),
        patch_file: golden_dir().join(format!("{name}.patch.json")),
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
