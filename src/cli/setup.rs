//! What the engine commands share: configuration, rules, clients and the store, set up once.

use crate::actions::{ActionConfig, Services};
use crate::arcgis::signin::SignIns;
use crate::arcgis::{Client, JobSource};
use crate::config::Config;
use crate::engine::{Mode, Shared, Target};
use crate::rules::RuleSet;
use crate::store::{Journal, SignInRecords, SqlStore, Store};
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
    let names: Vec<&str> = config.targets.iter().map(|t| t.name.as_str()).collect();
    let rules = RuleSet::load(&config.rules, &names).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        anyhow!("{} problem(s) in the rules:\n{}", lines.len(), lines.join("\n"))
    })?;
    if let Some(problem) = unmet_needs(&config, &rules) {
        bail!(problem);
    }
    Ok(Setup { config, rules })
}

/// What the rules need that the configuration does not provide (an `email:` section).
pub fn unmet_needs(config: &Config, rules: &RuleSet) -> Option<String> {
    let mailing: Vec<&str> = rules
        .rules
        .iter()
        .filter(|r| r.actions.iter().any(|a| matches!(a, ActionConfig::Email(_))))
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
/// the state file when there is one (none is created).
pub async fn sign_ins_of(config: &Config) -> anyhow::Result<Arc<SignIns>> {
    if !config.state.path.exists() {
        return Ok(SignIns::new(crate::clock::system()));
    }
    sign_ins(Arc::new(SqlStore::open_sqlite(&config.state.path).await?)).await
}

/// Opens the state store; a preview without a state file uses a throwaway one and writes nothing.
pub async fn store(config: &Config, mode: Mode) -> anyhow::Result<Arc<dyn Store>> {
    let path = &config.state.path;
    if mode == Mode::Preview && !path.exists() {
        return Ok(Arc::new(SqlStore::open_memory().await?));
    }
    Ok(Arc::new(SqlStore::open_sqlite(path).await?))
}

/// The progress journal beside the state file, its entries merged into the store first.
async fn journal(config: &Config, store: &dyn Store) -> anyhow::Result<Arc<Journal>> {
    let path = &config.state.path;
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
    let store = store(&setup.config, mode).await?;
    let mut services =
        Services::new(setup.config.email.as_ref(), &setup.config.owners).map_err(|e| anyhow!("email: {e}"))?;
    if mode != Mode::Preview {
        services.journal = Some(journal(&setup.config, &*store).await?);
    }
    let rules = Arc::new(setup.rules.clone());
    services.rules = rules.clone();
    let shared = Shared::new(rules, store.clone(), mode, Arc::new(services));
    let sign_ins = sign_ins(store.clone()).await?;
    let mut targets = Vec::new();
    for (config, source) in setup.config.targets.iter().zip(sources(&setup.config, &sign_ins)?) {
        targets.push(Target::load(config.clone(), source, &shared).await?);
    }
    if targets.is_empty() {
        bail!("no targets configured");
    }
    Ok((store, shared, targets))
}
