//! Property tests: arbitrary JSON in every place of an AdmissionReview.
//!
//! Whatever a client sends, [`review`] answers a well-formed AdmissionReview
//! (uid echoed) or a 4xx, never panics, never patches from the validating
//! webhook, and every patch applies cleanly to the object it was computed
//! for and is idempotent (the patched object gets no further patch). Huge
//! lists and long strings get answers within `ANSWER_LIMIT` that still list
//! the first violations.

mod arbitrary;

use arbitrary::{arb_json, arb_review, arb_review_of};
use base64::Engine as _;
use kueue_ray_webhook::admission::{ANSWER_LIMIT, Answer, Webhook, review};
use kueue_ray_webhook::policy::json::READ_ITEMS;
use kueue_ray_webhook::policy::{LISTED_VIOLATIONS, Policy, RayJobWorkload, RayServiceWorkload};
use proptest::prelude::*;
use serde_json::Value;

fn policies() -> impl Strategy<Value = Policy> {
    let flags = (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    );
    let cron_flags = (any::<bool>(), any::<bool>());
    (flags, cron_flags, 0usize..9).prop_map(
        |((default, manage, service, job, elastic, exclude), (labelled, deny), max)| Policy {
            max_worker_groups: max,
            default_queue: default.then(|| "default-queue".to_string()),
            manage_jobs_without_queue_name: manage,
            rayservice_workload: if service {
                RayServiceWorkload::Rayservice
            } else {
                RayServiceWorkload::Raycluster
            },
            rayjob_workload: if job {
                RayJobWorkload::Raycluster
            } else {
                RayJobWorkload::Rayjob
            },
            elastic_jobs: elastic,
            // The generated reviews' namespace.
            exclude_namespaces: if exclude {
                vec!["ns".into()]
            } else {
                Vec::new()
            },
            cron_runs_labelled: labelled,
            deny_unqueued_cron_runs: deny,
            ..Policy::default()
        },
    )
}

/// What a well-formed answer said.
#[derive(Debug, PartialEq)]
enum Checked {
    /// A 4xx with a plain-text reason.
    Refused,
    /// An AdmissionReview answer, with its decoded patch.
    Reviewed {
        allowed: bool,
        patch: Option<json_patch::Patch>,
    },
}

