//! A real SMTP server on loopback (aiosmtpd, through `smtp_server.py`) and the parsed messages it received.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/util/smtp_server.py");

/// A Python that has aiosmtpd: `$NBWARDEN_TEST_PYTHON`, Debian's, or the one on PATH.
fn python() -> &'static str {
    static FOUND: OnceLock<String> = OnceLock::new();
    FOUND.get_or_init(|| {
        let candidates = [std::env::var("NBWARDEN_TEST_PYTHON").unwrap_or_default(), "/usr/bin/python3".into(), "python3".into()];
        candidates
            .into_iter()
            .filter(|c| !c.is_empty())
            .find(|c| Command::new(c).args(["-c", "import aiosmtpd"]).output().is_ok_and(|o| o.status.success()))
            .expect("the SMTP tests need aiosmtpd: apt-get install -y python3-aiosmtpd (or pip install aiosmtpd==1.4.6); .ci/run installs it")
    })
}

/// A free loopback port (bound, then released).
/// Ports are handed out below the kernel's ephemeral range (where it picks ports for outgoing
/// connections and port 0), each once per test process, and only if they can be bound now: a
/// port released here is not taken by another test or a connection before its user binds it.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let _ = NEXT.compare_exchange(0, 20_000 + (std::process::id() % 8_000) as u16, Ordering::SeqCst, Ordering::SeqCst);
    loop {
        let port = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = if port >= 32_000 { 20_000 + port % 12_000 } else { port };
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A running SMTP server; stopped on drop.
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    pub out: tempfile::TempDir,
}

impl SmtpServer {
    /// Starts on `port` (a free one when `None`), optionally requiring AUTH with `user:password`.
    pub fn start(port: Option<u16>, auth: Option<&str>) -> SmtpServer {
        let port = port.unwrap_or_else(free_port);
        let out = tempfile::tempdir().unwrap();
        let mut command = Command::new(python());
        command.args([SCRIPT, "serve", "--port", &port.to_string(), "--out", out.path().to_str().unwrap()]);
        if let Some(auth) = auth {
            command.args(["--auth", auth]);
        }
        let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("python starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP server did not start");
        SmtpServer { child, port, out }
    }

    /// While set, recipients whose local part starts with "busy" get 451.
    pub fn set_busy(&self, busy: bool) {
        let flag = self.out.path().join("busy");
        if busy {
            std::fs::write(flag, "").unwrap();
        } else {
            let _ = std::fs::remove_file(flag);
        }
    }

    /// While `Some`, the server takes that long to accept each message.
    pub fn set_slow(&self, delay: Option<std::time::Duration>) {
        let flag = self.out.path().join("slow");
        match delay {
            Some(d) => std::fs::write(flag, d.as_millis().to_string()).unwrap(),
            None => {
                let _ = std::fs::remove_file(flag);
            }
        }
    }

    /// While `Some`, messages to recipients whose local part starts with "slow" take that long
    /// to accept (a slow mailbox beside quick ones).
    pub fn set_slow_recipients(&self, delay: Option<std::time::Duration>) {
        let flag = self.out.path().join("slow-recipients");
        match delay {
            Some(d) => std::fs::write(flag, d.as_millis().to_string()).unwrap(),
            None => {
                let _ = std::fs::remove_file(flag);
            }
        }
    }

    /// The files of one extension the server wrote, in arrival order.
    fn files(&self, extension: &str) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.out.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == extension))
            .collect();
        files.sort();
        files
    }

    /// Every message received so far, parsed, in order.
    pub fn messages(&self) -> Vec<Value> {
        self.files("json").iter().map(|f| serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap()).collect()
    }

    /// How many messages the server has accepted: its `.eml` files, written before it answers
    /// "250" (the parsed `.json` beside each comes a moment later).
    pub fn delivered(&self) -> usize {
        self.files("eml").len()
    }

    /// Waits until no message has arrived for `quiet` (10 s at most); how many arrived.
    pub async fn settled(&self, quiet: Duration) -> usize {
        let (started, mut last, mut since) = (Instant::now(), self.delivered(), Instant::now());
        while since.elapsed() < quiet && started.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = self.delivered();
            if now != last {
                (last, since) = (now, Instant::now());
            }
        }
        last
    }

    /// Every message with when the server accepted it, in order (once each is parsed).
    pub async fn deliveries(&self) -> Vec<Delivery> {
        let count = self.delivered();
        let messages = self.wait_for(count).await;
        let files = self.files("eml");
        let at = |f: &PathBuf| std::fs::metadata(f).and_then(|m| m.modified()).unwrap();
        messages.into_iter().zip(&files).map(|(message, file)| Delivery { message, at: at(file) }).collect()
    }

    /// Waits (up to 10 s) until at least `n` messages have arrived, without blocking the runtime
    /// (the simulator answers on it).
    pub async fn wait_for(&self, n: usize) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let messages = self.messages();
            if messages.len() >= n || started.elapsed() > Duration::from_secs(10) {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// One message as the server received it, and when it wrote it (just before its "250").
pub struct Delivery {
    pub message: Value,
    pub at: std::time::SystemTime,
}

/// Distinct messages (by Message-ID) per "subject job recipient", for bodies that list their jobs
/// as `[id]`, and how many deliveries repeated a Message-ID (each checked to be the same message).
pub fn notices(messages: &[Value]) -> (std::collections::BTreeMap<String, usize>, usize) {
    let mut first: std::collections::BTreeMap<String, &Value> = std::collections::BTreeMap::new();
    let mut counts = std::collections::BTreeMap::new();
    for message in messages {
        let id = message["message_id"].as_str().unwrap_or_default().to_string();
        if let Some(earlier) = first.get(&id) {
            let same = |m: &Value| (m["envelope_to"].clone(), m["subject"].clone(), m["text"].clone());
            assert_eq!(same(earlier), same(message), "a repeated Message-ID is the same message");
            continue;
        }
        first.insert(id, message);
        let subject = message["subject"].as_str().unwrap_or_default();
        let text = message["text"].as_str().unwrap_or_default();
        for to in message["envelope_to"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            for job in jobs_listed(text) {
                *counts.entry(format!("{subject} {job} {to}")).or_insert(0) += 1;
            }
        }
    }
    (counts, messages.len() - first.len())
}

/// The job ids a test body lists as `[id]`.
pub fn jobs_listed(text: &str) -> Vec<&str> {
    text.split('[').skip(1).filter_map(|s| s.split(']').next()).collect()
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A message file (`.eml`) parsed by the same parser.
pub fn parse_eml(path: &Path) -> Value {
    let output = Command::new(python()).args([SCRIPT, "parse", path.to_str().unwrap()]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}
