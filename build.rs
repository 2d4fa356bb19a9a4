//! Puts the git commit the binary was built from into `NBWARDEN_COMMIT`, for `--version`:
//! `$NBWARDEN_COMMIT` when set (a build without the repository, e.g. an image), else
//! `git rev-parse --short=12 HEAD`, else `unknown`.

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
}
