//! The `exec` action: runs a program directly (argv, never a shell) with the job as `NBWARDEN_*`
//! variables and as JSON on standard input, in a minimal environment (none of the daemon's
//! secrets); killed at the timeout; exit 0 is success, exit 75 (EX_TEMPFAIL) asks for a retry.

use super::template;
use super::{ActionContext, ActionError, Done};
use crate::config::ConfigDuration;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// `type: exec`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExecConfig {
    /// The program and its arguments; each element is a template; never run through a shell.
    pub command: Vec<String>,
    /// The process is killed after this long (default 60s).
    pub timeout: Option<ConfigDuration>,
    /// Extra environment variables; values are templates.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Variables of nbwarden's own environment passed to the program by name (beside `PATH`,
    /// `LANG`, `TZ` and `HOME`): nothing else of it reaches the program.
    #[serde(default)]
    pub inherit_env: Vec<String>,
}

/// What a program gets of nbwarden's environment, whatever the rule says.
const PASSED: [&str; 4] = ["PATH", "LANG", "TZ", "HOME"];
/// `PATH` when nbwarden has none.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

impl super::Plugin for ExecConfig {
    fn kind(&self) -> &'static str {
        "exec"
    }

    fn templates(&self) -> Vec<(&'static str, &str)> {
        let command = self.command.iter().map(|c| ("command", c.as_str()));
        command.chain(self.env.values().map(|v| ("env", v.as_str()))).collect()
    }

    fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if self.command.is_empty() {
            let hint = "`command` needs at least the program, e.g. [/usr/local/bin/notify, \"{{ job.id }}\"]";
            out.push(("command", hint.into()));
        }
        if let Some(Err(why)) =
            self.command.first().filter(|p| !p.contains("{{") && !p.contains("{%")).map(|p| runnable(p))
        {
            out.push(("command", why.to_string()));
        }
        let valid = |name: &str| !name.is_empty() && !name.contains(['=', '\0']);
        for name in self.inherit_env.iter().chain(self.env.keys()).filter(|n| !valid(n)) {
            out.push(("inherit_env", format!("`{name}` is not an environment variable name")));
        }
        out
    }

    fn warnings(&self) -> Vec<(&'static str, String)> {
        option_exposed(&self.command)
            .map(|index| {
                let message = format!("argument {index} of `command` opens with a template: a job field that starts with `-` would be read by the program as an option; put \"--\" before it (nbwarden refuses to run the program when that happens)");
                ("command", message)
            })
            .collect()
    }

    /// The environment values, and the arguments that hold a known secret (a configured one, or
    /// a `${VAR}` value), may hold secrets.
    fn scrubbed(&self) -> super::ActionConfig {
        let command = self.command.iter().map(|arg| crate::secret::mask(arg).into_owned()).collect();
        super::ActionConfig::Exec(ExecConfig { command, env: super::hidden(&self.env), ..self.clone() })
    }

    fn build(&self) -> Box<dyn super::Action> {
        Box::new(Exec(self.clone()))
    }
}

/// Why a program cannot be started.
#[derive(Debug, thiserror::Error)]
enum NotRunnable {
    #[error("the program `{0}` does not exist")]
    Missing(String),
    #[error("`{0}` is not an executable file (chmod +x?)")]
    NotExecutable(String),
    #[error("the program `{0}` is not on PATH ({1}); give its full path")]
    NotOnPath(String, String),
}

/// Whether `program` can be started: a path to an executable file, or a name found on `PATH`.
fn runnable(program: &str) -> Result<(), NotRunnable> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |path: &std::path::Path| {
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let path = std::path::Path::new(program);
        return match (path.exists(), executable(path)) {
            (false, _) => Err(NotRunnable::Missing(program.into())),
            (true, false) => Err(NotRunnable::NotExecutable(program.into())),
            (true, true) => Ok(()),
        };
    }
    let path = std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.into());
    match path.split(':').any(|dir| executable(&std::path::Path::new(dir).join(program))) {
        true => Ok(()),
        false => Err(NotRunnable::NotOnPath(program.into(), path)),
    }
}

/// The arguments (by position, the program being 0) that a template opens and that no `--`
/// before them keeps from being read as options.
fn option_exposed(command: &[String]) -> impl Iterator<Item = usize> + '_ {
    let end_of_options = command.iter().skip(1).position(|a| a == "--").map_or(command.len(), |i| i + 1);
    (1..end_of_options).filter(|&i| opens_with_template(&command[i]))
}

fn opens_with_template(argument: &str) -> bool {
    let text = argument.trim_start();
    text.starts_with("{{") || text.starts_with("{%")
}

/// Default bound on one run.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// The exit code that asks for another try (sysexits.h EX_TEMPFAIL).
const EX_TEMPFAIL: i32 = 75;

/// Runs the configured program.
#[derive(Debug)]
pub struct Exec(pub ExecConfig);

