//! The command line beyond `serve`: `entity-service client …` and `demo`.
