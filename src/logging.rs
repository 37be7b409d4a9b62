//! Log lines on stderr, cheap enough to keep one access line per request at
//! `info`. A line is formatted into a buffer each thread reuses, with the
//! timestamp text cached for the current second, and reaches stderr in one
//! `write`: no styling, no allocation per line, no interleaving of lines.
//! `RUST_LOG` filters as usual (`info` when unset).
//!
//! A record is always one line: values a client chose are logged through
//! [`Escaped`], and any control character that still reaches a line (from a
//! message that quotes something it did not escape) is escaped on its way
//! out, so no client can forge a line or send escape sequences to a terminal.

use std::cell::RefCell;
use std::fmt;
use std::io::Write;

use crate::second_text::SecondText;

/// Installs the stderr logger for this process, filtered by `RUST_LOG`.
pub fn init() {
    let spec = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_string());
    let filter = env_filter::Builder::new().parse(&spec).build();
    let max_level = filter.filter();
    if log::set_boxed_logger(Box::new(StderrLogger { filter })).is_ok() {
        log::set_max_level(max_level);
    }
}

/// Formats `[2026-12-03T12:00:00Z INFO  target] message` lines onto stderr.
struct StderrLogger {
    filter: env_filter::Filter,
}

/// A thread's line buffer and the timestamp text of the second it last logged in.
#[derive(Default)]
struct LineBuffer {
    line: Vec<u8>,
    timestamp: SecondText,
}

thread_local! {
    static BUFFER: RefCell<LineBuffer> = RefCell::new(LineBuffer::default());
}

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        self.filter.enabled(metadata)
    }

    fn log(&self, record: &log::Record) {
        if !self.filter.matches(record) {
            return;
        }
        let written = BUFFER.try_with(|buffer| match buffer.try_borrow_mut() {
            Ok(mut buffer) => buffer.write_record(record),
            // Logging from inside a value's Display while formatting a line.
            Err(_) => LineBuffer::default().write_record(record),
        });
        if written.is_err() {
            // The thread is exiting and its buffer is gone.
            LineBuffer::default().write_record(record);
        }
    }

    fn flush(&self) {}
}

impl LineBuffer {
    fn write_record(&mut self, record: &log::Record) {
        let timestamp = self.timestamp.now(rfc3339_seconds);
        self.line.clear();
        let _ = writeln!(
            self.line,
            "[{} {:<5} {}] {}",
            timestamp,
            record.level(),
            record.target(),
            record.args()
        );
        if let Some((_, text)) = self.line.split_last() {
            let text = String::from_utf8_lossy(text);
            if text.chars().any(char::is_control) {
                let mut escaped = Escaped(&text).to_string().into_bytes();
                escaped.push(b'\n');
                self.line = escaped;
            }
        }
        // Stderr is unbuffered: the whole line goes out in one write.
        let _ = std::io::stderr().lock().write_all(&self.line);
    }
}

/// A value for a log line with control characters (and backslashes, so an
/// escape is never ambiguous) written as escapes: `\n`, `\r`, `\t`,
/// `\\`, `\x1b`. Everything else passes unchanged.
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(|c: char| c == '\\' || c.is_control()) {
            f.write_str(&rest[..at])?;
            let Some(c) = rest[at..].chars().next() else {
                break;
            };
            match c {
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                '\\' => f.write_str("\\\\")?,
                c if c.is_ascii() => write!(f, "\\x{:02x}", c as u32)?,
                c => write!(f, "\\u{{{:x}}}", c as u32)?,
            }
            rest = &rest[at + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the Unix epoch (UTC).
fn rfc3339_seconds(unix_seconds: u64) -> String {
    let days = unix_seconds / 86_400;
    let second_of_day = unix_seconds % 86_400;
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::{rfc3339_seconds, Escaped};

    #[test]
    fn escapes_control_characters_and_backslashes() {
        let hostile = "GET\nforged\r\t\u{1b}[2J\\x\u{7f}é\u{9b}";
        assert_eq!(
            Escaped(hostile).to_string(),
            "GET\\nforged\\r\\t\\x1b[2J\\\\x\\x7fé\\u{9b}"
        );
        assert_eq!(Escaped("plain").to_string(), "plain");
    }

    #[test]
    fn formats_utc_timestamps() {
        assert_eq!(rfc3339_seconds(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_seconds(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_seconds(1_796_300_000), "2026-12-03T12:13:20Z");
        assert_eq!(rfc3339_seconds(4_102_444_799), "2099-12-31T23:59:59Z");
    }
}