/// Checks the answer's invariants and says what it decided.
fn check_answer(webhook: Webhook, sent: &Value, answer: &Answer) -> Result<Checked, TestCaseError> {
    let text = String::from_utf8_lossy(&answer.body).into_owned();
    if answer.status != 200 {
        prop_assert!(
            (400..500).contains(&answer.status),
            "status {}: {text}",
            answer.status
        );
        prop_assert!(!text.trim().is_empty(), "a 4xx must say what is wrong");
        prop_assert_eq!(answer.content_type, "text/plain; charset=utf-8");
        return Ok(Checked::Refused);
    }
    let got: Value = serde_json::from_slice(&answer.body)
        .map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
    prop_assert_eq!(&got["apiVersion"], "admission.k8s.io/v1");
    prop_assert_eq!(&got["kind"], "AdmissionReview");
    let response = &got["response"];
    prop_assert!(
        sent["request"]["uid"].is_string(),
        "answered a review without a readable uid: {text}"
    );
    prop_assert_eq!(&response["uid"], &sent["request"]["uid"]);
    let allowed = response["allowed"]
        .as_bool()
        .ok_or_else(|| TestCaseError::fail("allowed is not a boolean"))?;
    if !allowed {
        let code = response["status"]["code"].as_i64().unwrap_or(0);
        prop_assert!(
            (400..500).contains(&code),
            "denial with code {code}: {text}"
        );
        prop_assert!(
            response["status"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        prop_assert!(
            response.get("patch").is_none(),
            "a denial carries a patch: {text}"
        );
    }
    let Some(patch) = response.get("patch") else {
        prop_assert!(response.get("patchType").is_none());
        return Ok(Checked::Reviewed {
            allowed,
            patch: None,
        });
    };
    prop_assert_eq!(
        webhook,
        Webhook::Mutate,
        "the validating webhook patched: {}",
        text
    );
    prop_assert_eq!(&response["patchType"], "JSONPatch");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(patch.as_str().unwrap_or_default())
        .map_err(|e| TestCaseError::fail(format!("patch is not base64: {e}")))?;
    let patch: json_patch::Patch =
        serde_json::from_slice(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
    Ok(Checked::Reviewed {
        allowed,
        patch: Some(patch),
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn any_review_gets_a_well_formed_answer(sent in arb_review(), policy in policies()) {
        let body = serde_json::to_vec(&sent).unwrap();
        for webhook in [Webhook::Mutate, Webhook::Validate] {
            let answer = review(webhook, &body, &policy);
            let Checked::Reviewed { patch: Some(patch), .. } = check_answer(webhook, &sent, &answer)? else {
                continue;
            };
            // The patch applies to the object it was computed for...
            let mut patched = sent["request"]["object"].clone();
            json_patch::patch(&mut patched, &patch)
                .map_err(|e| TestCaseError::fail(format!("patch does not apply: {e}")))?;
            // ...and the webhook admits its own result as it is: allowed, no
            // further patch (a 4xx or a denial is not idempotent either).
            let mut again = sent.clone();
            again["request"]["object"] = patched;
            let answer = review(webhook, &serde_json::to_vec(&again).unwrap(), &policy);
            prop_assert_eq!(
                check_answer(webhook, &again, &answer)?,
                Checked::Reviewed { allowed: true, patch: None },
                "not idempotent: {}",
                String::from_utf8_lossy(&answer.body)
            );
        }
    }

    /// A RayCronJob is never patched (its `spec.suspend` pauses its
    /// schedule), and what is wrong with it is in its runs' template
    /// (`spec.jobTemplate.…`), its queue label or its metadata.
    #[test]
    fn a_raycronjob_is_never_patched_and_its_findings_are_its_own_fields(
        sent in arb_review_of(&["RayCronJob"]),
        policy in policies(),
    ) {
        let body = serde_json::to_vec(&sent).unwrap();
        for webhook in [Webhook::Mutate, Webhook::Validate] {
            let answer = review(webhook, &body, &policy);
            let Checked::Reviewed { patch, .. } = check_answer(webhook, &sent, &answer)? else {
                continue;
            };
            prop_assert!(patch.is_none(), "{}", String::from_utf8_lossy(&answer.body));
            let got: Value = serde_json::from_slice(&answer.body).unwrap();
            let causes = got["response"]["status"]["details"]["causes"].as_array().cloned();
            for cause in causes.unwrap_or_default() {
                let field = cause["field"].as_str().unwrap_or_default();
                prop_assert!(
                    field == "spec"
                        || field.starts_with("spec.jobTemplate")
                        || field.starts_with("metadata"),
                    "{field}: {cause}"
                );
            }
        }
    }

    #[test]
    fn any_json_body_gets_a_well_formed_answer(sent in arb_json()) {
        let body = serde_json::to_vec(&sent).unwrap();
        for webhook in [Webhook::Mutate, Webhook::Validate] {
            check_answer(webhook, &sent, &review(webhook, &body, &Policy::default()))?;
        }
    }

    #[test]
    fn any_bytes_get_a_well_formed_answer(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        // What was sent, as far as it is JSON: a 200 needs a readable uid.
        let sent = serde_json::from_slice(&body).unwrap_or(Value::Null);
        for webhook in [Webhook::Mutate, Webhook::Validate] {
            check_answer(webhook, &sent, &review(webhook, &body, &Policy::default()))?;
        }
    }
}

// ------------------------------------------------------------ answer size
//
// Whatever the request, the answer stays within `ANSWER_LIMIT`, and a bounded
// denial still starts with the right causes.

/// One worker group, repeated to make a huge list.
#[derive(Clone, Copy, Debug)]
enum BadGroup {
    /// `{"groupName": "A."}`: not a DNS-1123 label.
    Dotted,
    /// `{}`: no name.
    Unnamed,
    /// `3`: not an object (a type error, found while reading).
    Number,
    /// `{"groupName": 5}`: a name that is not a string (a type error).
    NumberName,
}

impl BadGroup {
    fn json(self) -> Value {
        match self {
            BadGroup::Dotted => serde_json::json!({"groupName": "A."}),
            BadGroup::Unnamed => serde_json::json!({}),
            BadGroup::Number => serde_json::json!(3),
            BadGroup::NumberName => serde_json::json!({"groupName": 5}),
        }
    }

    /// The fields of every violation of `count` such groups under `limit`, in
    /// the order the policy finds them: type errors while reading (the first
    /// `READ_ITEMS` groups), then `Too many`, then the rules on the groups
    /// that may stay.
    fn expected_fields(self, count: usize, limit: usize) -> Vec<String> {
        let limit = limit.min(READ_ITEMS);
        let group = |i: usize| format!("spec.workerGroupSpecs[{i}]");
        let too_many = (count > limit).then(|| "spec.workerGroupSpecs".to_string());
        match self {
            BadGroup::Dotted | BadGroup::Unnamed => too_many
                .into_iter()
                .chain((0..count.min(limit)).map(|i| format!("{}.groupName", group(i))))
                .collect(),
            BadGroup::Number => (0..count.min(READ_ITEMS))
                .map(group)
                .chain(too_many)
                .collect(),
            BadGroup::NumberName => (0..count.min(READ_ITEMS))
                .map(|i| format!("{}.groupName", group(i)))
                .chain(too_many)
                .collect(),
        }
    }
}

fn arb_bad_group() -> impl Strategy<Value = BadGroup> {
    prop_oneof![
        Just(BadGroup::Dotted),
        Just(BadGroup::Unnamed),
        Just(BadGroup::Number),
        Just(BadGroup::NumberName),
    ]
}

/// Up to 60,000 (about 1 MiB of JSON), biased towards the limits.
fn arb_count() -> impl Strategy<Value = usize> {
    prop_oneof![
        0usize..40,
        Just(READ_ITEMS),
        Just(READ_ITEMS + 1),
        1_000usize..60_000,
    ]
}

/// A long string of characters that JSON escapes or that take several bytes.
fn arb_long_string() -> impl Strategy<Value = String> {
    (
        proptest::sample::select(&["Q", "\"", "\\", "\u{1}", "é", "😀", "a."][..]),
        0usize..200_000,
    )
        .prop_map(|(piece, n)| piece.repeat(n))
}

/// Places where a long string is read, echoed or refused.
const STRING_PLACES: &[&str] = &[
    "/request/uid",
    "/request/name",
    "/request/namespace",
    "/request/operation",
    "/request/dryRun",
    "/apiVersion",
    "/kind",
    "/request/kind/kind",
    "/request/object/metadata/name",
    "/request/object/metadata/labels/kueue.x-k8s.io~1queue-name",
    "/request/object/metadata/annotations/kueue.x-k8s.io~1queue-name",
    "/request/object/metadata/ownerReferences/0/kind",
    "/request/object/spec/workerGroupSpecs/0/groupName",
    "/request/object/spec/workerGroupSpecs/1/groupName",
    "/request/object/spec/rayClusterConfig/workerGroupSpecs/0/groupName",
];

fn set(review: &mut Value, pointer: &str, value: Value) {
    if let Some(slot) = review.pointer_mut(pointer) {
        *slot = value;
    } else if let Some((parent, key)) = pointer.rsplit_once('/')
        && let Some(Value::Object(map)) = review.pointer_mut(parent)
    {
        map.insert(key.replace("~1", "/"), value);
    }
}

fn check_size(answer: &Answer) -> Result<(), TestCaseError> {
    prop_assert!(
        answer.body.len() <= ANSWER_LIMIT,
        "answer of {} bytes: {}",
        answer.body.len(),
        String::from_utf8_lossy(answer.body.get(..2_000).unwrap_or(&answer.body))
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// A labelled, suspended RayCluster whose worker groups are `count` bad
    /// groups: the answer is bounded and lists the first violations in order,
    /// then how many more there are.
    #[test]
    fn a_huge_list_of_bad_groups_gets_a_bounded_answer_with_the_first_causes(
        group in arb_bad_group(),
        count in arb_count(),
        limit in prop_oneof![0usize..9, Just(READ_ITEMS), Just(5_000usize)],
    ) {
        let policy = Policy { max_worker_groups: limit, ..Policy::default() };
        let mut sent = arbitrary::base_review("RayCluster", "CREATE");
        set(&mut sent, "/request/object/metadata/ownerReferences", Value::Array(Vec::new()));
        set(&mut sent, "/request/object/spec/suspend", Value::Bool(true));
        set(&mut sent, "/request/object/spec/workerGroupSpecs", Value::Array(vec![group.json(); count]));
        let body = serde_json::to_vec(&sent).unwrap();
        let expected = group.expected_fields(count, limit);
        for webhook in [Webhook::Mutate, Webhook::Validate] {
            let answer = review(webhook, &body, &policy);
            check_size(&answer)?;
            let allowed = !matches!(
                check_answer(webhook, &sent, &answer)?,
                Checked::Reviewed { allowed: false, .. }
            );
            prop_assert_eq!(allowed, expected.is_empty());
            if allowed {
                continue;
            }
            let got: Value = serde_json::from_slice(&answer.body).unwrap();
            let causes = got["response"]["status"]["details"]["causes"].as_array().cloned().unwrap_or_default();
            let listed = expected.len().min(LISTED_VIOLATIONS);
            let fields: Vec<&str> = causes.iter().take(listed).filter_map(|c| c["field"].as_str()).collect();
            prop_assert_eq!(&fields[..], &expected[..listed]);
            if expected.len() > listed {
                prop_assert_eq!(causes.len(), listed + 1);
                let more = expected.len() - listed;
                let message = causes[listed]["message"].as_str().unwrap_or_default();
                prop_assert!(message.starts_with(&format!("{more} more violation")), "{}", message);
            } else {
                prop_assert_eq!(causes.len(), listed);
            }
        }
    }

    /// Long strings anywhere the webhook reads, quotes or echoes.
    #[test]
    fn long_strings_get_a_bounded_answer(
        sent in arb_review(),
        policy in policies(),
        strings in proptest::collection::vec(
            (proptest::sample::select(STRING_PLACES), arb_long_string()),
            1..4,
        ),
    ) {
        let mut sent = sent;
        for (place, string) in strings {
            set(&mut sent, place, Value::String(string));
        }
        let body = serde_json::to_vec(&sent).unwrap();
        for webhook in [Webhook::Mutate, Webhook::Validate] {
            let answer = review(webhook, &body, &policy);
            check_size(&answer)?;
            check_answer(webhook, &sent, &answer)?;
        }
    }
}

/// A legacy deletion policy: one KubeRay knows, any other string, or none.
fn arb_deletion_policy() -> impl Strategy<Value = Option<String>> {
    const KNOWN: [&str; 4] = ["DeleteCluster", "DeleteWorkers", "DeleteSelf", "DeleteNone"];
    prop_oneof![
        Just(None),
        proptest::sample::select(&KNOWN[..]).prop_map(|p| Some(p.to_string())),
        "[A-Za-z]{0,14}".prop_map(Some),
    ]
}

/// A managed RayJob that Kueue admits, with `deletionStrategy` set as given.
fn job_with_policies(on_success: &Option<String>, on_failure: &Option<String>) -> Value {
    let policy = |p: &Option<String>| {
        p.as_ref()
            .map_or(serde_json::json!({}), |p| serde_json::json!({"policy": p}))
    };
    let mut sent = arbitrary::base_review("RayJob", "CREATE");
    set(
        &mut sent,
        "/request/object",
        serde_json::json!({
        "metadata": {"name": "j", "labels": {"kueue.x-k8s.io/queue-name": "q"}},
        "spec": {"shutdownAfterJobFinishes": true,
            "deletionStrategy": {"onSuccess": policy(on_success), "onFailure": policy(on_failure)},
            "rayClusterSpec": {"headGroupSpec": {"template": {"spec": {"containers": [{"name": "h"}]}}},
                "workerGroupSpecs": [{"groupName": "g", "template": {"spec": {"containers": [{"name": "w"}]}}}]}}}),
    );
    sent
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Exactly the legacy policies that keep pods (DeleteNone, DeleteWorkers)
    /// are denied, each at its own field, in either webhook and any release.
    #[test]
    fn deletion_policies_that_keep_pods_are_denied_and_only_they(
        on_success in arb_deletion_policy(),
        on_failure in arb_deletion_policy(),
        release in proptest::sample::select(&[None, Some("v0.19"), Some("v0.20")][..]),
    ) {
        let policy = Policy::for_release(release.map(|r| kueue_ray_webhook::policy::Release::parse(r).unwrap()));
        let sent = job_with_policies(&on_success, &on_failure);
        let keeps = |p: &Option<String>| matches!(p.as_deref(), Some("DeleteNone" | "DeleteWorkers"));
        let expected: Vec<&str> = [
            (keeps(&on_success), "spec.deletionStrategy.onSuccess.policy"),
            (keeps(&on_failure), "spec.deletionStrategy.onFailure.policy"),
        ]
        .into_iter()
        .filter_map(|(denied, field)| denied.then_some(field))
        .collect();
        let body = serde_json::to_vec(&sent).unwrap();
        for webhook in [Webhook::Mutate, Webhook::Validate] {
            let answer = review(webhook, &body, &policy);
            let checked = check_answer(webhook, &sent, &answer)?;
            let allowed = matches!(checked, Checked::Reviewed { allowed: true, .. });
            prop_assert_eq!(allowed, expected.is_empty());
            let got: Value = serde_json::from_slice(&answer.body).unwrap();
            let causes = got["response"]["status"]["details"]["causes"].as_array().cloned().unwrap_or_default();
            let fields: Vec<&str> = causes.iter().filter_map(|c| c["field"].as_str()).collect();
            prop_assert_eq!(&fields, &expected);
        }
    }
}

/// A pod template's topology annotations: each of Kueue's keys absent or
/// holding a valid or an invalid value.
#[derive(Clone, Debug)]
struct Annotations {
    required: Option<&'static str>,
    preferred: Option<&'static str>,
    unconstrained: Option<&'static str>,
    slice_required: Option<&'static str>,
    slice_size: Option<&'static str>,
    group_name: Option<&'static str>,
    slice_layers: Option<&'static str>,
    spreading: Option<&'static str>,
}

const LEVELS: [&str; 4] = ["topology.kubernetes.io/zone", "rack", "", "Bad Label"];
const BAD_LEVELS: [&str; 2] = ["", "Bad Label"];
const SLICE_SIZES: [&str; 5] = ["1", "2", "0", "2147483648", "x"];
/// Slice layers: one of 2 pods, two of 4 and 2, and two that are no layers.
const ONE_LAYER: &str = r#"[{"topology":"rack","size":2}]"#;
const TWO_LAYERS: &str = r#"[{"topology":"zone","size":4},{"topology":"rack","size":2}]"#;
const LAYERS: [&str; 4] = [ONE_LAYER, TWO_LAYERS, "[]", "x"];
/// Spreading: valid, no rules, and a share of 1 (out of range).
const SPREAD: &str = r#"{"rules":[{"topologyKey":"zone","maxShareAllowingPlacement":"0.5"}]}"#;
const SPREAD_SHARE_1: &str = r#"{"rules":[{"topologyKey":"zone","maxShareAllowingPlacement":1}]}"#;
const SPREADS: [&str; 3] = [SPREAD, "{}", SPREAD_SHARE_1];

fn arb_annotations() -> impl Strategy<Value = Annotations> {
    let level = || proptest::option::of(proptest::sample::select(&LEVELS[..]));
    (
        (
            level(),
            level(),
            proptest::option::of(proptest::sample::select(&["true", "false", "yes"][..])),
            level(),
        ),
        (
            proptest::option::of(proptest::sample::select(&SLICE_SIZES[..])),
            proptest::option::of(proptest::sample::select(&["pair", "42"][..])),
            proptest::option::of(proptest::sample::select(&LAYERS[..])),
            proptest::option::of(proptest::sample::select(&SPREADS[..])),
        ),
    )
        .prop_map(
            |(
                (required, preferred, unconstrained, slice_required),
                (slice_size, group_name, slice_layers, spreading),
            )| Annotations {
                required,
                preferred,
                unconstrained,
                slice_required,
                slice_size,
                group_name,
                slice_layers,
                spreading,
            },
        )
}

/// What the model knows of a release: its minor version, and whether the
/// cluster runs the spreading gate.
#[derive(Clone, Copy, Debug)]
struct Model {
    minor: u32,
    spreading_gate: bool,
}

impl Model {
    fn spreading(self) -> bool {
        self.minor >= 20 && self.spreading_gate
    }
}

impl Annotations {
    fn json(&self) -> Value {
        let mut map = serde_json::Map::new();
        for (key, value) in [
            ("required-topology", self.required),
            ("preferred-topology", self.preferred),
            ("unconstrained-topology", self.unconstrained),
            ("slice-required-topology", self.slice_required),
            ("slice-size", self.slice_size),
            ("group-name", self.group_name),
            ("slice-required-topology-constraints", self.slice_layers),
            ("topology-spreading", self.spreading),
        ] {
            if let Some(value) = value {
                map.insert(format!("kueue.x-k8s.io/podset-{key}"), Value::from(value));
            }
        }
        Value::Object(map)
    }

    fn level(&self) -> bool {
        self.required.is_some() || self.preferred.is_some()
    }

    /// The fields Kueue's rules deny in this template alone, as a model
    /// written apart from the webhook's.
    fn expected(&self, at: &str, m: Model) -> Vec<String> {
        let key = |k: &str| format!("{at}[kueue.x-k8s.io/podset-{k}]");
        let mut out = Vec::new();
        let levels = [self.required, self.preferred, self.unconstrained];
        if levels.iter().flatten().count() > 1 {
            out.push(at.to_string());
        }
        for (k, value) in [
            ("required-topology", self.required),
            ("preferred-topology", self.preferred),
            ("slice-required-topology", self.slice_required),
        ] {
            if value.is_some_and(|v| BAD_LEVELS.contains(&v)) {
                out.push(key(k));
            }
        }
        if let Some(group) = self.group_name {
            let sliced = m.minor < 20;
            let conflicts = [
                group == "42",
                sliced && self.slice_size.is_some(),
                sliced && self.slice_required.is_some(),
                !self.level(),
            ];
            out.extend(conflicts.iter().filter(|c| **c).map(|_| key("group-name")));
        }
        if self.unconstrained == Some("yes")
            || (m.minor >= 20 && self.unconstrained == Some("false"))
        {
            out.push(key("unconstrained-topology"));
        }
        if self.slice_size.is_some_and(|s| !["1", "2"].contains(&s)) {
            out.push(key("slice-size"));
        }
        if self.slice_required.is_some() != self.slice_size.is_some() {
            out.push(key("slice-size"));
        }
        let layers = key("slice-required-topology-constraints");
        if let Some(value) = self.slice_layers {
            match m.minor {
                ..=16 => {}
                17 | 18 => out.push(layers.clone()),
                _ => {
                    if self.slice_required.is_some() {
                        out.push(layers.clone());
                    }
                    if self.slice_size.is_some() {
                        out.push(layers.clone());
                    }
                    if self.group_name.is_some() && m.minor < 20 {
                        out.push(key("group-name"));
                    }
                    if value == "[]" || value == "x" {
                        out.push(layers.clone());
                    }
                }
            }
        }
        if let Some(value) = self.spreading
            && m.spreading()
        {
            let spreading = key("topology-spreading");
            if self.required.is_none() || value == "{}" {
                out.push(spreading);
            } else if value == SPREAD_SHARE_1 {
                out.push(format!("{spreading}.rules[0].maxShareAllowingPlacement"));
            }
        }
        out
    }

    /// Whether Kueue builds this template's PodSet topology request.
    fn builds(&self, m: Model) -> bool {
        let sliced = self.slice_required.is_some() && self.slice_size.is_some();
        if !self.level() {
            match self.unconstrained {
                Some("yes") => return false,
                Some(_) => {}
                None if !sliced && self.slice_layers.is_none() => return true,
                None => {}
            }
        }
        match self.slice_layers {
            Some(layers) if m.minor >= 19 => layers == ONE_LAYER || layers == TWO_LAYERS,
            _ if sliced => self
                .slice_size
                .is_some_and(|s| ["1", "2", "0"].contains(&s)),
            _ => true,
        }
    }

    /// The fields the count rules deny in this template of `pods` pods.
    fn expected_fit(&self, at: &str, pods: i64, m: Model) -> Vec<String> {
        let key = |k: &str| format!("{at}[kueue.x-k8s.io/podset-{k}]");
        let mut out = Vec::new();
        if let Some(size) = self.slice_size.and_then(|s| s.parse::<i32>().ok())
            && i64::from(size) > pods
        {
            out.push(key("slice-size"));
        }
        let outer = match self.slice_layers {
            Some(ONE_LAYER) => Some((2, 1)),
            Some(TWO_LAYERS) => Some((4, 2)),
            _ => None,
        };
        if let Some((size, layers)) = outer
            && m.minor >= 17
            && (size > pods || (m.minor >= 20 && layers > 1 && pods % size != 0))
        {
            out.push(key("slice-required-topology-constraints"));
        }
        out
    }

    fn group(&self) -> Option<&'static str> {
        self.group_name.filter(|_| self.level())
    }

    /// What Kueue's PodSet asks for, required first.
    fn asks(&self) -> (Option<&'static str>, Option<&'static str>) {
        match self.required {
            Some(r) => (Some(r), None),
            None => (None, self.preferred),
        }
    }
}

/// The fields the group rules deny for the head (1 pod) and one worker.
fn expected_groups(
    head: &Annotations,
    worker: &Annotations,
    worker_pods: i64,
    m: Model,
) -> Vec<String> {
    const HEAD: &str = "spec.headGroupSpec.template.metadata.annotations";
    const WORKER: &str = "spec.workerGroupSpecs[0].template.metadata.annotations";
    let name = |at: &str| format!("{at}[kueue.x-k8s.io/podset-group-name]");
    let mut out = Vec::new();
    match (head.group(), worker.group()) {
        (Some(a), Some(b)) if a == b => {
            // The head is a single pod: the size rule always holds.
            let _ = worker_pods;
            let spreading = |a: &Annotations| a.spreading.unwrap_or("");
            if m.spreading() && spreading(head) != spreading(worker) {
                out.extend([HEAD.to_string(), WORKER.to_string()]);
            }
            if head.asks() != worker.asks() {
                out.extend([HEAD.to_string(), WORKER.to_string()]);
            }
        }
        (a, b) => {
            if a.is_some() {
                out.push(name(HEAD));
            }
            if b.is_some() {
                out.push(name(WORKER));
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    /// Any mix of topology annotations on the head and a worker template
    /// (of any pod count) is denied at exactly the fields the model names,
    /// managed or not, under every release that changed the rules.
    #[test]
    fn topology_annotations_are_denied_where_the_model_says(
        head in arb_annotations(),
        worker in arb_annotations(),
        managed in any::<bool>(),
        minor in proptest::sample::select(&[16u32, 17, 19, 20][..]),
        spreading_gate in any::<bool>(),
        replicas in proptest::option::of(0i64..11),
        hosts in proptest::option::of(0i64..3),
    ) {
        let m = Model { minor, spreading_gate };
        let release = kueue_ray_webhook::policy::Release::parse(&format!("v0.{minor}")).unwrap();
        let policy = Policy { tas_topology_spreading: spreading_gate, ..Policy::for_release(Some(release)) };
        let labels = if managed { serde_json::json!({"kueue.x-k8s.io/queue-name": "q"}) } else { serde_json::json!({}) };
        let template = |a: &Annotations| serde_json::json!({"metadata": {"annotations": a.json()},
            "spec": {"containers": [{"name": "c"}]}});
        let mut group = serde_json::json!({"groupName": "g", "template": template(&worker)});
        if let Some(replicas) = replicas {
            group["replicas"] = replicas.into();
        }
        if let Some(hosts) = hosts {
            group["numOfHosts"] = hosts.into();
        }
        // Kueue's count: replicas (the CRD's default 0), times numOfHosts over 1.
        let worker_pods = replicas.unwrap_or(0) * hosts.filter(|h| *h > 1).unwrap_or(1);
        let mut sent = arbitrary::base_review("RayCluster", "CREATE");
        set(&mut sent, "/request/object", serde_json::json!({
            "metadata": {"name": "c", "labels": labels},
            "spec": {"suspend": true, "headGroupSpec": {"template": template(&head)},
                "workerGroupSpecs": [group]}}));
        let (head_at, worker_at) = ("spec.headGroupSpec.template.metadata.annotations",
            "spec.workerGroupSpecs[0].template.metadata.annotations");
        let mut expected = head.expected(head_at, m);
        expected.extend(worker.expected(worker_at, m));
        if head.builds(m) && worker.builds(m) {
            expected.extend(head.expected_fit(head_at, 1, m));
            expected.extend(worker.expected_fit(worker_at, worker_pods, m));
            expected.extend(expected_groups(&head, &worker, worker_pods, m));
        }
        expected.sort();
        let body = serde_json::to_vec(&sent).unwrap();
        let answer = review(Webhook::Validate, &body, &policy);
        let checked = check_answer(Webhook::Validate, &sent, &answer)?;
        prop_assert_eq!(matches!(checked, Checked::Reviewed { allowed: true, .. }), expected.is_empty());
        let got: Value = serde_json::from_slice(&answer.body).unwrap();
        let causes = got["response"]["status"]["details"]["causes"].as_array().cloned().unwrap_or_default();
        let mut fields: Vec<String> = causes.iter().filter_map(|c| c["field"].as_str().map(String::from)).collect();
        fields.sort();
        prop_assert_eq!(fields, expected);
    }
}
