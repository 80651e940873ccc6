//! The differential against Kueue's own webhooks (issue 17): the same
//! AdmissionReviews go to the webhook server of the running Kueue v0.17
//! (`/mutate-ray-io-v1-raycluster`, `/validate-ray-io-v1-raycluster` and the
//! RayService and RayJob twins) and to ours (the real binary, started here
//! with the equivalent settings), as the API server would send them: a CREATE
//! through the mutating webhook, then the patched object through the
//! validating one; an UPDATE through the validating one. Every KubeRay sample
//! (`../shared/samples/kuberay`, the pinned ray-operator module's
//! `config/samples`) as a CREATE, and every request in `tests/golden/`.
//!
//! The differences (verdict, and the object after each side's patch) are
//! written to `target/e2e/kueue-differential.md`; the test fails on any that
//! `docs/kueue-differential.md` does not list with a reason, and on a listed
//! one that no longer occurs. `test = false`: `make e2e` runs it.

mod kueue_e2e;

use base64::Engine;
use kueue_e2e::Cluster;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Our settings equivalent to Kueue's Configuration in e2e/operators.sh: the
/// v0.17 profile, ElasticJobsViaWorkloadSlices on, no default queue, not
/// managing jobs without a queue name, and Kueue's default
/// managedJobsNamespaceSelector (`kube-system` and Kueue's namespace).
const OUR_FLAGS: [&str; 5] = [
    "--kueue-version=v0.17",
    "--elastic-jobs",
    "--exclude-namespace=kube-system",
    "--exclude-namespace=kueue-system",
    "--worker-threads=1",
];
/// Bound on our server's start.
const START: Duration = Duration::from_secs(30);
const DOC: &str = "docs/kueue-differential.md";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// One AdmissionReview to replay, named for the table.
struct Case {
    name: String,
    review: Value,
}

/// Our `serve`, on loopback with certificates from its own `certs`.
struct Ours {
    child: Child,
    url: String,
    ca: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Ours {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_ours() -> Ours {
    let bin = env!("CARGO_BIN_EXE_kueue-ray-webhook");
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path();
    let status = Command::new(bin)
        .args(["certs", "--ip", "127.0.0.1", "--out"])
        .arg(certs)
        .status()
        .unwrap();
    assert!(status.success(), "certs failed");
    let (port, admin) = (free_port(), free_port());
    let child = Command::new(bin)
        .arg("serve")
        .arg(format!("--listen=127.0.0.1:{port}"))
        .arg(format!("--admin-listen=127.0.0.1:{admin}"))
        .arg(format!(
            "--tls-cert-file={}",
            certs.join("tls.crt").display()
        ))
        .arg(format!(
            "--tls-key-file={}",
            certs.join("tls.key").display()
        ))
        .args(OUR_FLAGS)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + START;
    while !Command::new("curl")
        .args(["-fsS", "-o", "/dev/null"])
        .arg(format!("http://127.0.0.1:{admin}/readyz"))
        .status()
        .unwrap()
        .success()
    {
        assert!(Instant::now() < deadline, "our webhook did not get ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    Ours {
        child,
        url: format!("https://127.0.0.1:{port}"),
        ca: certs.join("ca.crt"),
        _dir: dir,
    }
}

/// POSTs a review over HTTPS (curl: the same client for both sides); the
/// response's `response` field.
fn post(url: &str, ca: &Path, review: &Value) -> Value {
    let mut child = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(ca)
        .args([
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            "@-",
        ])
        .arg(url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&serde_json::to_vec(review).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let body: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{url}: not JSON ({e}): {:?}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    body["response"].clone()
}

/// What one side did with one request, as the API server would apply it.
#[derive(Debug)]
struct Outcome {
    /// `None` when allowed, else the denial's message.
    denied: Option<String>,
    /// The object after the mutating webhook's patch (CREATE), normalized.
    object: Value,
}

fn route(kind: &str) -> &'static str {
    match kind {
        "RayCluster" => "ray-io-v1-raycluster",
        "RayService" => "ray-io-v1-rayservice",
        _ => "ray-io-v1-rayjob",
    }
}

fn apply_patch(object: &Value, response: &Value) -> Value {
    let Some(patch) = response["patch"].as_str() else {
        return object.clone();
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(patch)
        .unwrap();
    let patch: json_patch::Patch = serde_json::from_slice(&bytes).unwrap();
    let mut patched = object.clone();
    json_patch::patch(&mut patched, &patch).unwrap();
    patched
}

fn denial(response: &Value) -> Option<String> {
    (response["allowed"] != Value::Bool(true)).then(|| {
        response["status"]["message"]
            .as_str()
            .unwrap_or("denied")
            .to_owned()
    })
}

/// Replays one review on one side: `base` is `https://host:port`.
fn replay(base: &str, ca: &Path, case: &Case) -> Outcome {
    let request = &case.review["request"];
    let kind = request["kind"]["kind"].as_str().unwrap();
    let mut object = request["object"].clone();
    if request["operation"] == "CREATE" {
        let response = post(&format!("{base}/mutate-{}", route(kind)), ca, &case.review);
        if let Some(denied) = denial(&response) {
            return Outcome {
                denied: Some(denied),
                object: Value::Null,
            };
        }
        object = apply_patch(&object, &response);
    }
    let mut review = case.review.clone();
    review["request"]["object"] = object.clone();
    let response = post(&format!("{base}/validate-{}", route(kind)), ca, &review);
    if let Some(fields) = object.as_object_mut() {
        // The API server drops `status` on CREATE and UPDATE (the CRDs have a
        // status subresource); Kueue's Go round trip fills it with zeros.
        fields.remove("status");
    }
    Outcome {
        denied: denial(&response),
        object: normalize(object),
    }
}

/// Drops what only a Go round trip adds and the API server drops again:
/// nulls (`creationTimestamp: null`) and empty maps and lists; and writes a
/// resource quantity as Go writes it (`cpu: 1` becomes `"1"`: one quantity).
fn normalize(value: Value) -> Value {
    normalize_in(value, false)
}

fn normalize_in(value: Value, quantities: bool) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let q = quantities || k == "limits" || k == "requests";
                    (k, normalize_in(v, q))
                })
                .filter(|(_, v)| !is_empty(v))
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| normalize_in(v, false)).collect())
        }
        Value::Number(n) if quantities => Value::String(n.to_string()),
        other => other,
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// The paths (JSON pointers) where two objects differ, with both values.
fn diff(path: &str, ours: &Value, kueue: &Value, out: &mut Vec<(String, Value, Value)>) {
    match (ours, kueue) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let child = format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
                diff(
                    &child,
                    a.get(k).unwrap_or(&Value::Null),
                    b.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff(&format!("{path}/{i}"), x, y, out);
            }
        }
        _ if ours != kueue => out.push((path.to_owned(), ours.clone(), kueue.clone())),
        _ => {}
    }
}

