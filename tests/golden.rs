//! Golden AdmissionReviews: each `tests/golden/<webhook>-<case>.request.json`
//! is answered by [`admission::review`] with the default policy and compared
//! with `<case>.response.json` (and the decoded patch with `<case>.patch.json`).
//!
//! After a deliberate change of the answers, regenerate with
//! `BLESS=1 cargo test --test golden` and review the diff.

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

#[test]
fn answers_match_the_golden_files() {
    let bless = std::env::var_os("BLESS").is_some();
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
    let mut failures = Vec::new();
    for request in &requests {
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
        // Invariants that hold for every answer, whatever the golden file says.
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

        let response_file = golden_dir().join(format!("{name}.response.json"));
        let patch_file = golden_dir().join(format!("{name}.patch.json"));
        if bless {
            std::fs::write(&response_file, pretty(&got)).unwrap();
            match &patch {
                Some(patch) => std::fs::write(&patch_file, pretty(patch)).unwrap(),
                None => {
                    let _ = std::fs::remove_file(&patch_file);
                }
            }
            continue;
        }
        if read_json(&response_file).as_ref() != Some(&got) {
            failures.push(format!(
                "{name}: answer differs from {}:\n{}",
                response_file.display(),
                pretty(&got)
            ));
        }
        if read_json(&patch_file) != patch {
            failures.push(format!(
                "{name}: patch differs from {}: {patch:?}",
                patch_file.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
