//! End to end, API access (`serve --api-access`, docs/serving.md "API
//! access"): LocalQueues, managed namespaces and owners read from watches of
//! the real kube-apiserver, the shipped RBAC, and serving while the API
//! server is out of reach or forbids the watches (`make e2e`, docs/e2e.md).
//!
//! Some tests restart the registered webhook with other flags (and restore
//! the ones `make e2e-up` gave it), others start instances of their own that
//! no registration calls: `make e2e` runs this file alone
//! (`--test-threads=1`). Without `--api-access` in `E2E_WEBHOOK_FLAGS` the
//! tests that need the registered webhook API-aware fail, saying why.

mod e2e_support;

use base64::Engine;
use e2e_support::{Cluster, QUEUE_LABEL, WEBHOOK_DOMAIN, metric_sum, namespace, poll, run};
use serde_json::{Value, json};
use std::io::Read;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// The LocalQueue API the pinned Kueue CRDs serve for `--kueue-version`
/// v0.15 and later (the e2e default is v0.17).
const LOCAL_QUEUE_API: &str = "kueue.x-k8s.io/v1beta2";

/// The shipped registrations' `timeoutSeconds` (manifests/base/webhooks.yaml):
/// an answer later than this is one the API server has given up on.
const REGISTRATION_TIMEOUT_SECONDS: &str = "5";

/// The watches of the API-aware mode, as its metrics label them.
const WATCHES: [&str; 5] = [
    "localqueues",
    "namespaces",
    "rayjobs",
    "rayservices",
    "raycronjobs",
];

/// The registered webhook is API-aware (`make e2e-up`'s default), or the
/// test fails saying so: a test that cannot run is not a pass.
fn require_aware(cluster: &Cluster) {
    assert!(
        cluster.api_aware(),
        "this test needs the registered webhook API-aware: E2E_WEBHOOK_FLAGS={:?} lacks \
         --api-access (unset it for make e2e-up's default)",
        cluster.var("WEBHOOK_FLAGS")
    );
}

fn raycluster(name: &str, labels: &[(&str, &str)], owner: Option<Value>) -> Value {
    let labels: serde_json::Map<String, Value> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect();
    let mut metadata = json!({"name": name, "labels": labels});
    if let Some(owner) = owner {
        metadata["ownerReferences"] = json!([owner]);
    }
    json!({
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": metadata,
        "spec": {
            "headGroupSpec": {
                "rayStartParams": {},
                "template": {"spec": {"containers": [
                    {"name": "ray-head", "image": "rayproject/ray:2.46.0"}
                ]}}
            }
        }
    })
}

fn local_queue(name: &str) -> String {
    format!(
        "apiVersion: {LOCAL_QUEUE_API}\nkind: LocalQueue\nmetadata: {{name: {name}}}\nspec: {{clusterQueue: e2e-cq}}\n"
    )
}

/// A controller reference to a RayJob.
fn rayjob_owner(name: &str, uid: &str) -> Value {
    json!({"apiVersion": "ray.io/v1", "kind": "RayJob", "name": name, "uid": uid, "controller": true})
}

/// `kubectl create` (or with `dry_run`, `--dry-run=server`) of `object` in `ns`.
fn create(cluster: &Cluster, ns: &str, object: &Value, dry_run: bool) -> e2e_support::Run {
    let mut args = vec!["-n", ns, "create", "-o", "json", "-f", "-"];
    if dry_run {
        args.push("--dry-run=server");
    }
    cluster.kubectl(&args, Some(&object.to_string()))
}

/// The `Warning:` lines kubectl printed.
fn warnings(out: &e2e_support::Run) -> Vec<&str> {
    out.stderr
        .lines()
        .filter(|l| l.starts_with("Warning: "))
        .collect()
}

fn missing_queue_warning(queue: &str, ns: &str) -> String {
    format!(
        "Warning: metadata.labels[{QUEUE_LABEL}]: no LocalQueue {queue:?} in namespace {ns:?}: \
         Kueue would leave the workload pending forever"
    )
}

