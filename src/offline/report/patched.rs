//! The admitted objects after mutation, as YAML (`--patched`).

use crate::offline::dry_run::CheckedObject;
use std::fmt::Write as _;
use std::path::Path;

/// The admitted objects as they would be stored, each YAML document headed
/// by a comment naming its source.
pub fn patched_yaml<'a>(objects: impl IntoIterator<Item = &'a CheckedObject>) -> String {
    let mut out = String::new();
    for object in objects {
        if let Some(yaml) = &object.patched {
            let _ = writeln!(out, "---\n# source: {}", object.source);
            out.push_str(yaml);
        }
    }
    out
}

/// Writes each admitted object to `dir` as `<namespace>.<kind>.<name>.yaml`
/// (lower-case kind; a `-2`, `-3` … suffix when two objects share a name,
/// e.g. the same object in two files).
pub fn write_patched_dir(dir: &Path, objects: &[CheckedObject]) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut taken = std::collections::HashSet::new();
    for object in objects.iter().filter(|v| v.patched.is_some()) {
        let stem = format!(
            "{}.{}.{}",
            object.namespace,
            object.kind.to_lowercase(),
            object.name.replace('*', "")
        )
        .replace(['/', '\\'], "_");
        let mut name = format!("{stem}.yaml");
        let mut copy = 1;
        while !taken.insert(name.clone()) {
            copy += 1;
            name = format!("{stem}-{copy}.yaml");
        }
        let text = patched_yaml([object]);
        let path = dir.join(&name);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}
