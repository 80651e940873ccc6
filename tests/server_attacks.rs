//! One client must not take admission down: connection-slot, budget and
//! admin-port attacks against the real binary over TLS on loopback, each with more connections than
//! the server's small `--max-connections`. While an attack runs, a
//! legitimate review on a fresh connection is answered within the
//! apiserver's webhook timeout (5 s, the bound the manifests ship; the
//! answer takes milliseconds when it comes at all), and the server's memory
//! stays within its budget plus an allowance. The attacker connects from
//! 127.0.0.2, the legitimate client from 127.0.0.1: two source addresses.

mod common;

use axum::body::Bytes;
use common::*;
use hyper::body::{Body, Frame};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MIB: u64 = 1024 * 1024;
/// The attacked servers' connection cap; every attack opens more.
const CAP: &str = "16";
/// Connections each attack keeps open or reopening.
const ATTACKERS: usize = 48;
/// The budget the attacked servers run with.
const BUDGET: u64 = 16 * MIB;
/// Memory beyond the budget the server may use under attack.
const ALLOWANCE: u64 = 48 * MIB;
/// The apiserver's budget for one webhook call (`timeoutSeconds` in
/// manifests/base/webhooks.yaml).
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);
/// Legitimate reviews sent during each attack.
const ROUNDS: usize = 6;

/// The server's bound after which a request sending nothing is stalled
/// (`server::slots::NO_PROGRESS`).
const STALLED: Duration = Duration::from_millis(500);

