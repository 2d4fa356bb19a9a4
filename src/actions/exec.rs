//! The `exec` action: runs a program directly (argv, never a shell) with the job as `NBWARDEN_*`
//! variables and as JSON on standard input; killed at the timeout; exit 0 is success, exit 75
//! (EX_TEMPFAIL) asks for a retry.

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
}

impl super::Plugin for ExecConfig {
    fn kind(&self) -> &'static str {
        "exec"
    }

    fn templates(&self) -> Vec<(&'static str, &str)> {
        let command = self.command.iter().map(|c| ("command", c.as_str()));
        command.chain(self.env.values().map(|v| ("env", v.as_str()))).collect()
    }

    fn problems(&self) -> Vec<(&'static str, String)> {
        if !self.command.is_empty() {
            return Vec::new();
        }
        let hint = "`command` needs at least the program, e.g. [/usr/local/bin/notify, \"{{ job.id }}\"]";
        vec![("command", hint.into())]
    }

    /// The environment values may hold secrets.
    fn scrubbed(&self) -> super::ActionConfig {
        super::ActionConfig::Exec(ExecConfig { env: super::hidden(&self.env), ..self.clone() })
    }

    fn build(&self) -> Box<dyn super::Action> {
        Box::new(Exec(self.clone()))
    }
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
        command.args(&argv[1..]).envs(variables(&context)).kill_on_drop(true);
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
            crate::text::printable(text.trim()).chars().take(300).collect()
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
            Ok(argv) => format!("would run {argv:?}"),
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
}

impl Exec {
    fn argv(&self, context: &Value) -> Result<Vec<String>, ArgvError> {
        let argv: Vec<String> =
            self.0.command.iter().map(|a| template::render(a, context)).collect::<Result<_, _>>()?;
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
