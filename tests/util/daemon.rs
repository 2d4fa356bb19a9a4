//! `nbwarden run` as a child process: signals, its log, its HTTP endpoint.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running daemon; killed on drop.
pub struct Daemon {
    child: Child,
    log: tempfile::NamedTempFile,
}

impl Daemon {
    /// Starts `nbwarden --config CONFIG run ARGS`, logging at debug to a file.
    pub fn start(config: &Path, args: &[&str]) -> Daemon {
        Daemon::start_in(config, args, None)
    }

    /// The same, with these environment variables.
    pub fn start_with(config: &Path, env: &[(&str, &str)]) -> Daemon {
        let mut command = Command::new(env!("CARGO_BIN_EXE_nbwarden"));
        command.args(["--config", config.to_str().unwrap(), "-v", "run"]).envs(env.iter().copied());
        Daemon::spawn(command)
    }

    /// The same, in the working directory `cwd`.
    pub fn start_in(config: &Path, args: &[&str], cwd: Option<&Path>) -> Daemon {
        let mut command = Command::new(env!("CARGO_BIN_EXE_nbwarden"));
        command.args(["--config", config.to_str().unwrap(), "-v", "run"]).args(args);
        if let Some(cwd) = cwd {
            command.current_dir(cwd);
        }
        Daemon::spawn(command)
    }

    /// The same, started by `sh -c "<shell>; exec nbwarden …"` (a `ulimit` or a `umask` first); the
    /// process is nbwarden itself once started.
    pub fn start_after(config: &Path, args: &[&str], shell: &str) -> Daemon {
        let mut command = Command::new("sh");
        let script = format!("{shell}; exec \"$0\" \"$@\"");
        command.args([
            "-c",
            &script,
            env!("CARGO_BIN_EXE_nbwarden"),
            "--config",
            config.to_str().unwrap(),
            "-v",
            "run",
        ]);
        command.args(args);
        Daemon::spawn(command)
    }

    fn spawn(mut command: Command) -> Daemon {
        let log = tempfile::NamedTempFile::new().unwrap();
        command.env_remove("NBWARDEN_CONFIG").env_remove("NBWARDEN_LOG").env("NO_COLOR", "1");
        let child = command.stdout(Stdio::null()).stderr(log.reopen().unwrap()).spawn().expect("nbwarden runs");
        Daemon { child, log }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A line of `/proc/<pid>/status` (`VmHWM`, `VmRSS`) in KiB.
    pub fn status_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let line = status.lines().find(|l| l.starts_with(&format!("{field}:")))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// Open file descriptors.
    pub fn open_files(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid())).map_or(0, |d| d.count())
    }

    /// Everything logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// Waits (up to `within`) until the log contains `text`.
    pub async fn wait_for_log(&self, text: &str, within: Duration) -> bool {
        poll_until(within, || self.log().contains(text)).await
    }

    /// Sends a signal (`TERM`, `HUP`, `INT`, `KILL`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill").args([&format!("-{name}"), &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
    }

    /// Waits for the exit (up to `within`, looking at least once); `None` if it is still running.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if started.elapsed() >= within {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Fails the test, with the log, unless the process is still running.
    pub fn assert_running(&mut self) {
        let exited = self.child.try_wait().unwrap();
        assert!(exited.is_none(), "the daemon exited ({exited:?})\n{}", self.log());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Calls `check` every 50 ms until it holds or `within` has passed.
pub async fn poll_until(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    loop {
        if check() {
            return true;
        }
        if started.elapsed() > within {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