/// The differences of one case, one line each (the table's second column).
fn differences(ours: &Outcome, kueue: &Outcome) -> Vec<String> {
    match (&ours.denied, &kueue.denied) {
        (None, Some(k)) => vec![format!("Kueue denies, we allow (Kueue: {})", one_line(k))],
        (Some(o), None) => vec![format!("we deny, Kueue allows (ours: {})", one_line(o))],
        (Some(_), Some(_)) => Vec::new(),
        (None, None) => {
            let mut found = Vec::new();
            diff("", &ours.object, &kueue.object, &mut found);
            found
                .into_iter()
                .map(|(path, o, k)| {
                    format!("object `{path}`: ours {}, Kueue {}", short(&o), short(&k))
                })
                .collect()
        }
    }
}

fn one_line(s: &str) -> String {
    let s: String = s.replace('|', "/").replace('\n', " ");
    if s.chars().count() > 160 {
        format!("{}…", s.chars().take(160).collect::<String>())
    } else {
        s
    }
}

fn short(v: &Value) -> String {
    if v.is_null() {
        "absent".to_owned()
    } else {
        format!("`{}`", one_line(&v.to_string()))
    }
}

// ---------------------------------------------------------------- the cases

fn review(name: &str, object: &Value, namespace: &str) -> Value {
    let kind = object["kind"].as_str().unwrap();
    let resource = format!("{}s", kind.to_lowercase());
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": format!("differential-{name}"),
            "kind": {"group": "ray.io", "version": "v1", "kind": kind},
            "resource": {"group": "ray.io", "version": "v1", "resource": resource},
            "requestKind": {"group": "ray.io", "version": "v1", "kind": kind},
            "requestResource": {"group": "ray.io", "version": "v1", "resource": resource},
            "name": object["metadata"]["name"],
            "namespace": namespace,
            "operation": "CREATE",
            "userInfo": {"username": "e2e", "groups": ["system:authenticated"]},
            "object": object,
            "dryRun": false,
        }
    })
}

const KINDS: [&str; 3] = ["RayCluster", "RayService", "RayJob"];

