//! What the engine commands share: configuration, rules, clients and the store, set up once.

use crate::actions::{ActionConfig, Services};
use crate::arcgis::signin::SignIns;
use crate::arcgis::{Client, JobSource};
use crate::config::Config;
use crate::dispatch::{Dispatcher, Mode};
use crate::engine::{Shared, Target};
use crate::journal::{Journal, ProgressLog};
use crate::rules::RuleSet;
use crate::store::lease::Leases;
use crate::store::progress::StoreJournal;
use crate::store::{SignInRecords, SqlStore, StateLock, Store};
use anyhow::{anyhow, bail};
use std::sync::Arc;

/// A loaded configuration with its compiled rules.
pub struct Setup {
    /// The configuration.
    pub config: Config,
    /// The rules.
    pub rules: RuleSet,
}

/// Loads the configuration and compiles the rules; every rule error is listed.
pub fn load(explicit: Option<&std::path::Path>) -> anyhow::Result<Setup> {
    let config = super::load_config(explicit)?;
    let targets: Vec<(&str, Option<crate::config::Flavor>)> =
        config.targets.iter().map(|t| (t.name.as_str(), Some(t.flavor))).collect();
    let rules = RuleSet::load_for(&config.rules, &targets).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        anyhow!("{} problem(s) in the rules:\n{}", lines.len(), lines.join("\n"))
    })?;
    if let Some(problem) = unmet_needs(&config, &rules) {
        bail!(problem);
    }
    for warning in rules.warnings() {
        tracing::warn!("{warning}");
    }
    Ok(Setup { config, rules })
}

/// What the rules need that the configuration does not provide (an `email:` section).
pub fn unmet_needs(config: &Config, rules: &RuleSet) -> Option<String> {
    let mailing: Vec<&str> = rules
        .rules
        .iter()
        .filter(|r| r.actions.iter().any(|a| matches!(**a, ActionConfig::Email(_))))
        .map(|r| r.name.as_str())
        .collect();
    (config.email.is_none() && !mailing.is_empty()).then(|| {
        format!(
            "{}: rule(s) {} send e-mail, but there is no `email:` section; add one (transport, host or dir, from)",
            config.source.display(),
            mailing.join(", ")
        )
    })
}

/// A client per target, all signing in through `sign_ins`.
pub fn sources(config: &Config, sign_ins: &Arc<SignIns>) -> anyhow::Result<Vec<Arc<dyn JobSource>>> {
    config.targets.iter().map(|t| client(t, sign_ins).map(|c| Arc::new(c) as Arc<dyn JobSource>)).collect()
}

/// The client of one target.
pub fn client(target: &crate::config::TargetConfig, sign_ins: &Arc<SignIns>) -> anyhow::Result<Client> {
    Client::new(target, sign_ins).map_err(|e| anyhow!("target \"{}\": {e}", target.name))
}

/// The sign-in histories of `store`, recorded there as they grow: every command that signs in
/// waits as long as the last one said.
pub async fn sign_ins(store: Arc<dyn Store>) -> anyhow::Result<Arc<SignIns>> {
    let histories = store.sign_in_refusals().await?;
    Ok(SignIns::persisted(histories, Some(Arc::new(SignInRecords(store))), crate::clock::system()))
}

/// The sign-in histories for a command without an engine (`check --targets`, `jobs`): those of
/// the state store when there is one (no SQLite file is created).
pub async fn sign_ins_of(config: &Config) -> anyhow::Result<Arc<SignIns>> {
    if config.state.postgres().is_none() && !config.state.path.exists() {
        return Ok(SignIns::new(crate::clock::system()));
    }
    sign_ins(Arc::new(open(config).await?.0)).await
}

