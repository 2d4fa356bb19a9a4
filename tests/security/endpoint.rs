//! Whoever can reach the status port: half-sent requests cannot starve the pipeline, a page on
//! another name (DNS rebinding) reads nothing, and owners' addresses stay off `/status`.

use crate::util::daemon::{poll_until, Daemon};
use crate::util::smtp::free_port;
use crate::util::Site;
use nbwarden::config::Flavor;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One GET naming `host`; the status code and the body (`None`: no answer within 5 s).
async fn get(port: u16, path: &str, host: &str) -> Option<(u16, String)> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let status = answer.split(' ').nth(1)?.parse().ok()?;
        Some((status, answer.split("\r\n\r\n").nth(1).unwrap_or_default().to_string()))
    };
    tokio::time::timeout(Duration::from_secs(5), exchange).await.ok().flatten()
}

/// A site polled every second, its endpoint on a free port.
async fn watched(rules: &str) -> (Site, u16) {
    let site =
        Site::simple("jobs:\n  - { id: j1, username: joe, start: -1h, runs: 30m, ends: failed }\n", Flavor::Enterprise)
            .await;
    site.rules(rules);
    site.rewrite(|line| line.replace("poll: { timeout: 5s }", "poll: { every: 1s, timeout: 5s }"));
    let port = free_port();
    site.rewrite(|line| {
        if line.starts_with("http:") {
            format!("http: {{ listen: '127.0.0.1:{port}' }}")
        } else {
            line.to_string()
        }
    });
    (site, port)
}

const ATTACKER: &str = r#"
import resource, socket, sys, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
port, count = int(sys.argv[1]), int(sys.argv[2])
held = []
for _ in range(count):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.send(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    held.append(s)
print("holding", len(held), flush=True)
time.sleep(120)
"#;

#[tokio::test]
async fn two_thousand_half_sent_requests_leave_polls_and_healthz_working() {
    let (site, port) = watched("rules: []\n").await;
    // The descriptor limit of a default systemd service: 1,100 such connections used to exhaust it.
    let mut daemon = Daemon::start_after(&site.config_path, &[], "ulimit -n 1024");
    assert!(
        poll_until(Duration::from_secs(20), || daemon.log().contains("serving /metrics")).await,
        "{}",
        daemon.log()
    );
    let mut attacker = tokio::process::Command::new("python3")
        .args(["-c", ATTACKER, &port.to_string(), "2000"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut said = String::new();
    let mut out = attacker.stdout.take().unwrap();
    let holding = tokio::time::timeout(Duration::from_secs(60), async {
        let mut buffer = [0u8; 64];
        while !said.contains("holding") {
            let n = out.read(&mut buffer).await.unwrap();
            said.push_str(&String::from_utf8_lossy(&buffer[..n]));
        }
    });
    assert!(holding.await.is_ok(), "the attacker opened 2,000 connections: {said}");
    let host = format!("127.0.0.1:{port}");
    let health = get(port, "/healthz", &host).await;
    assert_eq!(health.as_ref().map(|h| h.0), Some(200), "/healthz answers during the attack: {health:?}");
    assert!(daemon.open_files() < 300, "{} descriptors open", daemon.open_files());
    let last_success =
        |body: &str| serde_json::from_str::<serde_json::Value>(body).unwrap()["targets"][0]["last_success"].clone();
    let before = last_success(&get(port, "/status", &host).await.expect("/status answers").1);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let after = last_success(&get(port, "/status", &host).await.expect("/status answers").1);
    assert_ne!(before, after, "polls go on during the attack");
    assert!(!daemon.log().contains("Too many open files"), "{}", daemon.log());
    daemon.assert_running();
    let _ = attacker.kill().await;
}

#[tokio::test]
async fn a_request_for_another_host_name_reads_nothing() {
    let (site, port) = watched("rules: []\n").await;
    site.rewrite(|line| {
        line.replace(
            &format!("listen: '127.0.0.1:{port}'"),
            &format!("listen: '127.0.0.1:{port}', hosts: [nbwarden.example.com]"),
        )
    });
    let daemon = Daemon::start(&site.config_path, &[]);
    assert!(
        poll_until(Duration::from_secs(20), || daemon.log().contains("serving /metrics")).await,
        "{}",
        daemon.log()
    );
    let rebound = get(port, "/status", &format!("attacker.example:{port}")).await.unwrap();
    assert_eq!(rebound.0, 403, "{rebound:?}");
    assert!(rebound.1.contains("http.hosts") && !rebound.1.contains("\"targets\""), "{rebound:?}");
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}"), "nbwarden.example.com".to_string()] {
        assert_eq!(get(port, "/status", &host).await.unwrap().0, 200, "{host}");
    }
    assert_eq!(get(port, "/metrics", "attacker.example").await.unwrap().0, 403, "every route");
}

#[tokio::test]
async fn status_shows_no_owner_address_unless_asked() {
    let smtp = crate::util::smtp::SmtpServer::start(None, None);
    let rules =
        "rules:\n  - { name: f, match: { status: failed }, actions: [{ type: email, to: [joe.owner@example.com] }] }\n";
    for show in [false, true] {
        let (site, port) = watched(rules).await;
        site.top(&format!("email: {{ host: 127.0.0.1, port: {}, security: none, from: n@example.org }}", smtp.port));
        if show {
            site.rewrite(|line| {
                line.replace(
                    &format!("listen: '127.0.0.1:{port}'"),
                    &format!("listen: '127.0.0.1:{port}', show_details: true"),
                )
            });
        }
        let daemon = Daemon::start(&site.config_path, &[]);
        assert!(daemon.wait_for_log("email done", Duration::from_secs(30)).await, "{}", daemon.log());
        let (_, body) = get(port, "/status", &format!("127.0.0.1:{port}")).await.unwrap();
        assert_eq!(body.contains("joe.owner@example.com"), show, "show_details {show}: {body}");
    }
}
