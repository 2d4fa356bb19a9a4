//! One HTTP answer turned into the expected document or the typed error it reports: the 401
//! and 498 cases, HTML pages, error envelopes in a 200, unreadable JSON.

use super::super::error::{html_title, looks_like_html, Error, Result};
use super::super::wire::{Envelope, Payload};
use super::Read;

/// Turns one HTTP answer into the expected document or the error it reports.
pub fn decode<T: Payload>(
    url: &str,
    status: u16,
    content_type: &str,
    location: Option<&str>,
    body: &[u8],
) -> Result<T> {
    decode_with(url, status, content_type, location, body, &mut |body| T::from_json(body))
}

/// `decode`, the body made the answer by `read`.
pub(super) fn decode_with<T: Payload>(
    url: &str,
    status: u16,
    content_type: &str,
    location: Option<&str>,
    body: &[u8],
    read: Read<'_, T>,
) -> Result<T> {
    let url = url.to_string();
    if status == 401 {
        return Err(match Envelope::parse(body) {
            Some(envelope) => Error::from_envelope(&url, envelope),
            None if looks_like_html(body, content_type) => Error::Unauthorized { url, detail: html_title(body) },
            None => Error::Unauthorized { url, detail: excerpt(body) },
        });
    }
    if looks_like_html(body, content_type) {
        return Err(Error::Html { url, status, title: html_title(body) });
    }
    if status >= 300 {
        if let Some(envelope) = Envelope::parse(body) {
            return Err(Error::from_envelope(&url, envelope));
        }
        return Err(match status {
            403 => Error::Forbidden { url, message: "HTTP 403".into() },
            498 | 499 => {
                Error::TokenRejected { url, code: status.into(), message: "HTTP status".into(), hint: "sign in again" }
            }
            300..=399 => {
                Error::Http { url, status, detail: format!("redirects to {}; use that URL", location.unwrap_or("?")) }
            }
            _ => Error::Http { url, status, detail: excerpt(body) },
        });
    }
    match read(body) {
        Ok(value) if value.is_payload() => Ok(value),
        Ok(_) => Err(match Envelope::parse(body) {
            Some(envelope) => Error::from_envelope(&url, envelope),
            None => Error::UnexpectedShape { url, expected: T::EXPECTED },
        }),
        Err(e) => Err(match Envelope::parse(body) {
            Some(envelope) => Error::from_envelope(&url, envelope),
            None => Error::InvalidJson {
                url,
                detail: crate::text::sanitize(&e.to_string()).into_owned(),
                truncated: e.classify() == serde_json::error::Category::Eof,
            },
        }),
    }
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    let spaced: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    crate::text::sanitize(spaced.trim()).into_owned()
}
