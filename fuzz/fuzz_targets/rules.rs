//! Any text as a rule file: parsed and compiled (every error collected); nothing may panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = nbwarden::rules::RuleSet::parse(std::path::Path::new("fuzz.yaml"), text, &["prod", "dev"]);
    }
});
