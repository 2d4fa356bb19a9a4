//! Puts the git commit the binary was built from into `NBWARDEN_COMMIT`, for `--version`:
//! `$NBWARDEN_COMMIT` when set (a build without the repository, e.g. an image), else
//! `git rev-parse --short=12 HEAD`, else `unknown`.
//!
//! On x86-64 Linux with glibc 2.36 or later, the binary's relative relocations are packed
//! (`DT_RELR`): the loader then reads about 20 kB of them at start instead of 1.2 MB, which the
//! daemon would otherwise keep resident (see BENCHMARKS.md, the idle daemon).

fn main() {
    println!("cargo:rerun-if-env-changed=NBWARDEN_COMMIT");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    let commit = std::env::var("NBWARDEN_COMMIT").ok().filter(|c| !c.trim().is_empty()).or_else(|| {
        let out = std::process::Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).output().ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        out.status.success().then(|| text.trim().to_string())
    });
    println!("cargo:rustc-env=NBWARDEN_COMMIT={}", commit.as_deref().unwrap_or("unknown"));
    if packs_relative_relocations() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether this build links for the machine it runs on (x86-64 Linux, glibc), whose C library
/// applies packed relocations (2.36 or later; `getconf GNU_LIBC_VERSION`) and whose default linker
/// (rust-lld, since Rust 1.90; GNU ld since 2.38) writes them. `NBWARDEN_PLAIN_RELOCS=1` turns it off.
fn packs_relative_relocations() -> bool {
    println!("cargo:rerun-if-env-changed=NBWARDEN_PLAIN_RELOCS");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    if var("NBWARDEN_PLAIN_RELOCS") == "1"
        || var("TARGET") != "x86_64-unknown-linux-gnu"
        || var("HOST") != var("TARGET")
    {
        return false;
    }
    let Ok(out) = std::process::Command::new("getconf").arg("GNU_LIBC_VERSION").output() else { return false };
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.trim().strip_prefix("glibc ").unwrap_or_default();
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (2, 36)
}
