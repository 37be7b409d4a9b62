//! What identifies an RPC method of ours: its names for logs and metrics,
//! its path on the wire and its kind, declared once per method.

use crate::metrics::RpcKind;

/// An RPC method: what logs and metrics call it, and its path on the wire.
#[derive(Debug)]
pub struct Method {
    /// Full service name, e.g. `entities.v1.EntityService`.
    pub service: &'static str,
    /// Method name, e.g. `GetEntity`.
    pub name: &'static str,
    /// `/service/name`, as gRPC routes calls.
    pub path: &'static str,
    pub kind: RpcKind,
}

/// Declares a service's name as the constant `$service_const` and each of
/// its methods as a static [`Method`].
macro_rules! methods {
    ($service_const:ident = $service:literal; $($constant:ident = $name:literal, $kind:ident;)*) => {
        /// The service's full name.
        pub const $service_const: &str = $service;
        $(static $constant: $crate::grpc::method::Method = $crate::grpc::method::Method {
            service: $service,
            name: $name,
            path: concat!("/", $service, "/", $name),
            kind: $crate::metrics::RpcKind::$kind,
        };)*
    };
}
pub(crate) use methods;