#[async_trait::async_trait]
impl super::Action for Exec {
    async fn execute(&self, cx: &ActionContext<'_>) -> Result<Done, ActionError> {
        let context = cx.template_context(cx.occasion.jobs);
        let argv = self.argv(&context).map_err(ActionError::permanent)?;
        let mut command = tokio::process::Command::new(&argv[0]);
        command.args(&argv[1..]).env_clear().kill_on_drop(true);
        for name in PASSED.iter().map(|n| n.to_string()).chain(self.0.inherit_env.iter().cloned()) {
            if let Some(value) = std::env::var_os(&name) {
                command.env(name, value);
            }
        }
        if std::env::var_os("PATH").is_none() {
            command.env("PATH", DEFAULT_PATH);
        }
        command.envs(variables(&context));
        for (name, value) in &self.0.env {
            command.env(name, template::render(value, &context).map_err(ActionError::permanent)?);
        }
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child =
            command.spawn().map_err(|e| ActionError::permanent(format!("cannot start {}: {e}", argv[0])))?;
        if let Some(mut stdin) = child.stdin.take() {
            let input = context.to_string();
            tokio::spawn(async move {
                // A program that does not read its input is fine: a closed pipe is ignored.
                let _ = stdin.write_all(input.as_bytes()).await;
            });
        }
        let timeout = self.0.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0);
        let output = match tokio::time::timeout(timeout, child.wait_with_output()).await {
            Ok(output) => output.map_err(|e| ActionError::permanent(format!("{}: {e}", argv[0])))?,
            Err(_) => {
                let waited = crate::config::format_duration(timeout);
                return Err(ActionError::permanent(format!("{} killed after {waited} (timeout)", argv[0])));
            }
        };
        let said = |bytes: &[u8]| -> String {
            let text = String::from_utf8_lossy(bytes);
            crate::text::sanitize(&crate::secret::mask(text.trim())).chars().take(300).collect()
        };
        match output.status.code() {
            Some(0) => Ok(Done::Done(format!("{} exited 0 {}", argv[0], said(&output.stdout)).trim_end().into())),
            Some(EX_TEMPFAIL) => {
                Err(ActionError::transient(format!("{} exited 75 (try again): {}", argv[0], said(&output.stderr))))
            }
            Some(code) => Err(ActionError::permanent(format!("{} exited {code}: {}", argv[0], said(&output.stderr)))),
            None => Err(ActionError::permanent(format!("{} was killed by a signal", argv[0]))),
        }
    }

    fn preview(&self, cx: &ActionContext<'_>) -> String {
        let context = cx.template_context(cx.occasion.jobs);
        match self.argv(&context) {
            Ok(argv) => format!("would run {:?}", argv.iter().map(|a| crate::secret::mask(a)).collect::<Vec<_>>()),
            Err(e) => format!("would fail to render the command: {e}"),
        }
    }
}

/// Why the command line could not be rendered.
#[derive(Debug, thiserror::Error)]
enum ArgvError {
    /// A template failed.
    #[error(transparent)]
    Template(#[from] template::TemplateError),
    /// The first element renders empty.
    #[error("the command renders to no program")]
    NoProgram,
    /// A template opening an argument rendered as an option.
    #[error("argument {index} renders as `{shown}`, which the program would read as an option; nothing was run (put \"--\" before the templated arguments)")]
    WouldBeOption {
        /// Its position (the program is 0).
        index: usize,
        /// What it rendered, sanitized.
        shown: String,
    },
}

impl Exec {
    fn argv(&self, context: &Value) -> Result<Vec<String>, ArgvError> {
        let argv: Vec<String> =
            self.0.command.iter().map(|a| template::render(a, context)).collect::<Result<_, _>>()?;
        if let Some(index) = option_exposed(&self.0.command).find(|&i| argv[i].starts_with('-')) {
            let shown = crate::text::sanitize_to(&argv[index], 80).into_owned();
            return Err(ArgvError::WouldBeOption { index, shown });
        }
        match argv.first() {
            Some(program) if !program.is_empty() => Ok(argv),
            _ => Err(ArgvError::NoProgram),
        }
    }
}

/// `NBWARDEN_RULE`, `NBWARDEN_TARGET`, `NBWARDEN_EVENT[_FROM|_TO]`, `NBWARDEN_JOB_COUNT` and
/// `NBWARDEN_JOB_<FIELD>` for every template field of the (first) job, and `NBWARDEN_TASK_<FIELD>`
/// for the scheduled task of a task rule.
fn variables(context: &Value) -> Vec<(String, String)> {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let mut vars = vec![
        ("NBWARDEN_RULE".to_string(), text(&context["rule"])),
        ("NBWARDEN_TARGET".to_string(), text(&context["target"])),
        ("NBWARDEN_NOW".to_string(), text(&context["now"])),
        ("NBWARDEN_EVENT".to_string(), text(&context["event"]["kind"])),
        ("NBWARDEN_EVENT_FROM".to_string(), text(&context["event"]["from"])),
        ("NBWARDEN_EVENT_TO".to_string(), text(&context["event"]["to"])),
        ("NBWARDEN_JOB_COUNT".to_string(), context["jobs"].as_array().map_or(0, Vec::len).to_string()),
    ];
    if let Some(job) = context["job"].as_object() {
        vars.extend(job.iter().map(|(k, v)| (format!("NBWARDEN_JOB_{}", k.to_ascii_uppercase()), text(v))));
    }
    if let Some(task) = context["task"].as_object() {
        vars.extend(task.iter().map(|(k, v)| (format!("NBWARDEN_TASK_{}", k.to_ascii_uppercase()), text(v))));
    }
    // A NUL byte cannot travel in the environment; it would stop the program from starting.
    vars.into_iter().map(|(k, v)| (k, v.replace('\0', ""))).collect()
}
