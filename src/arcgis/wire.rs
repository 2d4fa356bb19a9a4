//! JSON bodies of the ArcGIS REST calls and their translation into `Job` (pure; no I/O).
//! Lenient by design: unknown fields are ignored, timestamps may be numbers or strings.

use super::model::{Job, Status};
use crate::clock::ServerMs;
use serde::{de, Deserialize, Deserializer};

mod list;
mod scan;
pub use list::{raw_hash, structure, JobList, Scratch};

/// A body that may be the expected payload or, with HTTP 200, an error envelope.
pub trait Payload: de::DeserializeOwned {
    /// What the body should have held, for error messages.
    const EXPECTED: &'static str;
    /// True when the body carried what the call asked for.
    fn is_payload(&self) -> bool;
    /// Reads a body (a type may size its buffers from the body's length).
    fn from_json(body: &[u8]) -> serde_json::Result<Self> {
        serde_json::from_slice(body)
    }
}

/// One job as any list or the job resource sends it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireJob {
    job_id: Option<String>,
    #[serde(rename = "type")]
    job_type: Option<String>,
    name: Option<String>,
    #[serde(default, deserialize_with = "status")]
    status: Option<Status>,
    username: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    start_time: Option<i64>,
    #[serde(default, deserialize_with = "lenient_i64")]
    end_time: Option<i64>,
    #[serde(default, deserialize_with = "lenient_i64")]
    date_created: Option<i64>,
    inputs: Option<WireInputs>,
    notebook_runtime_name: Option<String>,
    custom_attributes: Option<WireCustom>,
    #[serde(default)]
    messages: Vec<serde_json::Value>,
}

/// Longest message kept, in bytes.
const MESSAGE_BYTES: usize = 2048;
/// Messages kept (the last ones: a traceback ends with its error).
const MESSAGES_KEPT: usize = 50;

/// The messages as text, the last `MESSAGES_KEPT`, each cut to `MESSAGE_BYTES` at a character boundary.
fn message_texts(values: Vec<serde_json::Value>) -> Vec<String> {
    let skip = values.len().saturating_sub(MESSAGES_KEPT);
    let text = |v: serde_json::Value| match v {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    };
    values
        .into_iter()
        .skip(skip)
        .map(text)
        .map(|mut m| {
            if m.len() > MESSAGE_BYTES {
                let cut = (0..=MESSAGE_BYTES).rev().find(|&i| m.is_char_boundary(i)).unwrap_or(0);
                m.truncate(cut);
            }
            m
        })
        .collect()
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireInputs {
    item_id: Option<String>,
    task_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    execution_timeout_in_minutes: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireCustom {
    is_cancelled: Option<bool>,
}

impl WireJob {
    /// The job, or `None` without a `jobId`.
    pub fn into_job(self) -> Option<Job> {
        let id = self.job_id.filter(|id| !id.is_empty())?;
        let inputs_present = self.inputs.is_some();
        let inputs = self.inputs.unwrap_or_default();
        let positive = |t: Option<i64>| t.filter(|&t| t > 0);
        let non_empty = |s: Option<String>| s.filter(|s| !s.is_empty());
        let mut job = Job::new(id, self.status.unwrap_or_else(|| Status::Unknown(String::new())));
        job.job_type = non_empty(self.job_type.or(self.name));
        job.username = non_empty(self.username);
        job.started_at = positive(self.start_time).or(positive(self.date_created)).map(ServerMs);
        job.ended_at = positive(self.end_time).map(ServerMs);
        job.item_id = non_empty(inputs.item_id);
        job.runtime_name = non_empty(self.notebook_runtime_name);
        job.task_id = inputs_present.then(|| inputs.task_id.unwrap_or_default());
        job.timeout_minutes = positive(inputs.execution_timeout_in_minutes).map(|m| m as u64);
        job.cancelled_flag = self.custom_attributes.and_then(|c| c.is_cancelled).unwrap_or(false);
        let messages = message_texts(self.messages);
        job.edit(|more| more.messages = messages);
        Some(job)
    }

    /// True when the server sent a `status` field.
    pub fn has_status(&self) -> bool {
        self.status.is_some()
    }
}

impl Payload for WireJob {
    const EXPECTED: &'static str = "a jobId";
    fn is_payload(&self) -> bool {
        self.job_id.is_some()
    }
}

/// `generateToken` (Portal or admin): `expires` is epoch ms, a number or a string.
#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    /// The token; `None` in an error envelope.
    pub token: Option<crate::secret::Secret>,
    /// Expiry, epoch ms on the server's clock.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub expires: Option<i64>,
}

impl Payload for TokenResponse {
    const EXPECTED: &'static str = "a token";
    fn is_payload(&self) -> bool {
        self.token.as_ref().is_some_and(|t| !t.is_empty())
    }
}

/// The admin operation answer `{"status":"success"}`.
#[derive(Debug, Deserialize)]
pub struct OperationResponse {
    /// `success`, or something else on failure.
    pub status: Option<String>,
}

impl Payload for OperationResponse {
    const EXPECTED: &'static str = "\"status\": \"success\"";
    fn is_payload(&self) -> bool {
        self.status.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("success"))
    }
}