fn suspended(object: &Value) -> bool {
    object["spec"]["suspend"] == Value::Bool(true)
}

// ------------------------------------------------------------ restarts

/// The registered webhook restarted with other flags for one test; the
/// flags `make e2e-up` gave it come back when this is dropped (also when
/// the test fails).
struct Restarted<'a> {
    cluster: &'a Cluster,
}

impl<'a> Restarted<'a> {
    fn with(cluster: &'a Cluster, flags: &str) -> Self {
        let out = cluster.webhook_restart(Some(flags));
        assert_eq!(out.code, 0, "restart with {flags:?}: {}", out.stderr);
        Restarted { cluster }
    }
}

impl Drop for Restarted<'_> {
    fn drop(&mut self) {
        let out = self.cluster.webhook_restart(None);
        if out.code != 0 {
            eprintln!("restoring the webhook's flags failed: {}", out.stderr);
        }
    }
}

/// The webhook's flags with `drop` left out and `add` added.
fn flags_with(cluster: &Cluster, drop: &str, add: &str) -> String {
    let mut flags: Vec<&str> = cluster
        .var("WEBHOOK_FLAGS")
        .split_whitespace()
        .filter(|f| drop.is_empty() || !f.starts_with(drop))
        .collect();
    flags.extend(add.split_whitespace());
    flags.join(" ")
}

// ------------------------------------------------------------ the shipped RBAC

/// `make e2e-up` runs the webhook as the shipped ServiceAccount bound by
/// the shipped ClusterRoleBinding, nothing more: every watch has synced and
/// the mode is not degraded (the rights are enough), and the identity may
/// not write, nor read Secrets, Pods or RayClusters (they are no more).
#[test]
fn the_shipped_rbac_is_enough_and_no_more() {
    let cluster = Cluster::up();
    require_aware(&cluster);
    // The gauges follow the watches each second (and an earlier test may
    // just have restarted the webhook).
    let metrics = poll("every watch of the webhook to report synced", || {
        let metrics = cluster.webhook_metrics();
        let synced = |watch| {
            let labels = [("watch", watch)];
            metric_sum(&metrics, "kueue_ray_webhook_cluster_watch_synced", &labels) == 1.0
        };
        WATCHES.into_iter().all(synced).then_some(metrics)
    });
    let degraded = metric_sum(&metrics, "kueue_ray_webhook_cluster_degraded", &[]);
    assert_eq!(degraded, 0.0, "degraded with the shipped RBAC");

    let user = identity(&cluster);
    assert!(
        user.starts_with("system:serviceaccount:"),
        "the webhook's identity is {user:?}"
    );
    // A SubjectAccessReview, as the API server's authorizer answers it
    // (also for a kind whose CRD is not installed, such as RayCronJob).
    let can = |verb: &str, resource: &str| {
        let (resource, group) = resource.split_once('.').unwrap_or((resource, ""));
        let review = json!({
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {"user": user, "resourceAttributes": {"group": group, "resource": resource, "verb": verb}}
        });
        let out = cluster.kubectl_ok(
            &["create", "-o", "json", "-f", "-"],
            Some(&review.to_string()),
        );
        let answer: Value = serde_json::from_str(&out).unwrap();
        answer["status"]["allowed"] == true
    };
    for resource in [
        "localqueues.kueue.x-k8s.io",
        "namespaces",
        "rayjobs.ray.io",
        "rayservices.ray.io",
        "raycronjobs.ray.io",
    ] {
        for verb in ["get", "list", "watch"] {
            assert!(can(verb, resource), "{user} may not {verb} {resource}");
        }
        for verb in ["create", "update", "patch", "delete"] {
            assert!(!can(verb, resource), "{user} may {verb} {resource}");
        }
    }
    for resource in [
        "secrets",
        "pods",
        "rayclusters.ray.io",
        "workloads.kueue.x-k8s.io",
    ] {
        assert!(!can("list", resource), "{user} may list {resource}");
    }
}

