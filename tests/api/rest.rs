//! The REST/JSON contract through real HTTP.
