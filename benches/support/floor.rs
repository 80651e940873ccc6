//! The floor server: the webhook's TLS configuration and connection handling
//! ([`serve_tls`], [`server_config_from_files`]) in front of a handler that
//! reads the body and answers a precomputed AdmissionReview. What the webhook
//! costs beyond it is the cost of deciding.
//!
//! It runs as its own process (the benchmark binary started again with
//! `--floor`), so its CPU time and memory are read from `/proc` exactly like
//! the webhook's.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kueue_ray_webhook::server::{
    ConnectionSettings, Shutdown, TlsFiles, TlsSource, serve_tls, server_config_from_files,
};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::net::TcpListener;

/// The first argument that makes a benchmark binary serve as the floor.
pub const FLAG: &str = "--floor";
/// The header that names the body, hence the answer, of a request.
pub const BODY_HEADER: &str = "x-bench-body";
/// The webhook's limit on request bodies, applied here too.
const BODY_LIMIT: usize = 7 * 1024 * 1024;

/// How the floor is started: `--floor LISTEN CERT KEY ANSWERS_JSON`, where
/// the JSON maps a body name to the exact answer the webhook gives it.
pub fn args(listen: &str, cert: &str, key: &str, answers: &str) -> Vec<String> {
    [FLAG, listen, cert, key, answers]
        .map(String::from)
        .to_vec()
}

type Answers = Arc<HashMap<String, Bytes>>;

async fn answer(State(answers): State<Answers>, headers: HeaderMap, body: Bytes) -> Response {
    // The extractor has read the whole body, as the webhook does before deciding.
    drop(body);
    let name = headers
        .get(BODY_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match answers.get(name) {
        Some(answer) => {
            ([(header::CONTENT_TYPE, "application/json")], answer.clone()).into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            format!("no precomputed answer for {BODY_HEADER}: {name:?}\n"),
        )
            .into_response(),
    }
}

/// When this process was started as the floor ([`FLAG`] first): serves
/// until killed and returns the exit code; `None` otherwise.
pub fn serve_if_asked() -> Option<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.split_first() {
        Some((flag, rest)) if flag == FLAG => Some(main(rest)),
        _ => None,
    }
}

/// Serves until killed. `args` are what follows [`FLAG`].
fn main(args: &[String]) -> ExitCode {
    let [listen, cert, key, answers] = args else {
        eprintln!("usage: {FLAG} LISTEN CERT KEY ANSWERS_JSON");
        return ExitCode::from(2);
    };
    match serve(listen, cert, key, answers) {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("floor server: {why}");
            ExitCode::FAILURE
        }
    }
}

fn serve(listen: &str, cert: &str, key: &str, answers: &str) -> Result<(), String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let text = std::fs::read(answers).map_err(|e| format!("{answers}: {e}"))?;
    let map: HashMap<String, String> =
        serde_json::from_slice(&text).map_err(|e| format!("{answers}: {e}"))?;
    let answers: Answers = Arc::new(map.into_iter().map(|(k, v)| (k, Bytes::from(v))).collect());
    let files = TlsFiles {
        cert: PathBuf::from(cert),
        key: PathBuf::from(key),
        client_ca: None,
    };
    let config = server_config_from_files(&files).map_err(|e| e.to_string())?;
    let router = Router::new()
        .fallback(answer)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(answers);
    // The same runtime as `serve` with its default worker threads.
    let runtime =
        kueue_ray_webhook::server::runtime(kueue_ray_webhook::server::DEFAULT_WORKER_THREADS)
            .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| format!("{listen}: {e}"))?;
        serve_tls(
            listener,
            TlsSource::fixed(config),
            router,
            ConnectionSettings::default(),
            Shutdown::default(),
            std::sync::Arc::new(kueue_ray_webhook::server::metrics::Metrics::new()),
        )
        .await;
        Ok(())
    })
}
