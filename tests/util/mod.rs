//! Test helpers: simulated sites with a matching configuration file, and raw local HTTP servers.

#![allow(dead_code)]

pub mod browser;
pub mod crash;
pub mod daemon;
pub mod hook;
pub mod postgres;
pub mod raw_http;
#[path = "../shared/skip.rs"]
mod skip;
pub mod smtp;

pub use skip::skipped;

use nbwarden::arcgis::signin::SignIns;
use nbwarden::arcgis::Client;
use nbwarden::config::{self, Config, Flavor};
use nbwarden::simulator::{Scenario, Simulator, SimulatorHandle};
use std::path::{Path, PathBuf};

/// The password of the simulator's default admin account.
pub const ADMIN_PASSWORD: &str = "simulator";

/// A running simulator and a configuration file that points at it.
pub struct Site {
    pub sim: SimulatorHandle,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
}

impl Site {
    /// Serves `scenario` (YAML) as a `flavor` site; `auth` and `poll` are YAML flow maps.
    pub async fn start(scenario: &str, flavor: Flavor, auth: Option<&str>, poll: &str) -> Site {
        let scenario: Scenario = config::parse_yaml(Path::new("scenario.yaml"), scenario).expect("scenario parses");
        let sim = Simulator::start(&scenario, flavor, "127.0.0.1:0".parse().unwrap()).await.expect("simulator starts");
        let default_auth =
            format!("{{ portal_url: '{}', username: admin, password: {ADMIN_PASSWORD} }}", sim.portal_url());
        let yaml = format!(
            "targets:\n  - name: sim\n    flavor: {}\n    admin_url: '{}'\n    auth: {}\n    poll: {poll}\nhttp: {{ listen: '' }}\nrules: [rules/]\nstate: {{ path: state.db }}\n",
            flavor.as_str(),
            sim.admin_url(),
            auth.map(|a| a.replace("{portal}", &sim.portal_url())).unwrap_or(default_auth),
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rules")).unwrap();
        let config_path = dir.path().join("nbwarden.yaml");
        std::fs::write(&config_path, yaml).unwrap();
        Site { sim, dir, config_path }
    }

    /// A site with the default admin sign-in and a 5 s timeout.
    pub async fn simple(scenario: &str, flavor: Flavor) -> Site {
        Site::start(scenario, flavor, None, "{ timeout: 5s }").await
    }

    /// `scenario` as an Enterprise site polled as `poll` (a YAML flow map), with the rule file `rules`.
    pub async fn with_rules(scenario: &str, poll: &str, rules: &str) -> Site {
        let site = Site::start(scenario, Flavor::Enterprise, None, poll).await;
        site.rules(rules);
        site
    }

    /// The same, polled only when told (`once`).
    pub async fn ruled(scenario: &str, rules: &str) -> Site {
        Site::with_rules(scenario, "{ timeout: 5s }", rules).await
    }

    /// Replaces the target's `auth:` block (`{portal}` stands for the simulator's Portal URL).
    pub fn set_auth(&self, auth: &str) {
        let auth = auth.replace("{portal}", &self.sim.portal_url());
        self.rewrite(|line| {
            if line.trim_start().starts_with("auth:") {
                format!("    auth: {auth}")
            } else {
                line.to_string()
            }
        });
    }

    /// Writes `rules/test.yaml`.
    pub fn rules(&self, yaml: &str) {
        std::fs::write(self.dir.path().join("rules/test.yaml"), yaml).unwrap();
    }

    /// Adds `key: value` to the target (e.g. `limits`, `tls`).
    pub fn target_key(&self, key: &str, value: &str) {
        self.rewrite(|line| {
            if line.starts_with("    poll:") {
                format!("    {key}: {value}\n{line}")
            } else {
                line.to_string()
            }
        });
    }

    /// Serves the HTTP endpoint on a free loopback port; returns its base URL.
    pub fn serve_http(&self) -> String {
        let port = smtp::free_port();
        self.rewrite(|line| {
            if line.starts_with("http:") {
                format!("http: {{ listen: '127.0.0.1:{port}' }}")
            } else {
                line.to_string()
            }
        });
        format!("http://127.0.0.1:{port}")
    }

    /// Adds a target (a YAML flow map) before the simulator's.
    pub fn add_target(&self, entry: &str) {
        self.rewrite(|line| if line == "targets:" { format!("targets:\n  - {entry}") } else { line.to_string() });
    }

    /// Appends top-level configuration (`email:`, `owners:`).
    pub fn top(&self, yaml: &str) {
        let mut text = std::fs::read_to_string(&self.config_path).unwrap();
        text.push('\n');
        text.push_str(yaml);
        text.push('\n');
        std::fs::write(&self.config_path, text).unwrap();
    }

    /// Makes every queued retry due now, as if its backoff had passed.
    pub async fn make_retries_due(&self) {
        sqlx::any::install_default_drivers();
        let url = format!("sqlite://{}", self.dir.path().join("state.db").display());
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        sqlx::query("UPDATE actions SET next_attempt_ms = 0 WHERE status = 'pending'").execute(&pool).await.unwrap();
        pool.close().await;
    }

    /// Runs the binary with this site's configuration.
    pub async fn run(&self, args: &[&str]) -> std::process::Output {
        self.run_env(args, &[]).await
    }

    /// Runs the binary with this site's configuration and extra environment.
    pub async fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
        let mut all = vec!["--config", self.config_path.to_str().unwrap()];
        all.extend_from_slice(args);
        nbwarden(&all, env).await
    }

