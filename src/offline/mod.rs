//! Offline commands: `check` (a CI dry run over manifests) and `review` (one
//! AdmissionReview from a file). Both answer through [`admission::review`],
//! the server's own handler, so their verdicts are the server's by construction.
//!
//! The words: [`load`] reads each manifest document (with [`yaml`]'s
//! positions); [`dry_run`] sends it as a CREATE and gives a [`dry_run::Checked`]:
//! a Ray object's [`dry_run::CheckedObject`] (its verdict admitted, denied or
//! unmanaged, with violations, patch and warnings, each placed on a line), or a
//! [`dry_run::SkippedDocument`] with its reason; [`report`] renders them.

pub mod dry_run;
mod json_stream;
pub mod load;
pub mod report;
pub mod yaml;

use crate::admission::{self, Webhook};
use crate::policy::{LocalQueues, Policy};
use dry_run::Checked;
use report::Report;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit status when any object was denied (or unmanaged, with `--require-managed`).
const FAILED: u8 = 1;
/// Exit status for usage errors, unreadable or unparsable input, and runs
/// that found nothing to check.
const BAD_INPUT: u8 = 2;

/// What `check` runs with: the command line's choices, as plain data.
#[derive(Clone, Debug)]
pub struct CheckConfig {
    /// Manifest files, directories or `-` for standard input.
    pub paths: Vec<PathBuf>,
    /// Namespace of objects whose manifest names none.
    pub namespace: String,
    pub output: OutputFormat,
    /// Where the mutated objects go: a directory, or `-` for standard output.
    pub patched: Option<PathBuf>,
    /// Largest file (or standard input) read, in bytes.
    pub max_file_size: u64,
    /// An unmanaged Ray object fails the run.
    pub require_managed: bool,
    /// A run that finds no `ray.io` object passes (else exit 2).
    pub allow_empty: bool,
    /// Files or directories of Kueue LocalQueues; when given, the policy
    /// knows the LocalQueues (these, and those among the checked documents).
    pub local_queues: Vec<PathBuf>,
    /// The policy; `local_queues` is filled in from the manifests.
    pub policy: Policy,
}

/// Report formats of `check`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputFormat {
    /// One line per object, its findings as `file:line:column: ...`, a summary line.
    #[default]
    Text,
    /// One JSON report.
    Json,
    /// JUnit XML, one test case per object and skipped document.
    Junit,
    /// GitHub Actions workflow commands (annotations on the pull request).
    Github,
    /// SARIF 2.1.0, for code-scanning upload.
    Sarif,
    /// A Markdown summary table per file (`$GITHUB_STEP_SUMMARY`, PR comments).
    Markdown,
}

/// What `review` runs with.
#[derive(Clone, Debug)]
pub struct ReviewConfig {
    /// An AdmissionReview request (JSON), or `-` for standard input.
    pub file: PathBuf,
    /// The webhook that receives the request.
    pub webhook: Webhook,
    pub policy: Policy,
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("kueue-ray-webhook: {message}");
    ExitCode::from(BAD_INPUT)
}

/// `check`: reads the manifests one document at a time, admits each Ray
/// object as a CREATE, then prints the report. Exits 0 when all were
/// admitted, 1 when any was denied (or unmanaged with `--require-managed`),
/// 2 when the input could not be read or judged, or held no `ray.io` object
/// (nothing is reported then, so a partial run never looks complete).
pub fn run_check(mut config: CheckConfig) -> ExitCode {
    warn_about_release(&config.policy);
    match check(&mut config) {
        Ok(code) => code,
        Err(message) => fail(message),
    }
}

