//! `docs/cli.md`, the CLI reference, is the real binary's `--help` for every
//! command, so the reference cannot drift from the flags clap defines.
//!
//! After a change of the flags or their help, regenerate it with `make bless`
//! and review the diff. Blessing is an ignored test that refuses to run
//! without `BLESS=1`, and the comparison refuses to run with it (as
//! `tests/golden.rs`), so no test run can both rewrite the file and pass.

use std::path::PathBuf;
use std::process::Command;

/// The commands whose help the reference holds, top level first.
const COMMANDS: [&[&str]; 5] = [&[], &["serve"], &["check"], &["review"], &["certs"]];

const BIN: &str = env!("CARGO_BIN_EXE_kueue-ray-webhook");

fn reference_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/cli.md")
}

fn blessing() -> bool {
    std::env::var_os("BLESS").is_some()
}

/// `kueue-ray-webhook <command> --help`, with none of the webhook's
/// environment variables set (help shows the value of a set one).
fn help(command: &[&str]) -> String {
    let mut run = Command::new(BIN);
    run.args(command).arg("--help");
    for (name, _) in std::env::vars_os() {
        let name_text = name.to_string_lossy();
        if name_text.starts_with("KUEUE_RAY_WEBHOOK_") || name_text == "POD_NAMESPACE" {
            run.env_remove(&name);
        }
    }
    let output = run.output().expect("run the binary");
    assert!(output.status.success(), "{command:?} --help: {output:?}");
    String::from_utf8(output.stdout).expect("help is UTF-8")
}

/// The reference as the binary's help renders it now.
fn reference() -> String {
    let mut text = String::from(
        "# CLI reference\n\
         \n\
         Every command's `--help`, generated from the binary (`make bless`\n\
         rewrites this file; `tests/cli_reference.rs` fails when it and `--help`\n\
         disagree). Every flag has an environment twin, `KUEUE_RAY_WEBHOOK_` +\n\
         the flag in upper snake case, shown as `[env: …]`. What the policy\n\
         flags mean: [policy.md](policy.md); serving: [serving.md](serving.md);\n\
         `check` and `review`: [check.md](check.md).\n",
    );
    for command in COMMANDS {
        let name = ["kueue-ray-webhook"]
            .iter()
            .chain(command)
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        text += &format!("\n## `{name}`\n\n```text\n{}```\n", help(command));
    }
    text
}

#[test]
fn the_cli_reference_is_the_binarys_help() {
    assert!(
        !blessing(),
        "BLESS is set: this run would compare nothing; unset it (or run `make bless`)"
    );
    let written = std::fs::read_to_string(reference_file()).unwrap_or_default();
    let now = reference();
    if written != now {
        let first = written
            .lines()
            .zip(now.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(written.lines().count().min(now.lines().count()));
        panic!(
            "docs/cli.md disagrees with --help from line {} on (written {:?}, --help {:?}); \
             run `make bless` and review the diff",
            first + 1,
            written.lines().nth(first),
            now.lines().nth(first)
        );
    }
}

#[test]
#[ignore = "rewrites docs/cli.md: run with BLESS=1 (make bless)"]
fn bless() {
    assert!(
        blessing(),
        "bless rewrites docs/cli.md: run it with BLESS=1"
    );
    std::fs::write(reference_file(), reference()).expect("write docs/cli.md");
}
