//! The policy flags of `serve`, given as flags and as their environment twins.

mod common;

use common::{CertDir, Client, Server, http11_config, raycluster, review};
use serde_json::json;

#[tokio::test]
async fn policy_flags_come_from_the_environment_too() {
    common::install_crypto_provider();
    let certs = CertDir::new();
    let mut command = Server::command(&certs.cert(), &certs.key());
    command
        .env("KUEUE_RAY_WEBHOOK_DEFAULT_QUEUE", "team-queue")
        .env("KUEUE_RAY_WEBHOOK_MAX_WORKER_GROUPS", "1");
    let server = Server::spawn(command);
    let mut client = Client::connect(server.addr, http11_config(&certs.ca.cert_pem))
        .await
        .unwrap();

    // No queue label: the default queue from the environment is applied.
    let body =
        serde_json::to_vec(&review("u-1", "CREATE", Some(raycluster("rc", None)), None)).unwrap();
    let reply = client.post("/mutate?timeout=10s", body).await.unwrap();
    let response = common::assert_review_answer(&reply, "u-1", true);
    assert_eq!(response["allowed"], true, "{response}");
    let warnings = response["warnings"].to_string();
    assert!(warnings.contains("team-queue"), "{warnings}");

    // Two worker groups are one too many with KUEUE_RAY_WEBHOOK_MAX_WORKER_GROUPS=1.
    let mut object = raycluster("rc", Some("user-queue"));
    let group = object["spec"]["workerGroupSpecs"][0].clone();
    let mut second = group.clone();
    second["groupName"] = json!("second");
    object["spec"]["workerGroupSpecs"] = json!([group, second]);
    let body = serde_json::to_vec(&review("u-2", "CREATE", Some(object), None)).unwrap();
    let reply = client.post("/validate", body).await.unwrap();
    let response = common::assert_review_answer(&reply, "u-2", false);
    assert_eq!(response["allowed"], false);
    assert_eq!(
        response["status"]["details"]["causes"][0]["message"],
        "Too many: 2: must have at most 1 items"
    );
}

#[test]
fn an_invalid_default_queue_is_a_usage_error() {
    let certs = CertDir::new();
    let output = Server::command(&certs.cert(), &certs.key())
        .args(["--default-queue", "Not_A_Queue"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--default-queue \"Not_A_Queue\""),
        "{stderr}"
    );
}

#[test]
fn saying_the_server_labels_cron_runs_without_api_access_is_a_usage_error() {
    let certs = CertDir::new();
    let output = Server::command(&certs.cert(), &certs.key())
        .arg("--cron-runs-labelled")
        .env_remove("KUEUE_RAY_WEBHOOK_API_ACCESS")
        .env_remove("KUEUE_RAY_WEBHOOK_KUBECONFIG")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--cron-runs-labelled needs --api-access"),
        "{stderr}"
    );
}

#[test]
fn the_effective_policy_is_logged_once_with_where_each_value_came_from() {
    let certs = CertDir::new();
    let mut command = Server::command(&certs.cert(), &certs.key());
    command
        .args(["--kueue-version", "v0.18.1", "--max-worker-groups", "3"])
        .env("KUEUE_RAY_WEBHOOK_ELASTIC_JOBS", "false")
        .env("POD_NAMESPACE", "webhook-ns")
        .env_remove("KUEUE_RAY_WEBHOOK_EXCLUDE_NAMESPACE")
        .env_remove("KUEUE_RAY_WEBHOOK_MULTIKUEUE_RAY_AUTOSCALING")
        .env_remove("KUEUE_RAY_WEBHOOK_TAS_TOPOLOGY_SPREADING");
    let server = Server::spawn(command);
    let line = server.wait_for_log("effective policy");
    assert_eq!(
        line["policy"],
        "kueue-version=v0.18 (flag) max-worker-groups=3 (flag) default-queue=none (default) \
         manage-jobs-without-queue-name=false (default) rayservice-workload=rayservice (profile) \
         rayjob-workload=rayjob (default) elastic-jobs=false (environment) exclude-namespace=kube-system,webhook-ns (default) \
         multikueue-ray-autoscaling=false (default) cron-runs-labelled=false (api-access) \
         deny-unqueued-cron-runs=false (default) tas-topology-spreading=false (default)",
        "{line}"
    );
    assert_eq!(server.logs_with("effective policy").len(), 1);
    assert!(server.logs_with("newer than the newest release").is_empty());
}

#[test]
fn a_release_newer_than_the_table_gets_its_newest_row_with_a_warning() {
    let certs = CertDir::new();
    let server = Server::start(&certs.cert(), &certs.key(), &["--kueue-version", "0.21"]);
    let warning = server.wait_for_log("newer than the newest release");
    assert_eq!(warning["level"], "WARN", "{warning}");
    let policy = server.wait_for_log("effective policy");
    let policy = policy["policy"].as_str().unwrap();
    assert!(
        policy.contains("max-worker-groups=17 (profile)")
            && policy.contains("elastic-jobs=true (profile)"),
        "{policy}"
    );
}

#[test]
fn a_release_before_the_table_is_a_usage_error_naming_the_known_ones() {
    let certs = CertDir::new();
    for (release, says) in [
        ("v0.13", "v0.13 is older"),
        ("next", "\"next\" is not a Kueue release"),
    ] {
        let output = Server::command(&certs.cert(), &certs.key())
            .args(["--kueue-version", release])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(says), "{stderr}");
        assert!(
            stderr.contains("known releases are v0.14 to v0.20"),
            "{stderr}"
        );
    }
}