/// Every `ray.io/v1` RayCluster, RayService and RayJob in the YAML files of
/// `dir`, as kubectl reads them (YAML 1.1: `defaultMode: 0644` is octal).
fn samples(cluster: &Cluster, dir: &Path, label: &str, cases: &mut Vec<Case>) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    for file in files {
        // One document at a time: kubectl refuses a whole file when one of
        // its kinds is unknown here (Volcano queues, Gateway API routes).
        let text = std::fs::read_to_string(&file).unwrap();
        let mut docs = vec![String::new()];
        for line in text.lines() {
            if line.starts_with("---") {
                docs.push(String::new());
            } else if let Some(doc) = docs.last_mut() {
                doc.push_str(line);
                doc.push('\n');
            }
        }
        let objects: Vec<Value> = docs
            .iter()
            .filter(|doc| doc.contains("ray.io/v1"))
            .filter_map(|doc| {
                let out = cluster.kubectl(
                    &["create", "--dry-run=client", "-o", "json", "-f", "-"],
                    Some(doc),
                );
                // A kind kubectl does not know here (RayCronJob) is not ours.
                serde_json::from_slice::<Value>(&out.stdout).ok()
            })
            .collect();
        for (i, object) in objects.into_iter().enumerate() {
            let kind = object["kind"].as_str().unwrap_or("");
            if object["apiVersion"] != "ray.io/v1" || !KINDS.contains(&kind) {
                continue;
            }
            let stem = file.file_name().unwrap().to_string_lossy();
            let name = format!("{label}/{stem}#{i}");
            // As shipped (no queue label: neither side manages it), and with a
            // queue label, where both sides' rules apply.
            let mut labelled = object.clone();
            labelled["metadata"]["labels"][kueue_e2e::QUEUE_LABEL] = json!("user-queue");
            cases.push(Case {
                review: review(&name, &object, "default"),
                name: name.clone(),
            });
            let name = format!("{name}+queue");
            cases.push(Case {
                review: review(&name, &labelled, "default"),
                name,
            });
        }
    }
}

/// Every request under tests/golden whose kind is one of ours and whose
/// operation Kueue's registrations receive (CREATE, UPDATE).
fn goldens(dir: &Path, cases: &mut Vec<Case>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            goldens(&path, cases);
            continue;
        }
        let name = path.to_string_lossy().into_owned();
        if !name.ends_with(".request.json") {
            continue;
        }
        let Ok(review) = serde_json::from_slice::<Value>(&std::fs::read(&path).unwrap()) else {
            continue;
        };
        let request = &review["request"];
        let kind = request["kind"]["kind"].as_str().unwrap_or("");
        let operation = request["operation"].as_str().unwrap_or("");
        if request["kind"]["group"] != "ray.io"
            || request["kind"]["version"] != "v1"
            || !KINDS.contains(&kind)
            || !["CREATE", "UPDATE"].contains(&operation)
            || !request["object"].is_object()
            || request["subResource"].is_string()
        {
            continue;
        }
        let rel = path
            .strip_prefix(root())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        cases.push(Case { name: rel, review });
    }
}

fn module_dir(module: &str, path: &str) -> PathBuf {
    let out = Command::new("go")
        .args(["mod", "download", "-json", path])
        .current_dir(root().join("e2e").join(module))
        .output()
        .expect("go runs");
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    PathBuf::from(info["Dir"].as_str().unwrap())
}

// ---------------------------------------------------------------- the table

/// `(case, difference) -> reason` from the docs' table.
fn listed() -> BTreeMap<(String, String), String> {
    let text = std::fs::read_to_string(root().join(DOC)).unwrap_or_default();
    let mut rows = BTreeMap::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split(" | ").collect();
        if let [first, difference, reason] = cells.as_slice() {
            let case = first.trim_start_matches("| ").trim();
            let reason = reason.trim_end_matches(" |").trim();
            if case == "request" || case.starts_with("---") {
                continue;
            }
            rows.insert(
                (case.to_owned(), difference.trim().to_owned()),
                reason.to_owned(),
            );
        }
    }
    rows
}

