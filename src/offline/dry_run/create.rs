//! The dry-run CREATE: the AdmissionReview kube-apiserver would send, through
//! [`admission::review`], and the parts of its answer `check` reports,
//! decoded from the bytes.

use super::RayIdentity;
use crate::admission::{self, ReviewRequest, Webhook};
use crate::policy::{Operation, Policy};
use base64::Engine as _;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use serde::Deserialize;
use serde_json::Value;

/// The mutating webhook's answer to the CREATE of `object`, as kube-apiserver
/// sends it for `kubectl create --dry-run=server`, decoded; with the field of
/// each warning, in the order sent.
pub(super) fn dry_run_create(
    ray: &RayIdentity,
    object: &Value,
    namespace: &str,
    index: usize,
    policy: &Policy,
) -> Result<(DecodedAnswer, Vec<Option<String>>), String> {
    let uid = format!("kueue-ray-webhook-check-{index}");
    let review = ReviewRequest {
        uid: &uid,
        version: &ray.version,
        namespace,
        dry_run: true,
        username: "kueue-ray-webhook-check",
        ..ReviewRequest::new(ray.kind, Operation::Create, Some(object))
    }
    .to_json();
    let body = serde_json::to_vec(&review).map_err(|e| e.to_string())?;
    let answer = admission::review(Webhook::Mutate, &body, policy);
    if answer.status != 200 {
        return Err(format!(
            "HTTP {}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body).trim_end()
        ));
    }
    let response = decode_answer(&answer.body, &uid)?;
    Ok((response, answer.record.warning_fields))
}

/// The parts of the webhook's AdmissionReview answer that `check` reports, decoded.
pub(super) struct DecodedAnswer {
    pub(super) allowed: bool,
    pub(super) patch: json_patch::Patch,
    pub(super) warnings: Vec<String>,
    pub(super) status: Option<Status>,
}

/// Decodes the wire form: `patch` is a base64 string of a JSON patch.
fn decode_answer(body: &[u8], uid: &str) -> Result<DecodedAnswer, String> {
    #[derive(Deserialize)]
    struct Review {
        response: Option<Wire>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Wire {
        uid: String,
        allowed: bool,
        patch: Option<String>,
        patch_type: Option<String>,
        #[serde(default)]
        warnings: Vec<String>,
        status: Option<Status>,
    }
    let review: Review =
        serde_json::from_slice(body).map_err(|e| format!("unreadable answer: {e}"))?;
    let wire = review.response.ok_or("the answer has no response")?;
    if wire.uid != uid {
        return Err(format!("the answer is for uid {:?}, not {uid:?}", wire.uid));
    }
    let patch = match (wire.patch, wire.patch_type.as_deref()) {
        (None, _) => json_patch::Patch::default(),
        (Some(encoded), Some("JSONPatch")) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|e| format!("the patch is not base64: {e}"))?;
            serde_json::from_slice(&bytes)
                .map_err(|e| format!("the patch is not a JSON patch: {e}"))?
        }
        (Some(_), other) => return Err(format!("unexpected patchType {other:?}")),
    };
    Ok(DecodedAnswer {
        allowed: wire.allowed,
        patch,
        warnings: wire.warnings,
        status: wire.status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_are_decoded_from_the_wire_form() {
        let patch = base64::engine::general_purpose::STANDARD
            .encode(br#"[{"op":"add","path":"/spec/suspend","value":true}]"#);
        let body = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "response": {"uid": "u", "allowed": true, "patchType": "JSONPatch", "patch": patch,
            "warnings": ["suspended"]}});
        let response = decode_answer(body.to_string().as_bytes(), "u").unwrap();
        assert_eq!(response.patch.0.len(), 1);
        assert_eq!(response.warnings, ["suspended"]);
        assert!(decode_answer(body.to_string().as_bytes(), "other").is_err());
        assert!(decode_answer(b"{}", "u").is_err());
    }
}
