//! Independent clients check the service from the outside, each from what
//! the service publishes about itself:
//! - `schemathesis`: schemathesis (PyPI) fuzzes the release binary from its
//!   own `/openapi.json`, both backends, with and without a token;
//! - `spec_validator`: openapi-spec-validator (PyPI) checks the document;
//! - `browser`: Debian's chromium, driven by playwright-core (npm), uses
//!   `/docs` as a person would, "Try it out" included;
//! - `buf_curl`: `buf curl` (npm `@bufbuild/buf`), a gRPC client that knows
//!   the service only through server reflection.
//!
//! `.ci/run` installs the tools ([`tools`] says where). A test whose tool is
//! missing fails when `CI` is set, and otherwise says loudly that it did not
//! run ([`requires`](crate::helpers::prerequisites::requires)), so `cargo
//! test` still works on a machine without them.

mod browser;
mod buf_curl;
mod schemathesis;
mod spec_validator;
pub mod tools;
