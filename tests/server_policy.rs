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