/// The user name the registered webhook reads the API as
/// (run/webhook.kubeconfig, written by `e2e/cluster.sh up`).
fn identity(cluster: &Cluster) -> String {
    let kubeconfig = std::fs::read_to_string(cluster.dir.join("run/webhook.kubeconfig")).unwrap();
    let config: Value = e2e_support::documents(&kubeconfig).remove(0);
    config["users"][0]["name"].as_str().unwrap().to_string()
}

// ------------------------------------------------------------ LocalQueues

/// A queue label naming no LocalQueue is admitted with a warning; once the
/// LocalQueue exists the warning is gone (within a bounded wait: the watch).
#[test]
fn a_missing_local_queue_is_warned_until_it_exists() {
    let cluster = Cluster::up();
    require_aware(&cluster);
    let ns = namespace(&cluster, "lq-warn");
    let labels = [(QUEUE_LABEL, "team-q")];
    let out = create(&cluster, &ns, &raycluster("before", &labels, None), false);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let expected = missing_queue_warning("team-q", &ns);
    assert!(
        warnings(&out).contains(&expected.as_str()),
        "no {expected:?} in:\n{}",
        out.stderr
    );
    cluster.kubectl_ok(
        &["-n", &ns, "apply", "-f", "-"],
        Some(&local_queue("team-q")),
    );
    poll("the webhook to see LocalQueue team-q", || {
        let out = create(&cluster, &ns, &raycluster("probe", &labels, None), true);
        (out.code == 0 && !out.stderr.contains("no LocalQueue")).then_some(())
    });
    let out = create(&cluster, &ns, &raycluster("after", &labels, None), false);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        !out.stderr.contains("no LocalQueue"),
        "still warned: {}",
        out.stderr
    );
    // Another namespace's LocalQueue of that name does not count.
    let other = namespace(&cluster, "lq-other");
    let out = create(
        &cluster,
        &other,
        &raycluster("elsewhere", &labels, None),
        false,
    );
    let expected = missing_queue_warning("team-q", &other);
    assert!(
        warnings(&out).contains(&expected.as_str()),
        "no {expected:?} in:\n{}",
        out.stderr
    );
}