fn check(config: &mut CheckConfig) -> Result<ExitCode, String> {
    let inputs = load::inputs(&config.paths).map_err(|e| e.to_string())?;
    // Standard input can be read once: kept when LocalQueues are read first.
    let mut stdin_text = None;
    if !config.local_queues.is_empty() {
        let queues = read_local_queues(config, &inputs, &mut stdin_text)?;
        config.policy.local_queues = Some(queues);
    }
    let report = check_inputs(config, &inputs, &mut stdin_text)?;
    if !report.found_ray_objects() && !config.allow_empty {
        return Err(nothing_found(config, &report));
    }
    let rendered = render(&report, config.output)
        .map_err(|message| format!("cannot write the report: {message}"))?;
    write_outputs(config, &report, &rendered)?;
    Ok(if report.failed() {
        ExitCode::from(FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

/// The LocalQueues in `--local-queues` and among the checked documents
/// (read first, so a LocalQueue after the object that names it still counts).
fn read_local_queues(
    config: &CheckConfig,
    inputs: &[load::Input],
    stdin_text: &mut Option<String>,
) -> Result<LocalQueues, String> {
    let queue_inputs = load::inputs(&config.local_queues).map_err(|e| e.to_string())?;
    let mut queues = LocalQueues::default();
    for input in queue_inputs.iter().chain(inputs) {
        let (name, text) = read(input, config.max_file_size, stdin_text)?;
        load::parse_stream(&name, &text, |document| {
            if let Some((namespace, queue)) = local_queue(&document, &config.namespace) {
                queues.insert(&namespace, &queue);
            }
            Ok(())
        })
        .map_err(|e| e.to_string())?;
    }
    Ok(queues)
}

/// Every document of `inputs` checked as it is parsed, into one report.
fn check_inputs(
    config: &CheckConfig,
    inputs: &[load::Input],
    stdin_text: &mut Option<String>,
) -> Result<Report, String> {
    let mut report = Report {
        require_managed: config.require_managed,
        policy: config.policy.knobs(),
        ..Report::default()
    };
    let keep_patched = config.patched.is_some();
    let mut index = 0;
    for input in inputs {
        let (name, text) = read(input, config.max_file_size, stdin_text)?;
        load::parse_stream(&name, &text, |document| {
            index += 1;
            let checked = dry_run::check_document(
                &document,
                index,
                &config.namespace,
                &config.policy,
                keep_patched,
            )
            .map_err(|e| e.to_string())?;
            match checked {
                Checked::Object(object) => report.add_object(*object),
                Checked::Skipped(skipped) => report.add_skipped(skipped),
            }
            Ok(())
        })
        .map_err(|e| e.to_string())?;
    }
    Ok(report)
}

/// The error of a run that found no `ray.io` object (a mistyped path, an empty directory).
fn nothing_found(config: &CheckConfig, report: &Report) -> String {
    let paths: Vec<String> = config
        .paths
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    format!(
        "no ray.io object found in {} ({} documents skipped); nothing was checked \
         (--allow-empty accepts this)",
        paths.join(" "),
        report.summary.skipped
    )
}

/// The report in the format asked for.
fn render(report: &Report, output: OutputFormat) -> Result<String, String> {
    match output {
        OutputFormat::Text => Ok(report.text()),
        OutputFormat::Json => report.json().map_err(|e| e.to_string()),
        OutputFormat::Junit => report.junit().map_err(|e| e.to_string()),
        OutputFormat::Github => Ok(report.github()),
        OutputFormat::Sarif => report.sarif().map_err(|e| e.to_string()),
        OutputFormat::Markdown => Ok(report.markdown()),
    }
}

/// The patched objects (`--patched`), then the report: on standard output,
/// or on standard error when the patched objects take standard output.
fn write_outputs(config: &CheckConfig, report: &Report, rendered: &str) -> Result<(), String> {
    let patched_to_stdout = config
        .patched
        .as_ref()
        .is_some_and(|p| p.as_os_str() == load::STDIN);
    match &config.patched {
        None => {}
        Some(_) if patched_to_stdout => {
            let yaml = report::patched_yaml(&report.objects);
            print(std::io::stdout(), yaml.as_bytes())?;
        }
        Some(dir) => report::write_patched_dir(dir, &report.objects)?,
    }
    if patched_to_stdout {
        print(std::io::stderr(), rendered.as_bytes())
    } else {
        print(std::io::stdout(), rendered.as_bytes())
    }
}

/// Reads one input, standard input only once (kept in `stdin_text`).
fn read(
    input: &load::Input,
    max_size: u64,
    stdin_text: &mut Option<String>,
) -> Result<(String, String), String> {
    if *input == load::Input::Stdin
        && let Some(text) = stdin_text
    {
        return Ok((load::STDIN.to_owned(), text.clone()));
    }
    let (name, text) = load::read_input(input, max_size).map_err(|e| e.to_string())?;
    if *input == load::Input::Stdin {
        *stdin_text = Some(text.clone());
    }
    Ok((name, text))
}

/// The namespace and name of a Kueue LocalQueue document (`kueue.x-k8s.io`
/// `v1beta1` or `v1beta2`), in the manifest's namespace or `default_namespace`.
fn local_queue(document: &load::Document, default_namespace: &str) -> Option<(String, String)> {
    let node = &document.node;
    let text = |node: Option<&yaml::Node>| match node.map(|n| &n.content) {
        Some(yaml::Content::Scalar(serde_json::Value::String(s))) if !s.is_empty() => {
            Some(s.clone())
        }
        _ => None,
    };
    let api_version = text(node.get("apiVersion"))?;
    let is_local_queue = matches!(
        api_version.as_str(),
        "kueue.x-k8s.io/v1beta1" | "kueue.x-k8s.io/v1beta2"
    ) && text(node.get("kind")).as_deref() == Some("LocalQueue");
    if !is_local_queue {
        return None;
    }
    let metadata = node.get("metadata");
    let name = text(metadata.and_then(|m| m.get("name")))?;
    let namespace = text(metadata.and_then(|m| m.get("namespace")))
        .unwrap_or_else(|| default_namespace.to_owned());
    Some((namespace, name))
}

/// `--kueue-version` newer than the release table: said once, on standard error.
fn warn_about_release(policy: &crate::policy::Policy) {
    if let Some(warning) = policy.release_warning() {
        eprintln!("kueue-ray-webhook: warning: {warning}");
    }
}

fn print(mut out: impl Write, bytes: &[u8]) -> Result<(), String> {
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write the output: {e}"))
}

/// `review`: prints the exact answer body the server would send. A non-200
/// answer (the input is not a review the server can decide) is still
/// printed, with a message on standard error and exit status 2. A body
/// larger than the server's limit gets the server's 413 message, unread.
pub fn run_review(args: ReviewConfig) -> ExitCode {
    warn_about_release(&args.policy);
    let limit = admission::MAX_BODY_BYTES as u64;
    let mut body = Vec::new();
    let read = if args.file.as_os_str() == load::STDIN {
        std::io::stdin()
            .take(limit + 1)
            .read_to_end(&mut body)
            .map(drop)
    } else {
        std::fs::File::open(&args.file)
            .and_then(|file| file.take(limit + 1).read_to_end(&mut body))
            .map(drop)
    };
    if let Err(error) = read {
        return fail(format!("cannot read {}: {error}", args.file.display()));
    }
    if body.len() as u64 > limit {
        return fail(format!(
            "the server would answer HTTP 413: {}",
            admission::body_too_large_message()
        ));
    }
    let answer = admission::review(args.webhook, &body, &args.policy);
    if let Err(message) = print(std::io::stdout(), &answer.body) {
        return fail(message);
    }
    if answer.status == 200 {
        ExitCode::SUCCESS
    } else {
        fail(format!(
            "the server would answer HTTP {} ({})",
            answer.status, answer.content_type
        ))
    }
}
