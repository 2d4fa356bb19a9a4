//! What serde cannot check of `nbwarden.yaml`, each problem located at the key it concerns: names,
//! URLs (and plain HTTP), sign-in methods, schedules, limits, e-mail and owners.

use super::yaml::{At, Node, Problem, Value};
use super::{parse_cron, Config, EmailConfig, EmailTransport, Flavor, SmtpSecurity, TargetConfig};
use std::collections::HashSet;

/// The problems found, each located in the document by its key's dotted path.
pub(super) struct Checks<'a> {
    doc: &'a Node,
    /// Every problem so far.
    pub found: Vec<Problem>,
}

impl<'a> Checks<'a> {
    pub fn new(doc: &'a Node) -> Checks<'a> {
        Checks { doc, found: Vec::new() }
    }

    /// A problem at `path` (`targets.0.poll.every`; where a key is not written, at the nearest
    /// key above it that is).
    pub fn add(&mut self, path: &str, message: impl Into<String>) {
        let at = locate(self.doc, path);
        self.found.push(Problem::at(at, message));
    }
}

/// Where the key at `path` is written, or the nearest one above it.
fn locate(doc: &Node, path: &str) -> At {
    let mut node = doc;
    let mut at = At::default();
    for step in path.split('.') {
        let next = match &node.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.text() == Some(step)).map(|(k, v)| {
                at = k.at;
                v
            }),
            Value::Seq(items) => step.parse::<usize>().ok().and_then(|i| items.get(i)).inspect(|n| at = n.at),
            _ => None,
        };
        match next {
            Some(next) => node = next,
            None => break,
        }
    }
    at
}

pub(super) fn validate(config: &Config, checks: &mut Checks) {
    if config.targets.is_empty() {
        checks.add("targets", "no targets: add at least one entry under `targets:`");
    }
    let mut seen = HashSet::new();
    for (index, target) in config.targets.iter().enumerate() {
        validate_target(target, &format!("targets.{index}"), checks);
        if !seen.insert(target.name.as_str()) {
            checks.add(
                &format!("targets.{index}.name"),
                format!("target \"{}\" is defined twice; names must be unique", target.name),
            );
        }
    }
    if let Some(email) = &config.email {
        validate_email(email, checks);
    }
    super::state::validate(&config.state, config.ha.as_ref(), checks);
    let listen = config.http.listen.trim();
    let address = listen.parse::<std::net::SocketAddr>().is_ok()
        || listen.strip_prefix("localhost:").is_some_and(|port| port.parse::<u16>().is_ok());
    if !listen.is_empty() && !address {
        checks.add("http.listen", format!("http.listen `{listen}` is not an address to listen on; write e.g. 127.0.0.1:9187, or \"\" to turn the endpoint off"));
    }
    let fallback = config.owners.fallback.iter().map(|a| ("owners.fallback".to_string(), a));
    let map = config.owners.map.iter().map(|(user, a)| (format!("owners.map.{user}"), a));
    for (key, address) in fallback.chain(map) {
        if address.parse::<lettre::Address>().is_err() {
            checks.add(&key, format!("{key}: `{address}` is not an e-mail address"));
        }
    }
}

fn validate_email(email: &EmailConfig, checks: &mut Checks) {
    match email.from.as_deref().map(str::parse::<lettre::message::Mailbox>) {
        None => checks.add("email", "email.from is required, e.g. \"nbwarden <nbwarden@example.com>\""),
        Some(Err(e)) => checks.add("email.from", format!("email.from is not an address: {e}")),
        Some(Ok(_)) => {}
    }
    match email.transport {
        EmailTransport::Smtp if email.host.as_deref().is_none_or(str::is_empty) => {
            checks.add("email.host", "email.host is required with transport: smtp")
        }
        EmailTransport::File if email.dir.is_none() => {
            checks.add("email", "email.dir is required with transport: file (the folder for .eml files)")
        }
        _ => {}
    }
    if email.password.is_some() && email.username.is_none() {
        checks.add("email.password", "email.password is set but email.username is not");
    }
    let relay = email.host.as_deref().unwrap_or_default();
    let credentials = email.username.is_some() || email.password.is_some();
    if email.transport == EmailTransport::Smtp
        && email.security == SmtpSecurity::None
        && credentials
        && !is_loopback_host(relay)
    {
        checks.add("email.security", format!("email.security: none would send the SMTP username and password in clear text to {relay}; use starttls or tls (a relay on a loopback address is exempt)"));
    }
}

