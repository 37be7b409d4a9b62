//! Operability: health, reflection, /healthz, /metrics, message limits and gzip.
