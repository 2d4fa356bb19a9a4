//! Any text as the configuration file: parsed, interpolated and checked (every problem
//! collected); nothing may panic, however deep, aliased or tagged the YAML.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = nbwarden::config::parse(std::path::Path::new("/nonexistent/nbwarden.yaml"), text);
    }
});
