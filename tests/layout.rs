//! The layout is checkable: the arrows between the top-level modules of
//! `src/` are the ones `docs/architecture.md` allows ("Allowed
//! dependencies"), only `cli` knows clap, and `policy` does no I/O. Read
//! as cheaply as a grep: `crate::x` in each source line, comments left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The table of `docs/architecture.md`: module → the modules it may use.
fn allowed() -> BTreeMap<String, BTreeSet<String>> {
    let doc = std::fs::read_to_string(root().join("docs/architecture.md")).unwrap();
    let section = doc
        .split("## Allowed dependencies")
        .nth(1)
        .expect("docs/architecture.md has an \"Allowed dependencies\" section");
    let section = section.split("\n## ").next().unwrap();
    let names = |cell: &str| -> BTreeSet<String> {
        cell.split(',')
            .map(|name| name.trim().trim_matches('`').to_owned())
            .filter(|name| !name.is_empty())
            .collect()
    };
    let mut table = BTreeMap::new();
    for line in section.lines().filter(|line| line.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').collect();
        assert_eq!(cells.len(), 2, "a row is | module | may use |: {line}");
        let module = cells[0].trim().trim_matches('`').to_owned();
        table.insert(module, names(cells[1]));
    }
    assert!(!table.is_empty(), "no table in \"Allowed dependencies\"");
    table
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The top-level module a file of `src/` belongs to (`None`: the crate root
/// or the binary).
fn module_of(file: &Path) -> Option<String> {
    let relative = file.strip_prefix(root().join("src")).unwrap();
    let first = relative.components().next()?.as_os_str().to_str()?;
    match first.strip_suffix(".rs") {
        Some("lib" | "main") => None,
        Some(module) => Some(module.to_owned()),
        None => Some(first.to_owned()),
    }
}

/// The lines of `file` that are not unit tests (a `tests.rs` file is all
/// tests; elsewhere what follows `#[cfg(test)]`), without `//` comments.
fn code_lines(file: &Path) -> Vec<(usize, String)> {
    let relative = file.strip_prefix(root().join("src")).unwrap();
    if relative.file_name().is_some_and(|name| name == "tests.rs")
        || relative.components().any(|c| c.as_os_str() == "tests")
    {
        return Vec::new();
    }
    let text = std::fs::read_to_string(file).unwrap();
    text.lines()
        .enumerate()
        .take_while(|(_, line)| line.trim() != "#[cfg(test)]")
        .map(|(i, line)| (i + 1, line.split("//").next().unwrap_or("").to_owned()))
        .collect()
}

/// The top-level modules named by `crate::x` in `line`, braces included
/// (`use crate::{a, b::c}`).
fn used_modules(line: &str) -> Vec<String> {
    let mut used = Vec::new();
    for (at, _) in line.match_indices("crate::") {
        let rest = &line[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => used.push(std::mem::take(&mut item)),
                    _ => item.push(c),
                }
            }
            used.push(item);
        } else {
            used.push(rest.to_owned());
        }
    }
    used.iter()
        .map(|path| {
            path.trim()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|module| !module.is_empty())
        .collect()
}

#[test]
fn every_arrow_between_top_level_modules_is_one_the_architecture_page_allows() {
    let allowed = allowed();
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).unwrap();
    let declared: BTreeSet<String> = lib
        .lines()
        .filter_map(|line| line.trim().strip_prefix("pub mod "))
        .map(|rest| rest.trim_end_matches(';').to_owned())
        .collect();
    let listed: BTreeSet<String> = allowed.keys().cloned().collect();
    assert_eq!(
        declared, listed,
        "src/lib.rs's modules and the table of docs/architecture.md differ"
    );
    let mut wrong = Vec::new();
    for file in rust_files(&root().join("src")) {
        let Some(module) = module_of(&file) else {
            continue;
        };
        for (number, line) in code_lines(&file) {
            for used in used_modules(&line) {
                if used != module && !allowed[&module].contains(&used) {
                    let file = file.strip_prefix(root()).unwrap().display();
                    wrong.push(format!("{file}:{number}: {module} -> {used}"));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "arrows docs/architecture.md does not allow:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn only_cli_knows_clap_and_policy_does_no_io() {
    let mut wrong = Vec::new();
    for file in rust_files(&root().join("src")) {
        let module = module_of(&file);
        for (number, line) in code_lines(&file) {
            let place = format!("{}:{number}", file.strip_prefix(root()).unwrap().display());
            if line.contains("clap") && !matches!(module.as_deref(), Some("cli") | None) {
                wrong.push(format!("{place}: clap outside cli"));
            }
            let io = [
                "std::fs",
                "std::net",
                "std::io",
                "std::env",
                "std::process",
                "tokio",
                "println!",
                "eprintln!",
            ];
            if module.as_deref() == Some("policy") && io.iter().any(|word| line.contains(word)) {
                wrong.push(format!("{place}: I/O in policy"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_reader_finds_each_form_of_a_path() {
    assert_eq!(
        used_modules("use crate::policy::{Policy, Rule};"),
        ["policy"]
    );
    assert_eq!(
        used_modules("use crate::{admission::Webhook, policy};"),
        ["admission", "policy"]
    );
    assert_eq!(
        used_modules("    let x = crate::server::run(crate::offline::f());"),
        ["server", "offline"]
    );
    assert!(used_modules("use super::json;").is_empty());
}