/// Opens the configured store: the SQLite file, or the PostgreSQL server; with `ha`, its writes
/// fenced by this replica's leases, which come with it.
pub async fn open(config: &Config) -> anyhow::Result<(SqlStore, Option<Arc<Leases>>)> {
    let Some(url) = config.state.connect_url() else {
        return Ok((SqlStore::open_sqlite(&config.state.path).await?, None));
    };
    let store = SqlStore::open_postgres(&url, &config.state.shown()).await?;
    Ok(match &config.ha {
        Some(ha) => {
            let leases = Arc::new(Leases::new(store.pool().clone(), ha.replica_name(), ha.lease_ttl.0));
            (store.fenced(leases.clone()), Some(leases))
        }
        None => (store, None),
    })
}

/// This process's hold on the SQLite state file, for the commands that write it (`run`, `once`):
/// a second process on the same file exits at once. None for PostgreSQL (its replicas share it
/// through leases) and for a preview, which writes nothing.
pub fn lock_state(config: &Config, mode: Mode) -> anyhow::Result<Option<StateLock>> {
    if !mode.writes() || config.state.postgres().is_some() {
        return Ok(None);
    }
    Ok(Some(StateLock::take(&config.state.path)?))
}

/// Opens the state store; a preview without a state file uses a throwaway one and writes nothing.
pub async fn store(config: &Config, mode: Mode) -> anyhow::Result<(SqlStore, Option<Arc<Leases>>)> {
    if mode == Mode::Preview && config.state.postgres().is_none() && !config.state.path.exists() {
        return Ok((SqlStore::open_memory().await?, None));
    }
    open(config).await
}

/// Where progress is recorded: the journal file beside an SQLite file (its entries merged into
/// the store first), or the PostgreSQL store itself.
async fn progress_log(
    state: &crate::config::StateConfig,
    store: &Arc<dyn Store>,
    leases: &Option<Arc<Leases>>,
) -> anyhow::Result<Arc<dyn ProgressLog>> {
    if state.postgres().is_some() {
        return Ok(Arc::new(StoreJournal::new(store.clone(), leases.clone())));
    }
    let path = &state.path;
    let (journal, entries) =
        Journal::open(path).map_err(|e| anyhow!("cannot open the progress journal beside {}: {e}", path.display()))?;
    if !entries.is_empty() {
        store.add_settled(&entries).await?;
        tracing::info!(entries = entries.len(), "merged the progress journal of the previous run");
    }
    journal.clear()?;
    Ok(Arc::new(journal))
}

