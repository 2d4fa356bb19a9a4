//! `nbwarden silence add|list|expire`: silences in the state store, which the daemon reads at each
//! poll (no reload), in the manner of `amtool silence`. The HTTP endpoint stays read-only.

use super::setup;
use crate::clock::{Clock, LocalMs};
use crate::config::Config;
use crate::silence::{Matcher, Silence};
use anyhow::bail;
use clap::{Args, Subcommand};
use std::fmt::Write;

/// What `silence` was asked.
#[derive(Debug, Subcommand)]
pub enum SilenceCommand {
    /// Holds back the firings every given matcher covers, for a while.
    Add(AddArgs),
    /// The silences in force, and those ended within the last day.
    List {
        /// One JSON object per silence.
        #[arg(long)]
        json: bool,
    },
    /// Ends a silence now: what it held back fires at the next poll if it still matches.
    Expire {
        /// The silence's id (from `silence add` or `silence list`).
        id: String,
    },
}

/// The matchers and span of a new silence.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// A job id (exactly).
    #[arg(long, value_name = "ID")]
    job: Vec<String>,
    /// An owner (a glob: `svc_*`).
    #[arg(long, value_name = "USER")]
    user: Vec<String>,
    /// A notebook item id (exactly).
    #[arg(long, value_name = "ID")]
    item: Vec<String>,
    /// A notebook title (a glob).
    #[arg(long, value_name = "GLOB")]
    title: Vec<String>,
    /// A rule's name.
    #[arg(long, value_name = "NAME")]
    rule: Vec<String>,
    /// A target's name.
    #[arg(long, value_name = "T")]
    target: Vec<String>,
    /// How long it holds: 2h, 30m, 1d.
    #[arg(long = "for", value_name = "DURATION")]
    duration: crate::config::ConfigDuration,
    /// Why (shown in `list`, `explain`, `/status` and each held-back firing).
    #[arg(long)]
    comment: String,
    /// Who (default: $USER).
    #[arg(long)]
    author: Option<String>,
}

/// Runs the command; prints what it did.
pub async fn run(config: &Config, command: SilenceCommand) -> anyhow::Result<bool> {
    let (store, _) = setup::open(config).await?;
    let now = crate::clock::SystemClock.now();
    let out = match command {
        SilenceCommand::Add(args) => {
            let silence = silence(args, now)?;
            store.add_silence(&silence).await?;
            let until = crate::arcgis::model::rfc3339(silence.ends).unwrap_or_default();
            format!("{}\nsilence {} holds {} until {until}\n", silence.id, silence.id, silence.matchers_text())
        }
        SilenceCommand::List { json } => list(&store.silences(now.plus(-86_400_000)).await?, now, json)?,
        SilenceCommand::Expire { id } => match store.expire_silence(&id, now).await? {
            true => format!("silence {id} expired; what it held back fires at the next poll if it still matches\n"),
            false => bail!("no silence {id} in force (see `nbwarden silence list`)"),
        },
    };
    super::write_stdout(&out)?;
    Ok(true)
}

fn silence(args: AddArgs, now: LocalMs) -> anyhow::Result<Silence> {
    type Make = fn(String) -> Matcher;
    let lists: [(Make, Vec<String>); 6] = [
        (Matcher::Job, args.job),
        (Matcher::User, args.user),
        (Matcher::Item, args.item),
        (Matcher::Title, args.title),
        (Matcher::Rule, args.rule),
        (Matcher::Target, args.target),
    ];
    let matchers: Vec<Matcher> = lists.into_iter().flat_map(|(make, values)| values.into_iter().map(make)).collect();
    if matchers.is_empty() {
        bail!("a silence needs at least one of --job, --user, --item, --title, --rule, --target");
    }
    if args.comment.trim().is_empty() {
        bail!("--comment says why, for whoever finds the silence");
    }
    let author = args.author.or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "unknown".into());
    let ends = now.plus(args.duration.0.as_millis() as i64);
    Ok(Silence { id: crate::silence::new_id(), matchers, starts: now, ends, comment: args.comment, author })
}

fn list(silences: &[Silence], now: LocalMs, json: bool) -> anyhow::Result<String> {
    let mut out = String::new();
    if json {
        for s in silences {
            let line = serde_json::json!({
                "id": s.id, "matchers": s.matchers_text(), "active": s.active(now),
                "starts": crate::arcgis::model::rfc3339(s.starts), "ends": crate::arcgis::model::rfc3339(s.ends),
                "comment": s.comment, "author": s.author,
            });
            let _ = writeln!(out, "{}", crate::text::json_safe(line.to_string()));
        }
        return Ok(out);
    }
    let mut rows = vec![["ID", "STATE", "ENDS", "MATCHERS", "AUTHOR", "COMMENT"].map(String::from)];
    for s in silences {
        let state = if s.active(now) { "active" } else { "expired" };
        let ends = crate::arcgis::model::rfc3339(s.ends).unwrap_or_default();
        rows.push([
            s.id.clone(),
            state.into(),
            ends,
            s.matchers_text(),
            crate::text::cell(&s.author, 40),
            crate::text::cell(&s.comment, 80),
        ]);
    }
    Ok(crate::text::aligned(&rows))
}