/// With `--require-local-queue` the same create is denied (403, naming the
/// webhook), and admitted once the LocalQueue exists.
#[test]
fn with_require_local_queue_a_missing_local_queue_is_denied() {
    let cluster = Cluster::up();
    require_aware(&cluster);
    let _restarted = Restarted::with(&cluster, &flags_with(&cluster, "", "--require-local-queue"));
    let ns = namespace(&cluster, "lq-require");
    let labels = [(QUEUE_LABEL, "team-q")];
    let out = create(&cluster, &ns, &raycluster("denied", &labels, None), false);
    assert_ne!(out.code, 0, "admitted: {}", out.stdout);
    for part in [
        "Error from server (Forbidden)",
        WEBHOOK_DOMAIN,
        "denied the request",
        "no LocalQueue \"team-q\"",
    ] {
        assert!(out.stderr.contains(part), "no {part:?} in:\n{}", out.stderr);
    }
    cluster.kubectl_ok(
        &["-n", &ns, "apply", "-f", "-"],
        Some(&local_queue("team-q")),
    );
    poll("the webhook to see LocalQueue team-q", || {
        let out = create(&cluster, &ns, &raycluster("probe", &labels, None), true);
        (out.code == 0).then_some(())
    });
    let out = create(&cluster, &ns, &raycluster("admitted", &labels, None), false);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

/// Kueue's LocalQueue defaulting (with no `--default-queue`): an unlabelled
/// RayCluster in a namespace with a LocalQueue `default` is stored with the
/// label `default`, and suspended; in a namespace without one it is stored
/// unlabelled and left alone.
#[test]
fn a_local_queue_named_default_labels_an_unlabelled_raycluster() {
    let cluster = Cluster::up();
    require_aware(&cluster);
    let _restarted = Restarted::with(&cluster, &flags_with(&cluster, "--default-queue", ""));
    let ns = namespace(&cluster, "lq-default");
    let bare = namespace(&cluster, "lq-none");
    cluster.kubectl_ok(
        &["-n", &ns, "apply", "-f", "-"],
        Some(&local_queue("default")),
    );
    poll("the webhook to see LocalQueue default", || {
        let out = create(&cluster, &ns, &raycluster("probe", &[], None), true);
        let dry: Value = serde_json::from_str(&out.stdout).ok()?;
        (dry["metadata"]["labels"][QUEUE_LABEL] == "default").then_some(())
    });
    let out = create(&cluster, &ns, &raycluster("unlabelled", &[], None), false);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let stored = cluster.get(&ns, "raycluster", "unlabelled");
    assert_eq!(
        stored["metadata"]["labels"][QUEUE_LABEL], "default",
        "{stored:#}"
    );
    assert!(suspended(&stored), "{stored:#}");
    let out = create(&cluster, &bare, &raycluster("unlabelled", &[], None), false);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let stored = cluster.get(&bare, "raycluster", "unlabelled");
    assert!(
        stored["metadata"]["labels"].get(QUEUE_LABEL).is_none() && !suspended(&stored),
        "no LocalQueue default here: {stored:#}"
    );
}

// ------------------------------------------------------------ namespaces

/// `--managed-namespace-selector`: labelling a namespace out of the
/// selector takes it out of management (no default queue, not suspended)
/// within a bounded wait, and removing the label brings it back.
#[test]
fn relabelling_a_namespace_moves_it_out_of_management_and_back() {
    let cluster = Cluster::up();
    require_aware(&cluster);
    assert!(
        cluster.var("WEBHOOK_FLAGS").contains("--default-queue"),
        "this test tells management by the default queue: E2E_WEBHOOK_FLAGS lacks --default-queue"
    );
    const OUT: &str = "e2e-unmanaged";
    let selector = format!("--managed-namespace-selector={OUT}!=true");
    let _restarted = Restarted::with(&cluster, &flags_with(&cluster, "", &selector));
    let ns = namespace(&cluster, "managed");
    let managed = |name: &str| {
        let out = create(&cluster, &ns, &raycluster(name, &[], None), false);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let stored = cluster.get(&ns, "raycluster", name);
        let labelled = stored["metadata"]["labels"].get(QUEUE_LABEL).is_some();
        assert_eq!(labelled, suspended(&stored), "{stored:#}");
        labelled
    };
    // A dry run answers whether the webhook takes the namespace as managed.
    let dry_managed = || {
        let out = create(&cluster, &ns, &raycluster("probe", &[], None), true);
        let dry: Value = serde_json::from_str(&out.stdout).ok()?;
        Some(dry["metadata"]["labels"].get(QUEUE_LABEL).is_some())
    };
    assert!(managed("before"), "the new namespace is managed");
    cluster.kubectl_ok(&["label", "namespace", &ns, &format!("{OUT}=true")], None);
    poll("the webhook to take the namespace out", || {
        (!dry_managed()?).then_some(())
    });
    assert!(!managed("out"), "the relabelled namespace is not managed");
    cluster.kubectl_ok(&["label", "namespace", &ns, &format!("{OUT}-")], None);
    poll("the webhook to take the namespace back", || {
        dry_managed()?.then_some(())
    });
    assert!(managed("back"), "the namespace is managed again");
}

// ------------------------------------------------------------ owners

/// The RayJob `name` in `ns`, created through the webhook (suspended, no
/// operator runs: its `status.rayClusterName` stays empty); its UID.
fn rayjob(cluster: &Cluster, ns: &str, name: &str) -> String {
    let job = json!({
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {"name": name, "labels": {QUEUE_LABEL: "user-queue"}},
        "spec": {
            "entrypoint": "python -c 'print(1)'",
            "shutdownAfterJobFinishes": true,
            "rayClusterSpec": raycluster("unused", &[], None)["spec"].clone(),
        }
    });
    let out = create(cluster, ns, &job, false);
    assert_eq!(out.code, 0, "the RayJob: {}", out.stderr);
    let stored: Value = serde_json::from_str(&out.stdout).unwrap();
    stored["metadata"]["uid"].as_str().unwrap().to_string()
}

/// The forged-owner RayCluster of issue 20: a controller reference to a
/// RayJob that exists but never recorded it, one with a fake UID, one to a
/// RayJob that does not exist. Each is a workload of its own: labelled,
/// suspended, and warned why. (A genuine child needs the KubeRay operator:
/// tests/e2e_kueue.rs.)
#[test]
fn a_forged_controller_reference_does_not_exempt_a_raycluster() {
    let cluster = Cluster::up();
    require_aware(&cluster);
    let ns = namespace(&cluster, "owners");
    let uid = rayjob(&cluster, &ns, "owner");
    let fake = "00000000-0000-4000-8000-000000000000";
    let cases = [
        (
            "forged",
            rayjob_owner("owner", &uid),
            "the controller RayJob \"owner\" does not record this RayCluster in status.rayClusterName"
                .to_string(),
        ),
        (
            "fake-uid",
            rayjob_owner("owner", fake),
            format!(
                "the controller RayJob \"owner\" has UID {uid:?}, not the reference's {fake:?}"
            ),
        ),
        (
            "no-owner",
            rayjob_owner("nosuch", fake),
            "the controller RayJob \"nosuch\" does not exist".to_string(),
        ),
    ];
    for (name, owner, why) in cases {
        let out = create(&cluster, &ns, &raycluster(name, &[], Some(owner)), false);
        assert_eq!(out.code, 0, "{name}: {}", out.stderr);
        let line = warnings(&out)
            .into_iter()
            .find(|l| l.contains(&why))
            .unwrap_or_else(|| panic!("{name}: no warning with {why:?} in:\n{}", out.stderr));
        assert!(
            line.starts_with("Warning: metadata.ownerReferences: ")
                && line.contains("not its child"),
            "{name}: {line}"
        );
        let stored = cluster.get(&ns, "raycluster", name);
        assert!(
            suspended(&stored),
            "{name} runs outside the quota: {stored:#}"
        );
        assert_eq!(
            stored["metadata"]["labels"][QUEUE_LABEL],
            Value::from(default_queue(&cluster)),
            "{name}: {stored:#}"
        );
    }
}

/// The `--default-queue` of the webhook's flags (`user-queue` by default).
fn default_queue(cluster: &Cluster) -> String {
    cluster
        .var("WEBHOOK_FLAGS")
        .split_whitespace()
        .find_map(|f| f.strip_prefix("--default-queue="))
        .unwrap_or("user-queue")
        .to_string()
}

// ------------------------------------------------------------ degraded serving

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A TCP relay to the API server that can be cut: then it shuts every
/// relayed connection and holds new ones open without a byte (an API server
/// that stopped answering, with no refusal to fail fast on).
struct Relay {
    port: u16,
    state: Arc<Mutex<RelayState>>,
}

#[derive(Default)]
struct RelayState {
    cut: bool,
    /// Both ends of every relayed connection (shut on cut), and the held ones.
    streams: Vec<TcpStream>,
}

impl Relay {
    fn start(target: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(RelayState::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let mut state = shared.lock().unwrap();
                if state.cut {
                    state.streams.push(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                state.streams.push(client.try_clone().unwrap());
                state.streams.push(server.try_clone().unwrap());
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(server, client);
            }
        });
        Relay { port, state }
    }

    fn cut(&self) {
        let mut state = self.state.lock().unwrap();
        state.cut = true;
        for stream in state.streams.drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Write);
    });
}