/// The store, the shared engine state and the loaded targets.
pub async fn engine(setup: &Setup, mode: Mode) -> anyhow::Result<(Arc<dyn Store>, Arc<Shared>, Vec<Target>)> {
    let (sql, leases) = store(&setup.config, mode).await?;
    let store: Arc<dyn Store> = Arc::new(sql.clone());
    let journal = if mode.writes() { Some(progress_log(&setup.config.state, &store, &leases).await?) } else { None };
    let reports = Arc::new(crate::report::source::StoreReports(sql));
    let services = Services::new(setup.config.email.as_ref(), &setup.config.owners, journal)?
        .with_reports(reports)
        .with_status_url(setup.config.http.status_url());
    let services = Arc::new(services);
    let rules = Arc::new(setup.rules.clone());
    let sign_ins = sign_ins(store.clone()).await?;
    // The one clock of this machine: sign-ins, tokens, dispatch and the scheduler read it.
    let clock = sign_ins.clock();
    let mut shared = Shared::new(Dispatcher { rules, store: store.clone(), mode, services, clock });
    Arc::get_mut(&mut shared).expect("not shared yet").leases = leases;
    let mut targets = Vec::new();
    for (config, source) in setup.config.targets.iter().zip(sources(&setup.config, &sign_ins)?) {
        targets.push(Target::load(config.clone(), source, &shared).await?);
    }
    if targets.is_empty() {
        bail!("no targets configured");
    }
    Ok((store, shared, targets))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arcgis::{Job, Status};
    use crate::dispatch::RetryPolicy;
    use crate::journal::FINISHED;
    use crate::store::{PollCommit, Scope};
    use std::collections::HashMap;

    fn planned(rules: &RuleSet, rule: &str) -> crate::plan::Planned {
        let rule = rules.get(rule).unwrap();
        let event = crate::diff::EventInfo { kind: crate::diff::EventKind::Poll, from: None, to: None };
        let planned = crate::plan::Planned::of(
            rule,
            0,
            vec![Job::new("j1", Status::Executing).into()],
            &event,
            crate::clock::ServerMs(1_000),
        );
        crate::plan::Planned { action: rule.actions[0].scrubbed().into(), ..planned }
    }

    /// Parts of actions journaled by a killed process are merged at the next start and not done
    /// again: a recipient already served gets no second message, a finished cancel is not sent.
    #[tokio::test]
    async fn journaled_work_is_not_redone_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.db");
        let outbox = dir.path().join("outbox");
        let text = "rules:
  - { name: mail, actions: [{ type: email, to: [joe@example.com, jane@example.com], subject: s, body: b }] }
  - { name: stop, actions: [{ type: cancel }] }
";
        let rules = RuleSet::parse(std::path::Path::new("r.yaml"), text, &["t"]).unwrap();
        let store: Arc<dyn Store> = Arc::new(SqlStore::open_sqlite(&state).await.unwrap());
        let actions = vec![planned(&rules, "mail"), planned(&rules, "stop")];
        let ledger = actions.iter().flat_map(|a| a.fired(&crate::ledger::Cause::Poll)).collect();
        let commit = PollCommit { actions, ledger, ..PollCommit::new(Scope::Real, "t", crate::clock::ServerMs(1_000)) };
        let ids = store.commit_poll(&commit).await.unwrap();
        // The killed process had sent joe's message and finished the cancel, and journaled both.
        let (killed, _) = Journal::open(&state).unwrap();
        killed.append(ids[0], "joe@example.com");
        killed.append(ids[1], FINISHED);
        drop(killed);
        // The restart: the journal is merged, then the queue runs.
        let email = crate::config::EmailConfig {
            transport: crate::config::EmailTransport::File,
            dir: Some(outbox.clone()),
            from: Some("n@example.org".into()),
            ..Default::default()
        };
        let config = crate::config::StateConfig { path: state.clone(), ..Default::default() };
        let journal = Some(progress_log(&config, &store, &None).await.unwrap());
        let services = Services::new(Some(&email), &Default::default(), journal).unwrap();
        let site = crate::arcgis::fake::FakeSource::default().shared();
        let sources: HashMap<String, Arc<dyn JobSource>> =
            [("t".to_string(), site.clone() as Arc<dyn JobSource>)].into();
        let (rules, services, clock) = (Arc::new(rules), Arc::new(services), crate::clock::system());
        let dispatch = Arc::new(Dispatcher { rules, store, mode: Mode::Act, services, clock });
        let reports = dispatch.execute_due(&sources, RetryPolicy::ONCE).await.unwrap();
        let outcomes: Vec<(&str, &str)> = reports.iter().map(|r| (r.outcome.as_str(), r.detail.as_str())).collect();
        assert_eq!(outcomes[0].0, "done");
        assert!(
            outcomes[0].1.contains("joe@example.com (earlier)") && outcomes[0].1.contains("jane@example.com"),
            "{outcomes:?}"
        );
        assert_eq!(outcomes[1].0, "done");
        assert!(outcomes[1].1.contains("from the progress journal"), "{outcomes:?}");
        assert_eq!(site.cancelled(), 0, "the finished cancel is not sent again");
        let written: Vec<String> =
            std::fs::read_dir(&outbox).unwrap().map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap()).collect();
        assert_eq!(written.len(), 1, "only jane's message is written");
        assert!(written[0].contains("To: jane@example.com"), "{}", written[0]);
    }
}
