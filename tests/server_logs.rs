//! Logging stays off the request path: with a standard output nobody reads
//! (a full pipe), reviews are still answered, and the lines that could not
//! be queued are dropped, counted in `/metrics` and reported in the log
//! once it is read again.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Command, Stdio};

/// The server process, killed when the test ends (a failing one too).
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads `reader` until both listeners have logged their addresses.
fn addresses(reader: &mut impl BufRead) -> (SocketAddr, SocketAddr) {
    let (mut admission, mut admin) = (None, None);
    let mut line = String::new();
    while admission.is_none() || admin.is_none() {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "the server exited"
        );
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        let addr = value["addr"].as_str().and_then(|addr| addr.parse().ok());
        match value["listener"].as_str() {
            Some("admission") if addr.is_some() => admission = addr,
            Some("admin") if addr.is_some() => admin = addr,
            _ => {}
        }
    }
    (admission.unwrap(), admin.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unread_stdout_does_not_stop_reviews_and_dropped_lines_are_counted() {
    install_crypto_provider();
    let certs = CertDir::new();
    let mut command = Server::command(&certs.cert(), &certs.key());
    // Every request logged (and hyper's own debug lines): far more than the
    // pipe and the queue hold.
    command
        .args(["--shutdown-delay", "0s", "--log-level", "debug"])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = Killed(command.spawn().unwrap());
    let mut stdout = BufReader::new(child.0.stdout.take().unwrap());
    let (addr, admin) = addresses(&mut stdout);
    // From here on nobody reads standard output until the reviews are done.
    let mut answered = 0;
    let mut client = Client::connect(addr, http11_config(&certs.ca.cert_pem))
        .await
        .unwrap();
    for round in 0..2000 {
        let uid = format!("r{round}");
        let reply = tokio::time::timeout(PATIENCE, client.post("/validate", create_review(&uid)))
            .await
            .unwrap_or_else(|_| panic!("review {round} not answered: logging blocks requests"))
            .unwrap();
        assert_review_answer(&reply, &uid, false);
        answered += 1;
    }
    let metrics = admin_get_blocking(admin, "/metrics").1;
    let dropped = metric(&metrics, "kueue_ray_webhook_log_lines_dropped_total");
    assert!(dropped > 0.0, "{metrics}");
    // Read again: the next line after the drops says how many.
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    // One more request produces the line that carries the report.
    let reply = client
        .post("/validate", create_review("after"))
        .await
        .unwrap();
    assert_review_answer(&reply, "after", false);
    // A graceful stop writes out the queue.
    drop(client);
    let status = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    poll(
        || child.0.try_wait().unwrap(),
        || "the server did not exit".into(),
    );
    let text = reader.join().unwrap();
    let reported: f64 = text
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| {
            line["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("log lines dropped"))
        })
        .filter_map(|line| line["dropped_lines"].as_f64())
        .sum();
    assert!(reported > 0.0, "no drop reported after {answered} reviews");
    println!("{answered} reviews answered; {dropped} lines dropped, {reported} reported");
}
