//! Puts the git commit the binary was built from into `NBWARDEN_COMMIT`, for `--version`:
//! `$NBWARDEN_COMMIT` when set (a build without the repository, e.g. an image), else
//! `git rev-parse --short=12 HEAD`, else `unknown`.
//!
//! On x86-64 Linux, linked for the machine it builds on, the binary's memory at rest is made smaller
//! (see BENCHMARKS.md, the idle daemon); `NBWARDEN_PLAIN_LINK=1` turns both off:
//! - with glibc 2.36 or later, its relative relocations are packed (`DT_RELR`): the loader reads
//!   about 20 kB of them at start instead of 1.2 MB, which the daemon would otherwise keep resident;
//! - with rust-lld, the default linker since Rust 1.90, the functions of `link-order.txt` (those a
//!   daemon runs, written by `scripts/link-order`) come first, so that they share a few pages of
//!   code instead of keeping most of it resident.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=NBWARDEN_COMMIT");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    let commit = std::env::var("NBWARDEN_COMMIT").ok().filter(|c| !c.trim().is_empty()).or_else(|| {
        let out = Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).output().ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        out.status.success().then(|| text.trim().to_string())
    });
    println!("cargo:rustc-env=NBWARDEN_COMMIT={}", commit.as_deref().unwrap_or("unknown"));
    println!("cargo:rerun-if-env-changed=NBWARDEN_PLAIN_LINK");
    println!("cargo:rerun-if-changed=link-order.txt");
    if !links_for_this_machine() {
        return;
    }
    if glibc_at_least(2, 36) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    let order = std::path::Path::new(&var("CARGO_MANIFEST_DIR")).join("link-order.txt");
    if order.is_file() && links_with_rust_lld() {
        println!("cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}", order.display());
        // Names a newer compiler or dependency no longer has are skipped, without a warning each.
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_default()
}

/// An x86-64 Linux (glibc) build, not cross-compiled, and not asked to link plainly.
fn links_for_this_machine() -> bool {
    var("NBWARDEN_PLAIN_LINK") != "1" && var("TARGET") == "x86_64-unknown-linux-gnu" && var("HOST") == var("TARGET")
}

/// Whether this machine's C library is glibc `major.minor` or later (`getconf GNU_LIBC_VERSION`).
fn glibc_at_least(major: u32, minor: u32) -> bool {
    let Ok(out) = Command::new("getconf").arg("GNU_LIBC_VERSION").output() else { return false };
    let text = String::from_utf8_lossy(&out.stdout);
    version_at_least(text.trim().strip_prefix("glibc ").unwrap_or_default(), major, minor)
}

/// Whether rustc links with its own lld (its default from 1.90 on this target): no linker set for
/// the target (`RUSTC_LINKER`) or in the flags, and rustc 1.90 or later.
fn links_with_rust_lld() -> bool {
    if !var("RUSTC_LINKER").is_empty() || var("CARGO_ENCODED_RUSTFLAGS").contains("link") {
        return false;
    }
    let Ok(out) = Command::new(var("RUSTC")).arg("-V").output() else { return false };
    let text = String::from_utf8_lossy(&out.stdout);
    version_at_least(text.split_whitespace().nth(1).unwrap_or_default(), 1, 90)
}

/// Whether a version `a.b[.c…]` is `major.minor` or later.
fn version_at_least(version: &str, major: u32, minor: u32) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (major, minor)
}
