//! Text that changes once a second (a log line's timestamp, an answer's
//! `Date`), made once per second and thread rather than for every line or
//! answer.

use std::time::{SystemTime, UNIX_EPOCH};

/// The text made for the current second, remade when the second changes.
#[derive(Default)]
pub struct SecondText {
    second: u64,
    text: String,
}

impl SecondText {
    /// The text for now, made by `make` from the seconds since the Unix
    /// epoch when this second has none yet.
    pub fn now(&mut self, make: impl FnOnce(u64) -> String) -> &str {
        let second = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if second != self.second || self.text.is_empty() {
            self.second = second;
            self.text = make(second);
        }
        &self.text
    }
}