    /// Points the target at another admin URL (a raw test server).
    pub fn point_at(&self, admin_url: &str) {
        let current = self.sim.admin_url();
        self.rewrite(|line| line.replace(&current, admin_url));
    }

    pub fn rewrite(&self, edit: impl Fn(&str) -> String) {
        let text = std::fs::read_to_string(&self.config_path).unwrap();
        let lines: Vec<String> = text.lines().map(edit).collect();
        std::fs::write(&self.config_path, lines.join("\n")).unwrap();
    }

    pub fn config(&self) -> Config {
        config::load(&self.config_path).expect("test configuration loads")
    }

    pub fn client(&self) -> Client {
        self.client_with(&SignIns::new(nbwarden::clock::system()))
    }

    /// A client of the first target signing in through `sign_ins`.
    pub fn client_with(&self, sign_ins: &std::sync::Arc<SignIns>) -> Client {
        Client::new(&self.config().targets[0], sign_ins).expect("client builds")
    }
}

/// A small deterministic generator for the crash tests' random points.
pub struct Lcg(u64);

impl Lcg {
    /// Seeded from `NBWARDEN_CRASH_SEED`, or the time; prints the seed, so that a failure of
    /// `test` can be replayed. Returns the seed too.
    pub fn seeded(test: &str) -> (u64, Lcg) {
        let seed = std::env::var("NBWARDEN_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
        });
        eprintln!("{test}: {seed} (NBWARDEN_CRASH_SEED={seed} replays it)");
        (seed, Lcg(seed))
    }

    /// A number below `below`.
    pub fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

/// Esri's lockout, as its documents give it rather than as the simulator copies it: 5 refused
/// sign-ins within 15 minutes lock an account (enterprise.arcgis.com, "user account lockout
/// policy"; arcgis-api.md §10). No 15 minutes may hold 5 of the refusals at `refused_at`.
pub fn assert_never_locked(refused_at: &[i64]) {
    const LOCKING_REFUSALS: usize = 5;
    const WINDOW_MS: i64 = 15 * 60_000;
    for (i, first) in refused_at.iter().enumerate() {
        let within = refused_at[i..].iter().take_while(|&&at| at < first + WINDOW_MS).count();
        assert!(within < LOCKING_REFUSALS, "{within} refused sign-ins within 15 minutes from {first}: {refused_at:?}");
    }
}

/// Runs the real binary.
pub async fn nbwarden(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_nbwarden"));
    command.args(args).env_remove("NBWARDEN_CONFIG").env_remove("NBWARDEN_LOG");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().await.expect("the binary runs")
}

/// Runs the binary until it reaches failpoint `point` (a `failpoints` build), then kills it with
/// SIGKILL, as a crash would; its standard error so far. `None` (a loud skip) without the feature.
pub async fn killed_at(args: &[&str], point: &str) -> Option<String> {
    use tokio::io::AsyncBufReadExt;
    if !cfg!(feature = "failpoints") {
        skipped("killed_at", "build without the `failpoints` feature (scripts/test enables it)");
        return None;
    }
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_nbwarden"));
    command.args(args).env_remove("NBWARDEN_CONFIG").env("NBWARDEN_FAILPOINT", point);
    let mut child = command.stderr(std::process::Stdio::piped()).kill_on_drop(true).spawn().expect("runs");
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut said = String::new();
    let reached = async {
        while let Ok(Some(line)) = lines.next_line().await {
            said.push_str(&line);
            said.push('\n');
            if line.starts_with(&format!("failpoint {point}")) {
                return true;
            }
        }
        false
    };
    let started = std::time::Instant::now();
    let reached = tokio::time::timeout(std::time::Duration::from_secs(60), reached).await.unwrap_or(false);
    // A while at the failpoint before the kill: a process that went on would have acted by then.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let exited = child.try_wait().expect("the child's state");
    if exited.is_none() {
        child.kill().await.expect("SIGKILL");
    }
    let waited = started.elapsed();
    assert!(reached, "the process never reached failpoint {point} ({exited:?} after {waited:?}): {said}");
    Some(said)
}

/// Standard output or error as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The JSON lines of `once --json`.
pub fn json_lines(output: &std::process::Output) -> Vec<serde_json::Value> {
    text(&output.stdout).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

/// The `action` lines of `--json` output.
pub fn action_lines(output: &std::process::Output) -> Vec<serde_json::Value> {
    json_lines(output).into_iter().filter(|l| l["kind"] == "action").collect()
}

/// The `action` lines, as (rule, action, job, outcome).
pub fn actions(output: &std::process::Output) -> Vec<(String, String, String, String)> {
    action_lines(output)
        .into_iter()
        .map(|l| {
            let s = |k: &str| l[k].as_str().unwrap_or_default().to_string();
            (s("rule"), s("action"), l["job_ids"][0].as_str().unwrap_or_default().to_string(), s("outcome"))
        })
        .collect()
}

/// A TLS endpoint (certificate for 127.0.0.1 from the test CA) that forwards to `backend`.
pub async fn tls_proxy(backend: std::net::SocketAddr) -> std::net::SocketAddr {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls");
    let certs: Vec<CertificateDer> =
        CertificateDer::pem_file_iter(dir.join("server.pem")).unwrap().collect::<Result<_, _>>().unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let provider = std::sync::Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(socket).await else { return };
                let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await else { return };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    addr
}