/// A kubeconfig for the client certificate `pki/NAME.{crt,key}` against
/// `127.0.0.1:port`.
fn kubeconfig(cluster: &Cluster, port: u16, cert: &Path, key: &Path, user: &str) -> String {
    let ca = cluster.dir.join("run/pki/ca.crt");
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: e2e\n  cluster:\n    server: https://127.0.0.1:{port}\n    certificate-authority: {}\nusers:\n- name: {user}\n  user:\n    client-certificate: {}\n    client-key: {}\ncontexts:\n- name: e2e\n  context: {{cluster: e2e, user: {user}}}\ncurrent-context: e2e\n",
        ca.display(),
        cert.display(),
        key.display()
    )
}

/// A webhook of its own (no registration calls it), with the e2e serving
/// certificate, the registered one's flags (its kubeconfig left out) and
/// `flags`; its output in `log`. Killed when dropped.
struct Instance {
    child: Child,
    port: u16,
    admin: u16,
    log: PathBuf,
}

impl Instance {
    fn start(cluster: &Cluster, log: PathBuf, flags: &[String]) -> Instance {
        let (port, admin) = (free_port(), free_port());
        let run = cluster.dir.join("run");
        let file = std::fs::File::create(&log).unwrap();
        let mut command = Command::new(cluster.var("WEBHOOK_BIN"));
        command
            .arg("serve")
            .arg(format!("--listen=127.0.0.1:{port}"))
            .arg(format!("--admin-listen=127.0.0.1:{admin}"))
            .arg("--tls-cert-file")
            .arg(run.join("webhook-tls.crt"))
            .arg("--tls-key-file")
            .arg(run.join("webhook-tls.key"))
            .args(
                cluster
                    .var("WEBHOOK_FLAGS")
                    .split_whitespace()
                    .filter(|f| !f.starts_with("--kubeconfig") && !f.starts_with("--api-access")),
            )
            .args(flags)
            .env_remove("POD_NAMESPACE")
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file);
        for (key, _) in std::env::vars() {
            if key.starts_with("KUEUE_RAY_WEBHOOK_") {
                command.env_remove(key);
            }
        }
        let child = command.spawn().unwrap();
        let mut instance = Instance {
            child,
            port,
            admin,
            log,
        };
        poll("the instance's /readyz", || {
            if let Ok(Some(status)) = instance.child.try_wait() {
                panic!("the instance exited ({status}):\n{}", instance.log());
            }
            let out = instance.curl("/readyz");
            (out.code == 0).then_some(())
        });
        instance
    }

    fn curl(&self, path: &str) -> e2e_support::Run {
        let mut c = Command::new("curl");
        c.args(["-fsS", "--max-time", "10"])
            .arg(format!("http://127.0.0.1:{}{path}", self.admin));
        run(c, None)
    }

    fn metrics(&self) -> String {
        let out = self.curl("/metrics");
        assert_eq!(out.code, 0, "/metrics: {}", out.stderr);
        out.stdout
    }

    fn log(&self) -> String {
        let mut text = String::new();
        std::fs::File::open(&self.log)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    /// The mutating webhook's answer to a CREATE of `object` in `ns`, sent
    /// straight over TLS; a failure when it takes longer than the
    /// registrations' timeoutSeconds (the API server's own deadline).
    fn mutate(&self, cluster: &Cluster, ns: &str, object: &Value) -> Value {
        let review = json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": "e2e-cluster-aware",
                "kind": {"group": "ray.io", "version": "v1", "kind": "RayCluster"},
                "resource": {"group": "ray.io", "version": "v1", "resource": "rayclusters"},
                "name": object["metadata"]["name"],
                "namespace": ns,
                "operation": "CREATE",
                "userInfo": {"username": "e2e", "groups": ["system:authenticated"]},
                "object": object,
                "dryRun": false,
            }
        });
        let mut c = Command::new("curl");
        c.args([
            "-sS",
            "--max-time",
            REGISTRATION_TIMEOUT_SECONDS,
            "--cacert",
        ])
        .arg(cluster.dir.join("run/pki/ca.crt"))
        .args([
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            "@-",
        ])
        .arg(format!(
            "https://127.0.0.1:{}/mutate-ray-io-v1-raycluster",
            self.port
        ));
        let out = run(c, Some(&review.to_string()));
        assert_eq!(
            out.code, 0,
            "no answer within the registrations' {REGISTRATION_TIMEOUT_SECONDS}s: {}",
            out.stderr
        );
        let body: Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("not a review ({e}): {}", out.stdout));
        body["response"].clone()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The answer's warnings, as lines.