/// The admin root (`<admin>?f=json`): only the version matters. Sites name it `currentVersion`,
/// `fullVersion`, or (Notebook Server 12.1) `version`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminRoot {
    /// `currentVersion`, a string or a number.
    current_version: Option<serde_json::Value>,
    /// `fullVersion`.
    full_version: Option<serde_json::Value>,
    /// `version` (Notebook Server 12.1: `"12.1.0"`).
    version: Option<serde_json::Value>,
}

impl AdminRoot {
    /// The version, from the first of `currentVersion`, `fullVersion` and `version` given.
    pub fn version(&self) -> Option<String> {
        let value = self.current_version.as_ref().or(self.full_version.as_ref()).or(self.version.as_ref())?;
        Some(match value {
            serde_json::Value::String(v) => v.clone(),
            other => other.to_string(),
        })
    }
}

impl Payload for AdminRoot {
    const EXPECTED: &'static str = "currentVersion, fullVersion or version";
    fn is_payload(&self) -> bool {
        self.version().is_some()
    }
}

/// `portals/self`: the org and the caller's own user.
#[derive(Debug, Deserialize)]
pub struct PortalSelf {
    /// The org's id.
    pub id: Option<String>,
    /// The caller.
    pub user: Option<PortalUser>,
}

/// The caller as `portals/self` describes them.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortalUser {
    /// The account name.
    pub username: Option<String>,
    /// `org_admin`, `org_publisher`, `org_user`.
    pub role: Option<String>,
    /// A custom role's id.
    pub role_id: Option<String>,
    /// A custom role's privileges (`portal:admin:…` ones make an administrator).
    #[serde(default)]
    pub privileges: Vec<String>,
}

impl PortalUser {
    /// Role `org_admin`, or any `portal:admin:` privilege (arcgis-api.md §10).
    pub fn is_admin(&self) -> bool {
        self.role.as_deref() == Some("org_admin") || self.privileges.iter().any(|p| p.starts_with("portal:admin:"))
    }
}

impl Payload for PortalSelf {
    const EXPECTED: &'static str = "a portal description";
    fn is_payload(&self) -> bool {
        self.user.is_some() || self.id.is_some()
    }
}

/// Flat server properties: `notebooks/configuration` or `system/properties`.
#[derive(Debug, Deserialize)]
pub struct Properties(pub serde_json::Map<String, serde_json::Value>);