fn validate_target(target: &TargetConfig, at: &str, checks: &mut Checks) {
    let name = &target.name;
    let valid_name = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !valid_name {
        checks.add(&format!("{at}.name"), format!("target name \"{name}\" must match [a-z0-9_-]+"));
    }
    let mut check = |ok: bool, key: &str, message: String| {
        if !ok {
            checks.add(&format!("{at}.{key}"), format!("target \"{name}\": {message}"));
        }
    };
    check(
        is_http_url(&target.admin_url),
        "admin_url",
        format!("admin_url `{}` is not an http(s) URL", target.admin_url),
    );
    if let Some(portal) = &target.auth.portal_url {
        check(is_http_url(portal), "auth.portal_url", format!("auth.portal_url `{portal}` is not an http(s) URL"));
    }
    for (key, url) in [("admin_url", Some(&target.admin_url)), ("auth.portal_url", target.auth.portal_url.as_ref())] {
        if let Some(url) = url.filter(|u| !target.allow_insecure_http && in_clear(u)) {
            check(false, key, format!("{key} `{url}` would send the password and every token in clear text; use https://, or set allow_insecure_http: true on the target if the network path is trusted (loopback addresses are exempt)"));
        }
    }
    let size = target.max_response;
    check(
        size.0 >= 1024,
        "max_response",
        format!("max_response {size} is too small; give at least 1KiB (256MiB is the default)"),
    );
    if let Err(e) = target.auth_method() {
        check(false, "auth", format!("auth: {e}"));
    }
    check(!target.auth.referer.trim().is_empty(), "auth.referer", "auth.referer must not be empty".into());
    let poll = &target.poll;
    check(
        !(poll.every.is_some() && poll.cron.is_some()),
        "poll",
        "poll: give either `every` or `cron`, not both".into(),
    );
    check(poll.every.is_none_or(|d| d.0.as_secs() >= 1), "poll.every", "poll.every must be at least 1s".into());
    if let Some(Err(e)) = poll.cron.as_deref().map(parse_cron) {
        check(false, "poll.cron", format!("poll.cron: {e}"));
    }
    check(!poll.timeout.0.is_zero(), "poll.timeout", "poll.timeout must be more than 0s".into());
    check(poll.page_size > 0, "poll.page_size", "poll.page_size must be at least 1".into());
    let fraction = target.limits.max_cancel_fraction;
    let share = fraction > 0.0 && fraction <= 1.0;
    check(share, "limits.max_cancel_fraction", format!("limits.max_cancel_fraction {fraction} must be in (0, 1]"));
    if let Some(tasks) = &target.tasks {
        check(tasks.every.0.as_secs() >= 1, "tasks.every", "tasks.every must be at least 1s".into());
        let portal = target.auth.portal_url.is_some() || target.flavor == Flavor::Enterprise;
        check(
            portal,
            "tasks",
            "tasks: reading scheduled tasks needs auth.portal_url (the portal's sharing API)".into(),
        );
    }
}

/// A plain `http://` URL whose host is not a loopback address.
pub fn in_clear(url: &str) -> bool {
    reqwest::Url::parse(url).is_ok_and(|u| u.scheme() == "http" && !u.host_str().is_some_and(is_loopback_host))
}

/// `localhost`, or an IP address of the loopback interface (`127.0.0.0/8`, `::1`).
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost") || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn is_http_url(text: &str) -> bool {
    reqwest::Url::parse(text).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}