fn answer_warnings(response: &Value) -> Vec<String> {
    response["warnings"]
        .as_array()
        .map(|w| {
            w.iter()
                .filter_map(|w| w.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the answer's patch suspends the RayCluster.
fn patch_suspends(response: &Value) -> bool {
    let Some(patch) = response["patch"].as_str() else {
        return false;
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(patch)
        .unwrap();
    let patch: Value = serde_json::from_slice(&bytes).unwrap();
    patch
        .as_array()
        .unwrap()
        .iter()
        .any(|op| op["path"] == "/spec/suspend" && op["value"] == true)
}

/// The API server out of reach while an API-aware webhook serves: reviews
/// are answered from the cache (a LocalQueue seen before still counts, one
/// never seen is still warned), an owner that cannot be read is trusted
/// with a warning and counted as a fallback, and every answer comes within
/// the registrations' deadline.
#[test]
fn with_the_api_server_out_of_reach_reviews_are_answered_from_the_cache() {
    let cluster = Cluster::up();
    let work = tempfile::tempdir().unwrap();
    let relay = Relay::start(cluster.var("APISERVER_PORT").parse().unwrap());
    let pki = cluster.dir.join("run/pki");
    let config = work.path().join("relay.kubeconfig");
    std::fs::write(
        &config,
        kubeconfig(
            &cluster,
            relay.port,
            &pki.join("webhook-client.crt"),
            &pki.join("webhook-client.key"),
            &identity(&cluster),
        ),
    )
    .unwrap();
    let flags = [
        "--api-access".to_string(),
        format!("--kubeconfig={}", config.display()),
        "--owner-read-timeout=1s".to_string(),
    ];
    let instance = Instance::start(&cluster, work.path().join("webhook.log"), &flags);
    let ns = namespace(&cluster, "cut");
    cluster.kubectl_ok(
        &["-n", &ns, "apply", "-f", "-"],
        Some(&local_queue("cached")),
    );
    let cached = raycluster("cached", &[(QUEUE_LABEL, "cached")], None);
    poll("the instance to see LocalQueue cached", || {
        let answer = instance.mutate(&cluster, &ns, &cached);
        let warned = answer_warnings(&answer)
            .iter()
            .any(|w| w.contains("no LocalQueue"));
        (!warned).then_some(())
    });
    let metrics = instance.metrics();
    let fallbacks = metric_sum(
        &metrics,
        "kueue_ray_webhook_cluster_owner_fallbacks_total",
        &[],
    );

    relay.cut();

    let answer = instance.mutate(&cluster, &ns, &cached);
    assert_eq!(answer["allowed"], true, "{answer:#}");
    let warnings = answer_warnings(&answer);
    assert!(
        !warnings.iter().any(|w| w.contains("no LocalQueue")),
        "the cached LocalQueue was forgotten: {warnings:#?}"
    );
    let absent = raycluster("absent", &[(QUEUE_LABEL, "absent")], None);
    let answer = instance.mutate(&cluster, &ns, &absent);
    assert_eq!(answer["allowed"], true, "{answer:#}");
    let warnings = answer_warnings(&answer);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("no LocalQueue \"absent\"")),
        "{warnings:#?}"
    );
    // An owner the cache has not got: the live read cannot complete, so the
    // reference is trusted (a child: not suspended), said and counted.
    let owner = rayjob_owner("ghost", "00000000-0000-4000-8000-000000000001");
    let child = raycluster("child", &[], Some(owner));
    let answer = instance.mutate(&cluster, &ns, &child);
    assert_eq!(answer["allowed"], true, "{answer:#}");
    let warnings = answer_warnings(&answer);
    assert!(
        warnings.iter().any(|w| w.contains(
            "could not check that the controller RayJob \"ghost\" created this RayCluster"
        ) && w.contains("its reference was trusted")),
        "{warnings:#?}"
    );
    assert!(
        !patch_suspends(&answer),
        "a trusted child is not suspended: {answer:#}"
    );
    let metrics = instance.metrics();
    let after = metric_sum(
        &metrics,
        "kueue_ray_webhook_cluster_owner_fallbacks_total",
        &[],
    );
    assert_eq!(
        after,
        fallbacks + 1.0,
        "the fallback was not counted:\n{metrics}"
    );
    let failed_reads = metric_sum(&metrics, "kueue_ray_webhook_cluster_owner_reads_total", &[])
        - metric_sum(
            &metrics,
            "kueue_ray_webhook_cluster_owner_reads_total",
            &[("result", "found")],
        )
        - metric_sum(
            &metrics,
            "kueue_ray_webhook_cluster_owner_reads_total",
            &[("result", "not_found")],
        );
    assert!(
        failed_reads >= 1.0,
        "no failed live read counted:\n{metrics}"
    );
    drop(instance);
}

/// RBAC that forbids the watches (a user with no binding): the webhook
/// starts, logs why, turns ready in the degraded state after
/// `--sync-timeout` (the metric says so), and answers.
#[test]
fn with_the_watches_forbidden_it_starts_degraded_and_answers() {
    let cluster = Cluster::up();
    let work = tempfile::tempdir().unwrap();
    let pki = cluster.dir.join("run/pki");
    let (cert, key) = (
        work.path().join("nobody.crt"),
        work.path().join("nobody.key"),
    );
    let ext = work.path().join("client.ext");
    std::fs::write(
        &ext,
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    let script = format!(
        "set -e; openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out {key}; \
         openssl req -new -key {key} -subj /CN=e2e-no-rights | \
         openssl x509 -req -CA {ca} -CAkey {cakey} -set_serial 0x{serial:x} -days 1 -sha256 -extfile {ext} -out {cert}",
        key = key.display(),
        cert = cert.display(),
        ca = pki.join("ca.crt").display(),
        cakey = pki.join("ca.key").display(),
        ext = ext.display(),
        serial = std::process::id(),
    );
    let mut sh = Command::new("sh");
    sh.args(["-c", &script]);
    let out = run(sh, None);
    assert_eq!(out.code, 0, "signing: {}", out.stderr);
    let port = cluster.var("APISERVER_PORT").parse().unwrap();
    let config = work.path().join("nobody.kubeconfig");
    std::fs::write(
        &config,
        kubeconfig(&cluster, port, &cert, &key, "e2e-no-rights"),
    )
    .unwrap();
    let flags = [
        "--api-access".to_string(),
        format!("--kubeconfig={}", config.display()),
        "--sync-timeout=3s".to_string(),
    ];
    let instance = Instance::start(&cluster, work.path().join("webhook.log"), &flags);
    let metrics = instance.metrics();
    assert_eq!(
        metric_sum(&metrics, "kueue_ray_webhook_cluster_degraded", &[]),
        1.0,
        "{metrics}"
    );
    for watch in WATCHES {
        let synced = metric_sum(
            &metrics,
            "kueue_ray_webhook_cluster_watch_synced",
            &[("watch", watch)],
        );
        assert_eq!(
            synced, 0.0,
            "the forbidden {watch} watch synced:\n{metrics}"
        );
    }
    let log = instance.log();
    assert!(
        log.contains("forbidden") && log.contains("e2e-no-rights"),
        "the log does not say the watches are forbidden:\n{log}"
    );
    assert!(log.contains("ready, degraded"), "{log}");
    let ns = namespace(&cluster, "forbidden");
    let labels = [(QUEUE_LABEL, "user-queue")];
    let answer = instance.mutate(&cluster, &ns, &raycluster("answered", &labels, None));
    assert_eq!(answer["allowed"], true, "{answer:#}");
    assert!(patch_suspends(&answer), "{answer:#}");
}
