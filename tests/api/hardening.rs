//! Hardening: idle and hostile connections, descriptor exhaustion, slow watchers, upstream loss.
