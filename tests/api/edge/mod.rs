//! The REST edge against hostile clients: message framing that could let a
//! body run as a request, protocol upgrades, bodies that stop or trickle,
//! graceful stops with requests already sent, forged log lines, an empty
//! token, and a declared body length no buffer can hold. Each case talks to
//! the real service (in-process, or the binary where a signal or a crash
//! matters) over a raw socket.
//!
//! - `logs`: access lines cannot be forged.
//! - `token`: an empty token is a start-up error.

mod logs;
mod token;
