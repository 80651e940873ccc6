//! Offline commands: `check` (a CI dry run over manifests) and `review` (one
//! AdmissionReview from a file). Both answer through [`admission::review`],
//! the server's own handler, so their verdicts are the server's by construction.

pub mod admit;
pub mod load;
pub mod report;

use crate::admission::{self, Webhook};
use crate::cli::PolicyArgs;
use admit::Outcome;
use report::Report;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit status when any object was denied.
const DENIED: u8 = 1;
/// Exit status for usage errors and unreadable or unparsable input.
const BAD_INPUT: u8 = 2;

/// Flags of `check`.
#[derive(Clone, Debug, clap::Args)]
pub struct CheckArgs {
    /// Manifest files, directories (searched recursively for *.yaml, *.yml,
    /// *.json) or `-` for standard input.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Namespace of objects whose manifest names none.
    #[arg(long, short = 'n', default_value = "default")]
    pub namespace: String,
    /// Report format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: OutputFormat,
    /// Write the admitted objects, mutated, as YAML: one file per object in
    /// this directory, or a stream on standard output for `-` (the report
    /// then goes to standard error).
    #[arg(long, value_name = "DIR|-")]
    pub patched: Option<PathBuf>,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// One line per object and a summary line.
    #[default]
    Text,
    /// One JSON report.
    Json,
    /// JUnit XML, one test case per object.
    Junit,
}

/// Flags of `review`.
#[derive(Clone, Debug, clap::Args)]
pub struct ReviewArgs {
    /// An AdmissionReview request (JSON), or `-` for standard input.
    #[arg(default_value = load::STDIN, value_name = "FILE|-")]
    pub file: PathBuf,
    /// The webhook that receives the request.
    #[arg(long, value_enum, default_value_t)]
    pub webhook: WebhookArg,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// [`Webhook`] as a command-line value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum WebhookArg {
    #[default]
    Mutate,
    Validate,
}

impl From<WebhookArg> for Webhook {
    fn from(arg: WebhookArg) -> Self {
        match arg {
            WebhookArg::Mutate => Webhook::Mutate,
            WebhookArg::Validate => Webhook::Validate,
        }
    }
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("kueue-ray-webhook: {message}");
    ExitCode::from(BAD_INPUT)
}

/// `check`: reads every manifest first, admits each Ray object as a CREATE,
/// then prints the report. Exits 0 when all were admitted, 1 when any was
/// denied, 2 when the input could not be read or judged (nothing is reported
/// then, so a partial run never looks complete).
pub fn run_check(args: CheckArgs) -> ExitCode {
    let policy = match args.policy.policy() {
        Ok(policy) => policy,
        Err(message) => return fail(message),
    };
    warn_about_release(&policy);
    let documents = match load::load(&args.paths) {
        Ok(documents) => documents,
        Err(error) => return fail(error),
    };
    let mut report = Report {
        policy: policy.knobs(),
        ..Report::default()
    };
    for (index, document) in documents.iter().enumerate() {
        match admit::admit(document, index, &args.namespace, &policy) {
            Ok(Outcome::Reviewed(verdict)) => report.add_verdict(*verdict),
            Ok(Outcome::Skipped(skipped)) => report.add_skipped(skipped),
            Err(error) => return fail(error),
        }
    }
    let rendered = match args.output {
        OutputFormat::Text => Ok(report.text()),
        OutputFormat::Json => report.json().map_err(|e| e.to_string()),
        OutputFormat::Junit => report.junit().map_err(|e| e.to_string()),
    };
    let rendered = match rendered {
        Ok(rendered) => rendered,
        Err(message) => return fail(format!("cannot write the report: {message}")),
    };
    let patched_to_stdout = args
        .patched
        .as_ref()
        .is_some_and(|p| p.as_os_str() == load::STDIN);
    let written = match &args.patched {
        None => Ok(()),
        Some(_) if patched_to_stdout => report::patched_yaml(&report.objects)
            .map_err(|e| e.to_string())
            .and_then(|yaml| print(std::io::stdout(), yaml.as_bytes())),
        Some(dir) => report::write_patched_dir(dir, &report.objects),
    };
    if let Err(message) = written {
        return fail(message);
    }
    let printed = if patched_to_stdout {
        print(std::io::stderr(), rendered.as_bytes())
    } else {
        print(std::io::stdout(), rendered.as_bytes())
    };
    if let Err(message) = printed {
        return fail(message);
    }
    if report.summary.denied > 0 {
        ExitCode::from(DENIED)
    } else {
        ExitCode::SUCCESS
    }
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
/// printed, with a message on standard error and exit status 2.
pub fn run_review(args: ReviewArgs) -> ExitCode {
    let policy = match args.policy.policy() {
        Ok(policy) => policy,
        Err(message) => return fail(message),
    };
    warn_about_release(&policy);
    let mut body = Vec::new();
    let read = if args.file.as_os_str() == load::STDIN {
        std::io::stdin().read_to_end(&mut body).map(drop)
    } else {
        std::fs::read(&args.file).map(|bytes| body = bytes)
    };
    if let Err(error) = read {
        return fail(format!("cannot read {}: {error}", args.file.display()));
    }
    let answer = admission::review(args.webhook.into(), &body, &policy);
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