impl Properties {
    /// `maxExecuteNotebookTimeMinutes`, a number or a numeric string.
    pub fn max_execute_minutes(&self) -> Option<u64> {
        match self.0.get("maxExecuteNotebookTimeMinutes")? {
            serde_json::Value::Number(n) => n.as_u64(),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

impl Payload for Properties {
    const EXPECTED: &'static str = "server properties";
    fn is_payload(&self) -> bool {
        !self.0.contains_key("error") && self.0.get("status").and_then(|s| s.as_str()) != Some("error")
    }
}

/// `content/items/<id>`: the title and the owner (Esri: "Item", users-groups-and-items/item.htm).
#[derive(Debug, Deserialize)]
pub struct ItemResponse {
    /// The item's id (absent in an error envelope).
    pub id: Option<String>,
    /// Its title.
    pub title: Option<String>,
    /// Its owner's username.
    pub owner: Option<String>,
}

impl Payload for ItemResponse {
    const EXPECTED: &'static str = "an item";
    fn is_payload(&self) -> bool {
        self.id.is_some()
    }
}

/// `community/users/<name>`: only the address matters.
#[derive(Debug, Deserialize)]
pub struct UserResponse {
    /// The account name (absent in an error envelope).
    pub username: Option<String>,
    /// Visible to administrators and the user.
    pub email: Option<String>,
}

impl Payload for UserResponse {
    const EXPECTED: &'static str = "a username";
    fn is_payload(&self) -> bool {
        self.username.is_some()
    }
}

/// Either error envelope of arcgis-api.md §4, read from a body that was not the expected payload.
#[derive(Debug, Default, Deserialize)]
pub struct Envelope {
    error: Option<PortalError>,
    status: Option<String>,
    #[serde(default)]
    messages: Vec<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    code: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PortalError {
    #[serde(default, deserialize_with = "lenient_i64")]
    code: Option<i64>,
    message_code: Option<String>,
    message: Option<String>,
    #[serde(default)]
    details: Vec<String>,
}

/// The parts of an envelope that matter: its code and one readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeError {
    /// 498, 499, 403, 400, 500, …
    pub code: Option<i64>,
    /// `GWM_0003` and the like.
    pub message_code: Option<String>,
    /// Message and details joined.
    pub message: String,
}

impl EnvelopeError {
    /// A token problem that signing in again may cure (arcgis-api.md §4, step 4).
    pub fn is_auth(&self) -> bool {
        let text = self.message.to_ascii_lowercase();
        matches!(self.code, Some(498 | 499))
            || self.message_code.as_deref() == Some("GWM_0003")
            || text.contains("invalid token")
            || text.contains("token required")
            || text.contains("token not found")
    }
}

impl Envelope {
    /// The error this body reports, if it is an envelope of either format.
    pub fn parse(body: &[u8]) -> Option<EnvelopeError> {
        let envelope: Envelope = serde_json::from_slice(body).ok()?;
        if let Some(e) = envelope.error {
            let mut parts: Vec<String> = e.message.into_iter().collect();
            for detail in e.details {
                if !parts.contains(&detail) {
                    parts.push(detail);
                }
            }
            return Some(EnvelopeError { code: e.code, message_code: e.message_code, message: parts.join(" ") });
        }
        let failed = envelope.status.as_deref().is_some_and(|s| {
            let s = s.to_ascii_lowercase();
            s == "error" || s == "failed" || s == "failure"
        });
        failed.then(|| EnvelopeError { code: envelope.code, message_code: None, message: envelope.messages.join(" ") })
    }
}

/// A status read in place: the known spellings allocate nothing.
fn status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Status>, D::Error> {
    struct Spelling;
    impl<'de> de::Visitor<'de> for Spelling {
        type Value = Option<Status>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a status")
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Status::parse(v)))
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_str(self)
        }
    }
    d.deserialize_option(Spelling)
}

/// A number, a numeric string, or null; anything else unparseable becomes `None`.
pub(crate) fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    struct Lenient;
    impl<'de> de::Visitor<'de> for Lenient {
        type Value = Option<i64>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a number or a numeric string")
        }
        fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
            Ok(i64::try_from(v).ok())
        }
        fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
            Ok(v.is_finite().then_some(v as i64))
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            let v = v.trim();
            Ok(v.parse::<i64>().ok().or_else(|| v.parse::<f64>().ok().filter(|f| f.is_finite()).map(|f| f as i64)))
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }
    d.deserialize_any(Lenient)
}

#[cfg(test)]
mod tests;
