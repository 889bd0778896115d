//! Any bytes as a config file: parse errors are fine, panics are not.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = stray::config::Config::parse(text, std::path::Path::new("fuzz.toml"));
    }
});