/// One attack at a time: each floods its server with hundreds of
/// connections, and several at once starve a 2-core machine enough that a
/// legitimate TLS handshake misses its deadline, which is not what these
/// tests are about.
static ONE_ATTACK_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A server with the small cap (one address may take all of it unless
/// `extra` says otherwise) and the small budget. The TLS handshake deadline
/// is generous (3 s, within the webhook's 5 s) so that a loaded CI machine
/// does not fail a legitimate handshake: room is made by eviction, which is
/// what is tested, not by the deadline.
fn attacked(extra: &[&str]) -> (CertDir, Server) {
    install_crypto_provider();
    let certs = CertDir::new();
    let mut flags = vec!["--max-inflight-bytes", "16Mi", "--request-timeout", "4s"];
    for flag in ["--max-connections", "--max-peer-connections"] {
        if !extra.contains(&flag) {
            flags.extend([flag, CAP]);
        }
    }
    flags.extend(extra);
    let server = Server::start(&certs.cert(), &certs.key(), &flags);
    (certs, server)
}

/// A TCP connection to `addr` from the attacker's address.
async fn attacker_tcp(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind("127.0.0.2:0".parse().unwrap())?;
    let tcp = socket.connect(addr).await?;
    tcp.set_nodelay(true)?;
    Ok(tcp)
}

/// A TLS connection from the attacker's address.
async fn attacker_tls(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = attacker_tcp(addr).await?;
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
}

/// Runs `ATTACKERS` copies of `attack` (each looping until `stop`), waits
/// until the server holds `fill` connections, then checks: every legitimate review on
/// a fresh connection is answered within [`WEBHOOK_TIMEOUT`], and RSS stays
/// under the budget plus the allowance. Returns the metrics text after.
async fn while_attacked<F, Fut>(server: &Server, certs: &CertDir, fill: f64, attack: F) -> String
where
    F: Fn(SocketAddr, Arc<rustls::ClientConfig>, Arc<AtomicBool>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let stop = Arc::new(AtomicBool::new(false));
    let mut attackers = tokio::task::JoinSet::new();
    for _ in 0..ATTACKERS {
        attackers.spawn(attack(
            server.addr,
            http11_config(&certs.ca.cert_pem),
            stop.clone(),
        ));
    }
    let full = r#"kueue_ray_webhook_connections{listener="admission",state="#;
    poll(
        || {
            let metrics = server.metrics();
            let open: f64 = metrics
                .lines()
                .filter(|line| line.starts_with(full))
                .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
                .sum();
            (open >= fill).then_some(())
        },
        || format!("the attack never filled the cap: {}", server.metrics()),
    );
    // A flood that has just opened is all in progress (none is stalled for
    // the server's no-progress bound yet), so none may be evicted: the test
    // is about a sustained attack, so it starts once the flood is older.
    tokio::time::sleep(2 * STALLED).await;
    let mut peak = 0;
    for round in 0..ROUNDS {
        tokio::time::sleep(Duration::from_millis(200)).await;
        peak = peak.max(rss(server.pid()));
        let uid = format!("legitimate-{round}");
        let answered = tokio::time::timeout(WEBHOOK_TIMEOUT, async {
            let mut client = Client::connect(server.addr, http11_config(&certs.ca.cert_pem))
                .await
                .map_err(|error| error.to_string())?;
            client
                .post("/validate", create_review(&uid))
                .await
                .map_err(|error| error.to_string())
        })
        .await;
        let reply = match answered {
            Ok(Ok(reply)) => reply,
            Ok(Err(error)) => panic!(
                "round {round}: {error}\n{}\nlast refusal: {:?}",
                server.metrics(),
                server.logs_with("refused").last()
            ),
            Err(_) => panic!(
                "round {round}: no answer within the webhook timeout\n{}",
                server.metrics()
            ),
        };
        assert_review_answer(&reply, &uid, false);
        peak = peak.max(rss(server.pid()));
    }
    stop.store(true, Ordering::Release);
    attackers.abort_all();
    assert!(
        peak < BUDGET + ALLOWANCE,
        "RSS {} MiB under attack, over the budget ({} MiB) + {} MiB",
        peak / MIB,
        BUDGET / MIB,
        ALLOWANCE / MIB
    );
    println!("peak RSS {:.1} MiB", peak as f64 / MIB as f64);
    server.metrics()
}

/// Whether the server evicted connections to make room (the attack reached
/// the cap, and `/metrics` shows it); which ones depends on timing.
fn made_room(metrics: &str) -> bool {
    ["handshaking", "idle", "no_progress", "refused"]
        .iter()
        .any(|reason| evicted(metrics, "admission", reason) > 0.0)
}

fn evicted(metrics: &str, listener: &str, reason: &str) -> f64 {
    metric(
        metrics,
        &format!(
            r#"kueue_ray_webhook_connections_evicted_total{{listener="{listener}",reason="{reason}"}}"#
        ),
    )
}

/// Reads until the server closes the connection (or the attack stops).
async fn hold_until_closed<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) {
    let mut sink = [0u8; 1024];
    while let Ok(Ok(read)) = tokio::time::timeout(PATIENCE, stream.read(&mut sink)).await {
        if read == 0 {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_tcp_connections_that_never_start_tls_do_not_stop_reviews() {
    let _one = ONE_ATTACK_AT_A_TIME.lock().await;
    let (certs, server) = attacked(&[]);
    let metrics = while_attacked(&server, &certs, 16.0, |addr, _, stop| async move {
        while !stop.load(Ordering::Acquire) {
            let Ok(mut tcp) = attacker_tcp(addr).await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            hold_until_closed(&mut tcp).await;
        }
    })
    .await;
    assert!(made_room(&metrics), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_silent_after_tls_do_not_stop_reviews() {
    let _one = ONE_ATTACK_AT_A_TIME.lock().await;
    let (certs, server) = attacked(&[]);
    let metrics = while_attacked(&server, &certs, 16.0, |addr, config, stop| async move {
        while !stop.load(Ordering::Acquire) {
            let Ok(mut tls) = attacker_tls(addr, config.clone()).await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            hold_until_closed(&mut tls).await;
        }
    })
    .await;
    assert!(made_room(&metrics), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_connections_with_a_review_now_and_then_do_not_stop_reviews() {
    let _one = ONE_ATTACK_AT_A_TIME.lock().await;
    let (certs, server) = attacked(&[]);
    let metrics = while_attacked(&server, &certs, 16.0, |addr, config, stop| async move {
        while !stop.load(Ordering::Acquire) {
            let Ok(tls) = attacker_tls(addr, config.clone()).await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let Ok((mut sender, connection)) =
                hyper::client::conn::http1::handshake(TokioIo::new(tls)).await
            else {
                continue;
            };
            let driver = tokio::spawn(connection);
            // One valid review every second, for as long as the server keeps
            // the connection.
            while !stop.load(Ordering::Acquire) {
                if sender.ready().await.is_err() {
                    break;
                }
                let request = post_request("/validate", create_review("attacker"));
                if sender.send_request(request).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            driver.abort();
        }
    })
    .await;
    assert!(made_room(&metrics), "{metrics}");
}

/// A body that sends nothing, ever.
struct Silent;

impl Body for Silent {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Pending
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_streams_declaring_a_body_they_never_send_do_not_stop_reviews() {
    let _one = ONE_ATTACK_AT_A_TIME.lock().await;
    let (certs, server) = attacked(&[]);
    let metrics = while_attacked(&server, &certs, 16.0, |addr, _, stop| {
        let config = h2_config(&certs.ca.cert_pem);
        async move {
            while !stop.load(Ordering::Acquire) {
                let Ok(tls) = attacker_tls(addr, config.clone()).await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let Ok((sender, connection)) =
                    hyper::client::conn::http2::handshake::<_, _, Silent>(
                        TokioExecutor::new(),
                        TokioIo::new(tls),
                    )
                    .await
                else {
                    continue;
                };
                let driver = tokio::spawn(connection);
                let mut streams = tokio::task::JoinSet::new();
                for _ in 0..8 {
                    let mut sender = sender.clone();
                    let stop = stop.clone();
                    streams.spawn(async move {
                        // Each stream reopened after its answer.
                        while !stop.load(Ordering::Acquire) {
                            let request = hyper::Request::post("/validate")
                                .header("host", "localhost")
                                .header("content-length", "10")
                                .body(Silent)
                                .unwrap();
                            if sender.send_request(request).await.is_err() {
                                return;
                            }
                        }
                    });
                }
                while streams.join_next().await.is_some() {}
                driver.abort();
            }
        }
    })
    .await;
    assert!(made_room(&metrics), "{metrics}");
}

/// An HTTP/1.1 body that keeps arriving, one byte every 100 ms: never
/// stalled, so the cap cannot evict it; only the peer's share bounds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_at_its_share_of_slots_leaves_room_for_other_addresses() {
    let _one = ONE_ATTACK_AT_A_TIME.lock().await;
    let (certs, server) = attacked(&["--max-peer-connections", "8"]);
    let metrics = while_attacked(&server, &certs, 8.0, move |addr, config, stop| async move {
        while !stop.load(Ordering::Acquire) {
            let Ok(mut tls) = attacker_tls(addr, config.clone()).await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let head =
                "POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n";
            if tls.write_all(head.as_bytes()).await.is_err() {
                continue;
            }
            while !stop.load(Ordering::Acquire) && tls.write_all(b" ").await.is_ok() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    })
    .await;
    assert!(made_room(&metrics), "{metrics}");
}

/// Connections that declare a 1 MiB body and send none: a declared length
/// reserves nothing, so they hold no budget, and a review is not refused
/// for want of room (before: 429). A cap high enough that the budget, not
/// the slots, is what the attack aims at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_bodies_that_never_arrive_hold_no_budget() {
    let _one = ONE_ATTACK_AT_A_TIME.lock().await;
    let (certs, server) = attacked(&["--max-connections", "128", "--max-peer-connections", "128"]);
    let metrics = while_attacked(&server, &certs, 40.0, |addr, config, stop| async move {
        while !stop.load(Ordering::Acquire) {
            let Ok(mut tls) = attacker_tls(addr, config.clone()).await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let head = format!(
                "POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n",
                MIB
            );
            if tls.write_all(head.as_bytes()).await.is_ok() {
                hold_until_closed(&mut tls).await;
            }
        }
    })
    .await;
    assert_eq!(
        metric(
            &metrics,
            r#"kueue_ray_webhook_http_errors_total{code="429"}"#
        ),
        0.0,
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "kueue_ray_webhook_inflight_bytes"),
        0.0,
        "{metrics}"
    );
}

/// The kubelet's probe timeout is 1 s (the Deployment sets none); twice
/// that here, for a busy test machine. A probe that waits for a slot
/// behind a flood waits for connections to time out: seconds.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET path` as the kubelet probes: a fresh connection, an answer within
/// [`PROBE_TIMEOUT`] or none (status 0).
fn probe(admin: SocketAddr, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(&admin, PROBE_TIMEOUT) else {
        return (0, "no connection".into());
    };
    let started = std::time::Instant::now();
    let _ = stream.set_read_timeout(Some(PROBE_TIMEOUT));
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return (0, "cannot send".into());
    }
    let mut response = Vec::new();
    let mut buffer = [0u8; 1024];
    while started.elapsed() < PROBE_TIMEOUT {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => response.extend_from_slice(&buffer[..read]),
            Err(_) => return (0, "no answer within the probe timeout".into()),
        }
    }
    status_and_body(&String::from_utf8_lossy(&response))
}

/// The admin port flooded by one address with more keep-alive connections
/// than its cap, each probing `/livez` every second (never idle for the
/// idle timeout): the kubelet's probes (another address, fresh
/// connections) are still answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_probes_are_answered_while_the_admin_port_is_flooded() {
    let _one = ONE_ATTACK_AT_A_TIME.lock().await;
    let (_certs, server) = attacked(&[]);
    let admin = server.admin;
    let stop = Arc::new(AtomicBool::new(false));
    let mut attackers = tokio::task::JoinSet::new();
    for _ in 0..ATTACKERS {
        let stop = stop.clone();
        attackers.spawn(async move {
            while !stop.load(Ordering::Acquire) {
                let Ok(mut tcp) = attacker_tcp(admin).await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                // A probe every second on the same connection: never idle
                // long enough for the idle timeout.
                let mut buffer = [0u8; 1024];
                while !stop.load(Ordering::Acquire) {
                    let sent = tcp
                        .write_all(b"GET /livez HTTP/1.1\r\nHost: localhost\r\n\r\n")
                        .await;
                    if sent.is_err() || !matches!(tcp.read(&mut buffer).await, Ok(1..)) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        });
    }
    poll(
        || {
            let metrics = server.metrics();
            let held: f64 = ["idle", "handshaking", "reading", "deciding"]
                .iter()
                .map(|state| {
                    metric(
                        &metrics,
                        &format!(
                            r#"kueue_ray_webhook_connections{{listener="admin",state="{state}"}}"#
                        ),
                    )
                })
                .sum();
            (held >= 16.0).then_some(())
        },
        || format!("the flood never held the admin port: {}", server.metrics()),
    );
    let probes = tokio::task::spawn_blocking(move || {
        (0..10)
            .map(|_| {
                std::thread::sleep(Duration::from_millis(100));
                probe(admin, "/readyz")
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    stop.store(true, Ordering::Release);
    attackers.abort_all();
    for probe in &probes {
        assert_eq!(probe, &(200, "ok\n".to_owned()), "{probes:?}");
    }
}