#[test]
fn differential_against_kueues_webhooks() {
    let cluster = Cluster::get();
    let kueue = cluster.var("KUEUE_WEBHOOK_URL").to_owned();
    let kueue_ca = PathBuf::from(cluster.var("KUEUE_CA"));
    let ours = start_ours();

    let mut cases = Vec::new();
    let shared = root().join("../shared/samples/kuberay");
    if shared.is_dir() {
        samples(&cluster, &shared, "shared", &mut cases);
    } else {
        println!(
            "note: {} is absent; its samples are not replayed",
            shared.display()
        );
    }
    let operator = module_dir("kuberay", "github.com/ray-project/kuberay/ray-operator");
    samples(
        &cluster,
        &operator.join("config/samples"),
        "ray-operator",
        &mut cases,
    );
    goldens(&root().join("tests/golden"), &mut cases);
    assert!(cases.len() > 40, "only {} cases found", cases.len());

    let listed = listed();
    let mut found: BTreeMap<(String, String), ()> = BTreeMap::new();
    let mut table = String::from("| request | difference | reason |\n|---|---|---|\n");
    let mut unlisted = Vec::new();
    for case in &cases {
        let o = replay(&ours.url, &ours.ca, case);
        let k = replay(&kueue, &kueue_ca, case);
        for difference in differences(&o, &k) {
            let key = (case.name.clone(), difference.clone());
            let reason = listed.get(&key).cloned();
            table += &format!(
                "| {} | {} | {} |\n",
                case.name,
                difference,
                reason.as_deref().unwrap_or("UNEXPLAINED")
            );
            if reason.as_deref().is_none_or(str::is_empty) {
                unlisted.push(format!("{}: {difference}", case.name));
            }
            found.insert(key, ());
        }
    }
    let out = root().join("target/e2e/kueue-differential.md");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    std::fs::write(&out, &table).unwrap();
    println!(
        "{} requests replayed; {} differences; table in {}",
        cases.len(),
        found.len(),
        out.display()
    );
    let stale: Vec<String> = listed
        .keys()
        .filter(|key| !found.contains_key(*key))
        .map(|(case, d)| format!("{case}: {d}"))
        .collect();
    assert!(
        unlisted.is_empty() && stale.is_empty(),
        "differences not explained in {DOC} (the generated table is {}):\n{}\n\nlisted in {DOC} but no longer found:\n{}",
        out.display(),
        unlisted.join("\n"),
        stale.join("\n")
    );
}

// ---------------------------------------------------------------- both registered

fn entries(rendered: &str) -> BTreeSet<String> {
    serde_yaml_ng::Deserializer::from_str(rendered)
        .filter_map(|doc| <Value as serde::Deserialize>::deserialize(doc).ok())
        .flat_map(|config| {
            let name = config["metadata"]["name"].as_str().unwrap_or("").to_owned();
            config["webhooks"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |w| format!("{name}/{}", w["name"].as_str().unwrap_or("")))
        })
        .collect()
}

