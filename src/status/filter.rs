//! The filters of `/status` (`?target=…&owner=…`), so that a view of one target or owner can be
//! shared as a link.

use serde::Serialize;

/// What `/status?target=…&owner=…` keeps: one target's, one owner's (its jobs and tasks).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Filter {
    /// Only this target.
    #[serde(default, deserialize_with = "blank_is_none")]
    pub target: Option<String>,
    /// Only this owner's jobs and tasks.
    #[serde(default, deserialize_with = "blank_is_none")]
    pub owner: Option<String>,
}

impl Filter {
    pub(super) fn target_kept(&self, target: &str) -> bool {
        self.target.as_deref().is_none_or(|t| t == target)
    }

    pub(super) fn kept(&self, target: &str, owner: &str) -> bool {
        self.target_kept(target) && self.owner.as_deref().is_none_or(|o| o.eq_ignore_ascii_case(owner))
    }
}

/// An empty field of the form (`?owner=`) filters nothing.
fn blank_is_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value: Option<String> = serde::Deserialize::deserialize(d)?;
    Ok(value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()))
}
