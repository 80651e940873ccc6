//! Marks the tests that read the real KubeRay samples as ignored, not
//! passed, in a plain clone without them.
//!
//! The samples live beside the repository (`../shared/samples/kuberay`). When
//! they are absent and `CI` is unset, this sets `cfg(no_shared_samples)`, and
//! those tests carry `#[cfg_attr(no_shared_samples, ignore = "...")]`: the
//! summary counts them as ignored. In CI (`CI` set) the cfg is never set, so
//! they run, and fail when the folder is missing.

use std::path::Path;

const SAMPLES: &str = "../shared/samples/kuberay";

fn main() {
    println!("cargo::rustc-check-cfg=cfg(no_shared_samples)");
    println!("cargo::rerun-if-env-changed=CI");
    let marker = Path::new(SAMPLES).join("SOURCE.md");
    if marker.is_file() {
        // Rerun when they go away (a missing file is always stale).
        println!("cargo::rerun-if-changed={}", marker.display());
        return;
    }
    // Watch `../shared` if it exists, so the samples appearing there is
    // noticed; a path that does not exist would rerun (and rebuild) every
    // time. Without `../shared` at all, `touch build.rs` after adding it.
    if Path::new("../shared").is_dir() {
        println!("cargo::rerun-if-changed=../shared");
    } else {
        println!("cargo::rerun-if-changed=build.rs");
    }
    if std::env::var_os("CI").is_none() {
        println!("cargo::rustc-cfg=no_shared_samples");
    }
}
