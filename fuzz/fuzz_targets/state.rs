//! Any bytes as state.json: the loader must not panic, and anything that is
//! not a valid schema-1 state must be moved aside and replaced by an empty
//! state (garbage never turns into an escalation).
#![no_main]

use libfuzzer_sys::fuzz_target;
use stray::state::{State, StateDir};

fuzz_target!(|data: &[u8]| {
    let t = tempfile::tempdir().unwrap();
    let d = StateDir::open(&t.path().join("s"), true).unwrap().unwrap();
    std::fs::write(d.file("state.json"), data).unwrap();
    let loaded = State::load(&d, Some("boot"), true).unwrap();
    let valid = serde_json_valid(data);
    if !valid {
        assert!(loaded.state.reap.is_empty());
        assert!(loaded.quarantined.is_some());
    }
});

fn serde_json_valid(data: &[u8]) -> bool {
    // Mirrors the loader: a JSON object with "schema": 1 that deserializes.
    let t = tempfile::tempdir().unwrap();
    let d = StateDir::open(&t.path().join("s"), true).unwrap().unwrap();
    std::fs::write(d.file("state.json"), data).unwrap();
    State::load(&d, Some("boot"), false)
        .map(|l| l.notes.iter().all(|n| !n.contains("corrupt")))
        .unwrap_or(false)
}