/// What a user sees when Kueue's webhooks and ours both run: every sample
/// created (server-side dry run) in a namespace where both call. The table
/// is kept in the docs; the test fails when it changes. Also: the kustomize
/// Component of docs/deploy.md removes exactly Kueue's six Ray entries.
#[test]
fn both_webhooks_and_the_component() {
    let cluster = Cluster::get();
    let label = "e2e-kueue-webhooks";
    let configs = kueue_e2e::kueue_webhooks(label);

    // The Component over Kueue's own manifests.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("kueue.yaml"), &configs).unwrap();
    // kustomize loads components by relative path only: a copy beside it.
    std::fs::create_dir(dir.path().join("component")).unwrap();
    std::fs::copy(
        root().join("manifests/kueue-without-ray-webhooks/kustomization.yaml"),
        dir.path().join("component/kustomization.yaml"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        "resources: [kueue.yaml]\ncomponents: [component]\n",
    )
    .unwrap();
    let rendered = cluster.ok(&["kustomize", dir.path().to_str().unwrap()], None);
    let before = entries(&configs);
    let after = entries(&rendered);
    let removed: Vec<&String> = before.difference(&after).collect();
    let expected: Vec<String> = ["mraycluster", "mrayjob", "mrayservice"]
        .map(|e| format!("kueue-mutating-webhook-configuration/{e}.kb.io"))
        .into_iter()
        .chain(
            ["vraycluster", "vrayjob", "vrayservice"]
                .map(|e| format!("kueue-validating-webhook-configuration/{e}.kb.io")),
        )
        .collect();
    assert_eq!(removed, expected.iter().collect::<Vec<_>>());
    assert!(after.is_subset(&before) && after.len() + 6 == before.len());

    // Both registered, in one namespace.
    let ns = cluster.namespace("both");
    cluster.ok(
        &["label", "namespace", &ns.name, &format!("{label}=true")],
        None,
    );
    cluster.ok(&["apply", "-f", "-"], Some(&configs));
    let mut cases = Vec::new();
    let shared = root().join("../shared/samples/kuberay");
    if shared.is_dir() {
        samples(&cluster, &shared, "shared", &mut cases);
    }
    let operator = module_dir("kuberay", "github.com/ray-project/kuberay/ray-operator");
    samples(
        &cluster,
        &operator.join("config/samples"),
        "ray-operator",
        &mut cases,
    );
    let mut table = String::from(
        "| sample | what the user sees | stored `suspend` | stored queue label |\n|---|---|---|---|\n",
    );
    for case in &cases {
        let out = dry_run_create(&cluster, &ns.name, &case.review);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let warnings = stderr.lines().filter(|l| l.starts_with("Warning:")).count();
        let (seen, suspend, queue) = if out.status.success() {
            let stored: Value = serde_json::from_slice(&out.stdout).unwrap();
            let suspend = match stored["kind"].as_str() {
                Some("RayService") => &stored["spec"]["rayClusterConfig"]["suspend"],
                _ => &stored["spec"]["suspend"],
            };
            (
                format!("created, {warnings} warnings"),
                suspend.to_string(),
                stored["metadata"]["labels"][kueue_e2e::QUEUE_LABEL].to_string(),
            )
        } else {
            // Both validating webhooks run in parallel and the first denial
            // to arrive is shown; kubectl prints an Invalid status by its
            // causes, without the webhook's name. So: denied, not by whom.
            assert!(stderr.contains("is invalid"), "{}: {stderr}", case.name);
            ("denied".to_owned(), "–".into(), "–".into())
        };
        table += &format!("| {} | {seen} | {suspend} | {queue} |\n", case.name);
    }
    kueue_alone_behind_the_api_server(&cluster, label);
    cluster.kubectl(&["delete", "-f", "-"], Some(&configs));
    let out = root().join("target/e2e/kueue-both.md");
    std::fs::write(&out, &table).unwrap();
    let doc = std::fs::read_to_string(root().join(DOC)).unwrap_or_default();
    assert!(
        doc.contains(&table),
        "{DOC} does not hold the table of what a user sees with both webhooks; the new one is {}",
        out.display()
    );
}

/// A review's object created in `ns` with a server-side dry run, as a user
/// would (its own namespace dropped: kubectl's reading set `default`).
fn dry_run_create(cluster: &Cluster, ns: &str, review: &Value) -> std::process::Output {
    let mut object = review["request"]["object"].clone();
    if let Some(metadata) = object["metadata"].as_object_mut() {
        metadata.remove("namespace");
    }
    cluster.kubectl(
        &[
            "create",
            "--dry-run=server",
            "-o",
            "json",
            "-n",
            ns,
            "-f",
            "-",
        ],
        Some(&object.to_string()),
    )
}

/// The differences the docs call CRD defaults vanish behind the API server:
/// the replayed request lacks a field KubeRay's CRD defaults (`replicas: 0`,
/// `submissionMode: K8sJobMode`), so Kueue's webhook, called directly,
/// allows it; created through the API server, which sets the defaults before
/// any webhook, Kueue's webhook alone denies it at the field we deny at.
/// Kueue alone: the namespace our registration leaves out, labelled for
/// Kueue's (its configurations applied by the caller).
fn kueue_alone_behind_the_api_server(cluster: &Cluster, label: &str) {
    let ns = "kueue-ray-webhook";
    cluster.ok(
        &[
            "label",
            "--overwrite",
            "namespace",
            ns,
            &format!("{label}=true"),
        ],
        None,
    );
    for (golden, field) in [
        (
            "kueue-v0.20/validate-raycluster-create-topology-slice-size-replicas-absent",
            "spec.workerGroupSpecs[0].template.metadata.annotations[kueue.x-k8s.io/podset-slice-size]",
        ),
        (
            "kueue-v0.20/validate-rayjob-create-topology-submitter-in-group",
            "spec.rayClusterSpec.headGroupSpec.template.metadata.annotations[kueue.x-k8s.io/podset-group-name]",
        ),
    ] {
        let path = root().join(format!("tests/golden/{golden}.request.json"));
        let review: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let out = dry_run_create(cluster, ns, &review);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains(field),
            "{golden}: Kueue's webhook alone, behind the API server, should deny at {field}; \
             got status {:?}, stderr: {stderr}",
            out.status
        );
    }
    cluster.ok(&["label", "namespace", ns, &format!("{label}-")], None);
}
