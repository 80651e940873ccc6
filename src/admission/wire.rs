//! The AdmissionReview as read (only what the policy and the answer need)
//! and as written back.

use crate::policy::json::{Field, json_object};
use crate::policy::{ObjectDoc, Operation};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::core::GroupVersionKind;
use serde::{Deserialize, Serialize};

/// An incoming review: only what the policy and the answer need, read in one
/// pass; of the objects, only the fields the rules read are built
/// ([`ObjectDoc`]), the rest is skipped (no copy, no tree).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ReviewIn<'a> {
    #[serde(default, borrow)]
    pub(super) api_version: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    pub(super) kind: Option<std::borrow::Cow<'a, str>>,
    /// `Field`, not `Option`: serde would read a JSON array as a struct.
    #[serde(default)]
    pub(super) request: Field<RequestIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RequestIn {
    pub(super) uid: String,
    pub(super) kind: GroupVersionKind,
    #[serde(default)]
    pub(super) sub_resource: Option<String>,
    #[serde(default)]
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) namespace: Option<String>,
    pub(super) operation: Operation,
    /// Read here, in the one pass over the body, as far as the rules need it.
    #[serde(default)]
    pub(super) object: Field<ObjectDoc>,
    #[serde(default)]
    pub(super) old_object: Field<ObjectDoc>,
    #[serde(default)]
    pub(super) dry_run: Option<bool>,
}

/// The envelope alone, to answer a review whose request is unreadable.
#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct EnvelopeOnly {
    pub(super) api_version: Field<String>,
    pub(super) kind: Field<String>,
    pub(super) request: Field<UidOnly>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub(super) struct UidOnly {
    pub(super) uid: Field<String>,
}

json_object!(ReviewIn<'_>, RequestIn, EnvelopeOnly, UidOnly);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ReviewOut<'a> {
    pub(super) api_version: &'static str,
    pub(super) kind: &'static str,
    pub(super) response: ResponseOut<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ResponseOut<'a> {
    pub(super) uid: &'a str,
    pub(super) allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) status: Option<Status>,
    /// Base64 of the JSON patch: the documented wire form (kube's own
    /// `AdmissionResponse` writes an array of numbers, kube-rs#1781).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) patch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) patch_type: Option<&'static str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub(super) warnings: &'a [String],
}
