//! The deployment manifests: every kustomize overlay renders with `kubectl
//! kustomize`, passes the Kubernetes OpenAPI schemas (`kubernetes-validate`),
//! and registers exactly the paths, kinds and operations the server handles.
//!
//! Needs `kubectl` and the PyPI package `kubernetes-validate` (`.ci/run`
//! installs both when missing).

mod common;
mod offline_support;

use kueue_ray_webhook::policy::{KINDS, RayKind};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Kubernetes version whose schemas the manifests must pass (k8s-openapi's feature).
const KUBERNETES_VERSION: &str = "1.34.0";
/// The only kinds no built-in schema covers: cert-manager's CRDs.
const CRD_GROUPS_NOT_VALIDATED: [&str; 1] = ["cert-manager.io/"];
const OVERLAYS: [&str; 5] = [
    "base",
    "overlays/cert-manager",
    "overlays/generated-certs",
    "overlays/admin-namespaces",
    "overlays/control-plane-only",
];
const NAMESPACE: &str = "kueue-ray-webhook";

/// A copy of `manifests/` with the generated-certs overlay's certificates
/// made by the real `certs` command, as `make deploy-certs` does.
struct Manifests {
    dir: tempfile::TempDir,
}

impl Manifests {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests"),
            dir.path(),
        );
        let certs = dir.path().join("overlays/generated-certs/certs");
        let out = offline_support::run(&["certs", "--out", certs.to_str().unwrap()], None);
        assert_eq!(out.code, 0, "certs failed: {}", out.stderr);
        Manifests { dir }
    }

    fn path(&self, overlay: &str) -> PathBuf {
        self.dir.path().join(overlay)
    }

    /// `kubectl kustomize OVERLAY`, as parsed objects.
    fn render(&self, overlay: &str) -> Vec<Value> {
        let output = Command::new("kubectl")
            .arg("kustomize")
            .arg(self.path(overlay))
            .output()
            .unwrap_or_else(|e| {
                panic!("kubectl is needed to render the manifests ({e}); .ci/run installs it")
            });
        assert!(
            output.status.success(),
            "kubectl kustomize {overlay} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8(output.stdout).unwrap();
        serde_yaml_ng::Deserializer::from_str(&text)
            .map(|doc| serde::Deserialize::deserialize(doc).unwrap())
            .collect()
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn find<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

fn one<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    let found = find(objects, kind);
    assert_eq!(found.len(), 1, "expected one {kind}");
    found[0]
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

/// Runs the PyPI `kubernetes-validate` (strict: unknown fields fail) on `file`:
/// whether it passed, and everything it printed.
fn kubernetes_validate(file: &Path) -> (bool, String) {
    let output = Command::new("python3")
        .args([
            "-m",
            "kubernetes_validate",
            "--strict",
            "--kubernetes-version",
        ])
        .arg(KUBERNETES_VERSION)
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("python3 is needed to run kubernetes-validate: {e}"));
    let report = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(
        !report.contains("No module named kubernetes_validate"),
        "kubernetes-validate is needed: `python3 -m pip install kubernetes-validate` (.ci/run does)"
    );
    (output.status.success(), report)
}

#[test]
fn every_overlay_passes_the_kubernetes_schemas() {
    let manifests = Manifests::new();
    for overlay in OVERLAYS {
        let objects = manifests.render(overlay);
        let (skipped, checked): (Vec<&Value>, Vec<&Value>) = objects.iter().partition(|o| {
            let api_version = o["apiVersion"].as_str().unwrap();
            CRD_GROUPS_NOT_VALIDATED
                .iter()
                .any(|g| api_version.starts_with(g))
        });
        if overlay.ends_with("cert-manager") {
            let kinds: BTreeSet<&str> = skipped
                .iter()
                .map(|o| o["kind"].as_str().unwrap())
                .collect();
            assert_eq!(
                kinds.into_iter().collect::<Vec<_>>(),
                ["Certificate", "Issuer"]
            );
        } else {
            assert!(skipped.is_empty(), "{overlay}");
        }
        let file = manifests
            .dir
            .path()
            .join(format!("{}.yaml", overlay.replace('/', "-")));
        let stream: Vec<String> = checked
            .iter()
            .map(|o| serde_yaml_ng::to_string(o).unwrap())
            .collect();
        std::fs::write(&file, stream.join("---\n")).unwrap();
        let (passed, report) = kubernetes_validate(&file);
        assert!(passed, "{overlay}:\n{report}");
        // Every object was checked against a schema, none passed for lack of one.
        assert_eq!(
            report.matches(" passed for resource ").count(),
            checked.len(),
            "{overlay}:\n{report}"
        );
        assert!(!report.contains("WARN"), "{overlay}:\n{report}");
    }
}

#[test]
fn the_schema_check_catches_a_broken_manifest() {
    let manifests = Manifests::new();
    let dir = manifests.path("base");
    let service = std::fs::read_to_string(dir.join("service.yaml")).unwrap();
    std::fs::write(
        dir.join("service.yaml"),
        service.replace("port: 443", "port: https"),
    )
    .unwrap();
    let objects = manifests.render("base");
    let file = manifests.dir.path().join("broken.yaml");
    let stream: Vec<String> = objects
        .iter()
        .map(|o| serde_yaml_ng::to_string(o).unwrap())
        .collect();
    std::fs::write(&file, stream.join("---\n")).unwrap();
    let (passed, report) = kubernetes_validate(&file);
    assert!(!passed, "{report}");
    assert!(report.contains("service/kueue-ray-webhook"), "{report}");
}

/// What one webhook registers: its path, resources and operations.
type Registration = (String, Vec<String>, Vec<String>);

/// The registrations of each webhook, by configuration kind.
fn registrations(objects: &[Value]) -> BTreeMap<String, Vec<Registration>> {
    let mut found = BTreeMap::new();
    for kind in [
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    ] {
        let config = one(objects, kind);
        let mut hooks = Vec::new();
        for hook in config["webhooks"].as_array().unwrap() {
            assert_eq!(strings(&hook["admissionReviewVersions"]), ["v1"]);
            assert_eq!(
                hook["sideEffects"], "None",
                "kubectl --dry-run=server needs it"
            );
            assert_eq!(hook["failurePolicy"], "Fail");
            assert_eq!(hook["timeoutSeconds"], 5);
            assert_eq!(hook["matchPolicy"], "Equivalent");
            let expressions = hook["namespaceSelector"]["matchExpressions"]
                .as_array()
                .unwrap();
            assert_eq!(expressions.len(), 1);
            assert_eq!(expressions[0]["key"], "kubernetes.io/metadata.name");
            assert_eq!(expressions[0]["operator"], "NotIn");
            assert_eq!(
                strings(&expressions[0]["values"]),
                ["kube-system", NAMESPACE]
            );
            let service = &hook["clientConfig"]["service"];
            assert_eq!(service["name"], "kueue-ray-webhook");
            assert_eq!(service["namespace"], NAMESPACE);
            assert_eq!(service["port"], 443);
            let rules = hook["rules"].as_array().unwrap();
            assert_eq!(rules.len(), 1);
            assert_eq!(strings(&rules[0]["apiGroups"]), ["ray.io"]);
            assert_eq!(strings(&rules[0]["apiVersions"]), ["*"]);
            hooks.push((
                service["path"].as_str().unwrap().to_owned(),
                strings(&rules[0]["resources"])
                    .into_iter()
                    .map(String::from)
                    .collect(),
                strings(&rules[0]["operations"])
                    .into_iter()
                    .map(String::from)
                    .collect(),
            ));
        }
        found.insert(kind.to_owned(), hooks);
    }
    found
}

#[test]
fn webhooks_register_the_kinds_operations_and_paths_the_server_routes() {
    let objects = Manifests::new().render("base");
    let found = registrations(&objects);
    let hook = |path: &str, resource: &str, operations: &[&str]| {
        (
            path.to_owned(),
            vec![resource.to_owned()],
            operations.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
    };
    // One registration per kind of the table, in its order.
    let expected = |webhook: &str, operations: &[&str]| {
        KINDS
            .iter()
            .map(|kind| {
                let path = format!("/{webhook}-{}", kind.route_suffix);
                hook(&path, kind.plural, operations)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        found["MutatingWebhookConfiguration"],
        expected("mutate", &["CREATE"])
    );
    assert_eq!(
        found["ValidatingWebhookConfiguration"],
        expected("validate", &["CREATE", "UPDATE"])
    );
}

#[test]
fn the_service_reaches_the_container_and_the_flags_exist() {
    let objects = Manifests::new().render("base");
    let service = one(&objects, "Service");
    let https = service["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["port"] == 443)
        .expect("port 443");
    let deployment = one(&objects, "Deployment");
    let pod = &deployment["spec"]["template"];
    let container = &pod["spec"]["containers"][0];
    let container_port = container["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == https["targetPort"])
        .expect("the Service's targetPort names a container port");
    assert_eq!(container_port["containerPort"], 9443);
    for (key, value) in service["spec"]["selector"].as_object().unwrap() {
        assert_eq!(&pod["metadata"]["labels"][key], value);
    }

    let args = strings(&container["args"]);
    assert_eq!(args[0], "serve");
    let flag = |name: &str| {
        args.iter()
            .find_map(|a| a.strip_prefix(&format!("--{name}=")))
            .unwrap_or_else(|| panic!("--{name} is set"))
    };
    assert_eq!(flag("listen"), "0.0.0.0:9443");
    // A 408 must reach the apiserver before its own timeout (timeoutSeconds
    // of every registration: 5, checked in `registrations`).
    let request_timeout = humantime::parse_duration(flag("request-timeout")).unwrap();
    assert!(
        request_timeout < std::time::Duration::from_secs(5),
        "--request-timeout {request_timeout:?} is not below timeoutSeconds"
    );
    // The webhook's namespace reaches --exclude-namespace's default.
    let env = container["env"].as_array().expect("env");
    let pod_namespace = env
        .iter()
        .find(|e| e["name"] == "POD_NAMESPACE")
        .expect("POD_NAMESPACE is set");
    assert_eq!(
        pod_namespace["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.namespace"
    );
    assert!(
        flag("kueue-version").starts_with("v0."),
        "the Kueue release is named"
    );
    assert_eq!(flag("admin-listen"), "0.0.0.0:8080");
    let mount = container["volumeMounts"][0]["mountPath"].as_str().unwrap();
    assert_eq!(flag("tls-cert-file"), format!("{mount}/tls.crt"));
    assert_eq!(flag("tls-key-file"), format!("{mount}/tls.key"));
    assert!(
        container["volumeMounts"][0].get("subPath").is_none(),
        "renewals must reach the pod"
    );
    // The real binary parses every flag and value (clap checks them all
    // before it prints the help that `--help` at the end asks for).
    let mut check: Vec<&str> = args.clone();
    check.push("--help");
    let parsed = offline_support::run(&check, None);
    assert_eq!(
        parsed.code, 0,
        "serve rejects the manifest's args: {}",
        parsed.stderr
    );
    check.insert(1, "--log-format=bogus");
    assert_eq!(
        offline_support::run(&check, None).code,
        2,
        "the parse check can fail"
    );

    // Graceful shutdown fits in the grace period.
    let seconds = |flag_value: &str| {
        flag_value
            .strip_suffix('s')
            .unwrap()
            .parse::<i64>()
            .unwrap()
    };
    let grace = pod["spec"]["terminationGracePeriodSeconds"]
        .as_i64()
        .unwrap();
    assert!(grace > seconds(flag("shutdown-delay")) + seconds(flag("shutdown-timeout")));

    // Probes on the admin port.
    let admin_port = container["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["containerPort"] == 8080)
        .unwrap();
    for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/livez")] {
        assert_eq!(container[probe]["httpGet"]["path"], path);
        assert_eq!(container[probe]["httpGet"]["port"], admin_port["name"]);
    }

    // Hardening.
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(pod["spec"]["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["spec"]["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(strings(&security["capabilities"]["drop"]), ["ALL"]);
    for bound in ["requests", "limits"] {
        assert!(
            container["resources"][bound]["memory"].is_string(),
            "{bound}"
        );
    }
    // The memory limit holds the body budget with room for the process and
    // its connections' buffers.
    let mebibytes = |quantity: &str| {
        quantity
            .strip_suffix("Mi")
            .unwrap_or_else(|| panic!("{quantity}: write memory in Mi"))
            .parse::<u64>()
            .unwrap()
    };
    let limit = mebibytes(container["resources"]["limits"]["memory"].as_str().unwrap());
    let budget = mebibytes(flag("max-inflight-bytes"));
    assert!(
        limit >= budget + 64,
        "memory limit {limit}Mi leaves less than 64Mi beside the {budget}Mi body budget"
    );
    assert!(flag("max-connections").parse::<u32>().unwrap() <= 256);

    let pdb = one(&objects, "PodDisruptionBudget");
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        pod["metadata"]["labels"]
    );
    for object in &objects {
        let kind = object["kind"].as_str().unwrap();
        let cluster_scoped = ["Namespace", "ClusterRole", "ClusterRoleBinding"].contains(&kind);
        if !cluster_scoped && !kind.ends_with("Configuration") {
            assert_eq!(
                object["metadata"]["namespace"], NAMESPACE,
                "{}",
                object["kind"]
            );
        }
    }
}

#[test]
fn api_access_has_read_only_rights_to_what_the_rules_read_and_egress_to_the_api_only() {
    let objects = Manifests::new().render("base");
    let pod = &one(&objects, "Deployment")["spec"]["template"];
    let args = strings(&pod["spec"]["containers"][0]["args"]);
    assert!(args.contains(&"--api-access"), "{args:?}");
    let account = one(&objects, "ServiceAccount");
    assert_eq!(
        pod["spec"]["serviceAccountName"],
        account["metadata"]["name"]
    );
    assert_eq!(pod["spec"]["automountServiceAccountToken"], true);
    assert_eq!(account["automountServiceAccountToken"], true);

    let role = one(&objects, "ClusterRole");
    let mut granted: Vec<(String, String, Vec<&str>)> = Vec::new();
    for rule in role["rules"].as_array().unwrap() {
        for group in strings(&rule["apiGroups"]) {
            for resource in strings(&rule["resources"]) {
                granted.push((group.into(), resource.into(), strings(&rule["verbs"])));
            }
        }
        assert!(rule.get("resourceNames").is_none() && rule.get("nonResourceURLs").is_none());
    }
    granted.sort();
    let read = vec!["get", "list", "watch"];
    let expected: Vec<(String, String, Vec<&str>)> = [
        ("", "namespaces"),
        ("kueue.x-k8s.io", "localqueues"),
        ("ray.io", "raycronjobs"),
        ("ray.io", "rayjobs"),
        ("ray.io", "rayservices"),
    ]
    .iter()
    .map(|(g, r)| (g.to_string(), r.to_string(), read.clone()))
    .collect();
    assert_eq!(
        granted, expected,
        "least privilege: read-only, these kinds only"
    );

    let binding = one(&objects, "ClusterRoleBinding");
    assert_eq!(binding["roleRef"]["kind"], "ClusterRole");
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    let subjects = binding["subjects"].as_array().unwrap();
    assert_eq!(subjects.len(), 1);
    assert_eq!(subjects[0]["kind"], "ServiceAccount");
    assert_eq!(subjects[0]["name"], account["metadata"]["name"]);
    assert_eq!(subjects[0]["namespace"], account["metadata"]["namespace"]);

    let policy = one(&objects, "NetworkPolicy");
    assert!(strings(&policy["spec"]["policyTypes"]).contains(&"Egress"));
    let egress = policy["spec"]["egress"].as_array().unwrap();
    assert_eq!(egress.len(), 1, "one way out");
    let ports: Vec<i64> = egress[0]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["port"].as_i64().unwrap())
        .collect();
    assert_eq!(ports, [443, 6443], "the API server's ports only");
}

#[test]
fn generated_certs_overlay_mounts_the_secret_and_fills_every_ca_bundle() {
    use base64::Engine as _;
    let manifests = Manifests::new();
    let certs = manifests.path("overlays/generated-certs/certs");
    let objects = manifests.render("overlays/generated-certs");
    let secret = one(&objects, "Secret");
    assert_eq!(secret["type"], "kubernetes.io/tls");
    let decode = |value: &Value| {
        let text: String = value.as_str().unwrap().split_whitespace().collect();
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap()
    };
    for key in ["tls.crt", "tls.key", "ca.crt"] {
        assert_eq!(
            decode(&secret["data"][key]),
            std::fs::read(certs.join(key)).unwrap(),
            "{key}"
        );
    }
    let deployment = one(&objects, "Deployment");
    assert_eq!(
        deployment["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"],
        secret["metadata"]["name"]
    );
    let ca = std::fs::read(certs.join("ca.crt")).unwrap();
    let mut bundles = 0;
    for kind in [
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    ] {
        for hook in one(&objects, kind)["webhooks"].as_array().unwrap() {
            assert_eq!(decode(&hook["clientConfig"]["caBundle"]), ca, "{kind}");
            bundles += 1;
        }
    }
    assert_eq!(
        bundles,
        2 * KINDS.len(),
        "a mutating and a validating webhook per kind"
    );
}

#[test]
fn cert_manager_overlay_issues_the_mounted_secret_and_injects_the_ca() {
    let objects = Manifests::new().render("overlays/cert-manager");
    let certificates = find(&objects, "Certificate");
    let serving = certificates
        .iter()
        .find(|c| c["spec"]["isCA"] != true)
        .expect("a serving Certificate");
    let deployment = one(&objects, "Deployment");
    assert_eq!(
        serving["spec"]["secretName"],
        deployment["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"]
    );
    let dns = strings(&serving["spec"]["dnsNames"]);
    assert!(
        dns.contains(&"kueue-ray-webhook.kueue-ray-webhook.svc"),
        "{dns:?}"
    );
    // The serving certificate is signed by the CA issuer, which holds the CA certificate.
    let issuer_name = serving["spec"]["issuerRef"]["name"].as_str().unwrap();
    let issuer = find(&objects, "Issuer")
        .into_iter()
        .find(|i| i["metadata"]["name"] == issuer_name)
        .expect("the serving Certificate's issuer");
    let ca = certificates
        .iter()
        .find(|c| c["spec"]["isCA"] == true)
        .expect("a CA Certificate");
    assert_eq!(issuer["spec"]["ca"]["secretName"], ca["spec"]["secretName"]);
    let inject = format!(
        "{NAMESPACE}/{}",
        serving["metadata"]["name"].as_str().unwrap()
    );
    for kind in [
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    ] {
        assert_eq!(
            one(&objects, kind)["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
            inject.as_str()
        );
    }
    assert!(
        find(&objects, "Secret").is_empty(),
        "cert-manager writes the Secret"
    );
}

/// A labelled object of the kind a webhook registers for `resource`.
fn labelled_object(resource: &str) -> Value {
    let Some(kind) = KINDS.iter().find(|kind| kind.plural == resource) else {
        panic!("the webhooks register {resource}, which the server does not handle")
    };
    let cluster = common::raycluster("demo", Some("user-queue"));
    match kind.kind {
        RayKind::RayCluster => cluster,
        RayKind::RayService => serde_json::json!({
            "apiVersion": "ray.io/v1",
            "kind": "RayService",
            "metadata": cluster["metadata"],
            "spec": {"rayClusterConfig": cluster["spec"]},
        }),
        RayKind::RayJob => serde_json::json!({
            "apiVersion": "ray.io/v1",
            "kind": "RayJob",
            "metadata": cluster["metadata"],
            "spec": {
                "entrypoint": "python main.py",
                "shutdownAfterJobFinishes": true,
                "rayClusterSpec": cluster["spec"],
            },
        }),
        RayKind::RayCronJob => serde_json::json!({
            "apiVersion": "ray.io/v1",
            "kind": "RayCronJob",
            "metadata": cluster["metadata"],
            "spec": {
                "schedule": "0 * * * *",
                "jobTemplate": {
                    "entrypoint": "python main.py",
                    "shutdownAfterJobFinishes": true,
                    "rayClusterSpec": cluster["spec"],
                },
            },
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_registered_path_kind_and_operation_is_answered_by_the_real_server() {
    common::install_crypto_provider();
    let objects = Manifests::new().render("base");
    let certs = common::CertDir::new();
    let server = common::Server::start(&certs.cert(), &certs.key(), &[]);
    let mut client =
        common::Client::connect(server.addr, common::http11_config(&certs.ca.cert_pem))
            .await
            .unwrap();
    let mut answered = 0;
    for (kind, hooks) in registrations(&objects) {
        let mutating = kind.starts_with("Mutating");
        for (path, resources, operations) in hooks {
            for resource in &resources {
                let object = labelled_object(resource);
                for operation in &operations {
                    let uid = format!("{path}-{resource}-{operation}");
                    let old = (operation == "UPDATE").then(|| object.clone());
                    let body = common::review(&uid, operation, Some(object.clone()), old);
                    let reply = client
                        .post(&path, serde_json::to_vec(&body).unwrap())
                        .await
                        .unwrap();
                    let response = common::assert_review_answer(&reply, &uid, mutating);
                    assert_eq!(response["allowed"], true, "{uid}: {response}");
                    // A labelled RayCluster or RayJob is suspended; a RayService is not
                    // (its RayCluster is), nor a RayCronJob (its runs are; it is never patched).
                    let suspends =
                        mutating && resource != "rayservices" && resource != "raycronjobs";
                    assert_eq!(
                        response.get("patch").is_some(),
                        suspends,
                        "{uid}: {response}"
                    );
                    answered += 1;
                }
            }
        }
    }
    assert_eq!(
        answered,
        3 * KINDS.len(),
        "per kind, a CREATE registration and a CREATE+UPDATE registration"
    );
    // Each kind is its own label value in the metrics (a RayCronJob too).
    let metrics = server.metrics();
    for kind in KINDS {
        let line = format!(
            "kueue_ray_webhook_admission_requests_total{{webhook=\"validate\",kind=\"{}\",operation=\"UPDATE\",",
            kind.name
        );
        assert!(metrics.contains(&line), "{line}\n{metrics}");
    }
    // A path the server does not route is refused, so a typo would show.
    let reply = client
        .post("/mutate-ray-io-v1-raycronjobs", common::create_review("x"))
        .await
        .unwrap();
    assert_eq!(reply.status, 404);
}

#[test]
fn the_network_policy_opens_the_webhook_port_to_all_and_the_admin_port_to_named_namespaces() {
    let manifests = Manifests::new();
    for (overlay, namespaces) in [
        ("base", vec!["monitoring"]),
        (
            "overlays/admin-namespaces",
            vec!["monitoring", "prometheus"],
        ),
    ] {
        let objects = manifests.render(overlay);
        let policy = one(&objects, "NetworkPolicy");
        let pod = &one(&objects, "Deployment")["spec"]["template"];
        for (key, value) in policy["spec"]["podSelector"]["matchLabels"]
            .as_object()
            .unwrap()
        {
            assert_eq!(&pod["metadata"]["labels"][key], value, "{overlay}");
        }
        let ports: Vec<&str> = pod["spec"]["containers"][0]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        let rules = policy["spec"]["ingress"].as_array().unwrap();
        let rule = |port: &str| {
            assert!(ports.contains(&port), "{overlay}: no container port {port}");
            rules
                .iter()
                .find(|rule| rule["ports"][0]["port"] == port)
                .unwrap_or_else(|| panic!("{overlay}: no rule for {port}"))
        };
        assert!(
            rule("https").get("from").is_none(),
            "{overlay}: the apiserver is not a pod: the webhook port is open to all"
        );
        let from = rule("admin")["from"].as_array().unwrap();
        assert_eq!(from.len(), 1, "{overlay}");
        let expression = &from[0]["namespaceSelector"]["matchExpressions"][0];
        assert_eq!(expression["key"], "kubernetes.io/metadata.name");
        assert_eq!(expression["operator"], "In");
        assert_eq!(strings(&expression["values"]), namespaces, "{overlay}");
        assert_eq!(rules.len(), 2, "{overlay}: no other way in");
    }
}

#[test]
fn the_control_plane_overlay_opens_the_webhook_port_to_its_ip_blocks_only() {
    let objects = Manifests::new().render("overlays/control-plane-only");
    let policy = one(&objects, "NetworkPolicy");
    let rules = policy["spec"]["ingress"].as_array().unwrap();
    assert_eq!(rules.len(), 2, "no other way in");
    let https = rules
        .iter()
        .find(|rule| rule["ports"][0]["port"] == "https")
        .expect("a rule for the webhook port");
    let from = https["from"]
        .as_array()
        .expect("the webhook port has sources");
    assert!(!from.is_empty());
    for source in from {
        let cidr = source["ipBlock"]["cidr"]
            .as_str()
            .unwrap_or_else(|| panic!("only ipBlocks may reach the webhook port: {source}"));
        assert!(cidr.contains('/'), "{cidr}");
        assert_eq!(source.as_object().unwrap().len(), 1, "{source}");
    }
    // The admin port keeps the base's rule.
    let admin = rules
        .iter()
        .find(|rule| rule["ports"][0]["port"] == "admin")
        .expect("a rule for the admin port");
    assert!(admin["from"][0]["namespaceSelector"].is_object());
}
