//! Handler panics, contained: a panic inside [`contain`] fails that one
//! request or call and nothing else. Such a panic is logged as one error line
//! instead of going through the default panic hook, which with
//! `RUST_BACKTRACE` set symbolizes a backtrace on the panicking thread (for
//! gRPC, the completion-queue thread every call needs) for up to seconds.

use std::any::Any;
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe, PanicHookInfo};
use std::sync::Once;

thread_local! {
    /// Whether this thread is inside [`contain`].
    static CONTAINED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `work`; a panic becomes `Err` with its message, logged once.
pub fn contain<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    install_hook();
    let outer = CONTAINED.with(|flag| flag.replace(true));
    let outcome = catch_unwind(AssertUnwindSafe(work));
    CONTAINED.with(|flag| flag.set(outer));
    outcome.map_err(|panic| payload_text(panic.as_ref()).to_string())
}

/// Puts a hook in front of the current one that logs contained panics
/// briefly and hands every other panic on unchanged.
fn install_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info: &PanicHookInfo| {
            if CONTAINED.with(Cell::get) {
                let location = info
                    .location()
                    .map(|l| format!(" at {}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                log::error!(
                    "handler panicked{location}: {}",
                    payload_text(info.payload())
                );
            } else {
                previous(info);
            }
        }));
    });
}

/// A panic's message: its `&str` or `String` payload.
fn payload_text(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic")
}

#[cfg(test)]
mod tests {
    use super::contain;

    #[test]
    fn a_panic_becomes_its_message_and_the_thread_goes_on() {
        assert_eq!(contain(|| 7), Ok(7));
        assert_eq!(
            contain(|| -> u8 { panic!("boom {}", 1) }),
            Err("boom 1".to_string())
        );
        assert_eq!(contain(|| "still here"), Ok("still here"));
    }
}
