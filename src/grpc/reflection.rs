//! gRPC server reflection, `grpc.reflection.v1` and `grpc.reflection.v1alpha`,
//! so `grpcurl list` and other reflection clients work without the .proto
//! files. Open without a token. The descriptors are the ones build.rs parsed,
//! embedded at build time; a file is always sent with its dependencies.

use std::collections::HashMap;
use std::sync::Arc;

use grpcio::{DuplexSink, RequestStream, RpcContext, RpcStatusCode, ServiceBuilder};
use protobuf::descriptor::{DescriptorProto, FileDescriptorProto, FileDescriptorSet};
use protobuf::Message as _;

use super::call::CallGate;
use super::decode::{method, Decoded};
use super::method::methods;

/// What a reflection request asks, independent of the protocol version.
enum Query {
    FileByName(String),
    FileContainingSymbol(String),
    FileContainingExtension(String),
    ExtensionNumbersOf(String),
    ListServices,
    Invalid,
}

/// The answer, independent of the protocol version.
enum Answer {
    Files(Vec<Vec<u8>>),
    ExtensionNumbers(String),
    Services(Vec<String>),
    Error(RpcStatusCode, String),
}

/// The descriptors served, indexed by file name and by symbol.
pub struct DescriptorIndex {
    files: HashMap<String, FileDescriptorProto>,
    encoded: HashMap<String, Vec<u8>>,
    symbols: HashMap<String, String>,
    messages: Vec<String>,
    services: Vec<String>,
}

impl DescriptorIndex {
    /// Indexes a serialized `FileDescriptorSet`.
    pub fn from_set(bytes: &[u8]) -> Result<Self, protobuf::Error> {
        let set = FileDescriptorSet::parse_from_bytes(bytes)?;
        let mut index = Self {
            files: HashMap::new(),
            encoded: HashMap::new(),
            symbols: HashMap::new(),
            messages: Vec::new(),
            services: Vec::new(),
        };
        for file in set.file {
            let name = file.name().to_string();
            let prefix = match file.package() {
                "" => String::new(),
                package => format!("{package}."),
            };
            for message in &file.message_type {
                index.add_message(&prefix, message, &name);
            }
            for enumeration in &file.enum_type {
                index.add_symbol(format!("{prefix}{}", enumeration.name()), &name);
            }
            for service in &file.service {
                let service_name = format!("{prefix}{}", service.name());
                for method in &service.method {
                    index.add_symbol(format!("{service_name}.{}", method.name()), &name);
                }
                index.services.push(service_name.clone());
                index.add_symbol(service_name, &name);
            }
            index.encoded.insert(name.clone(), file.write_to_bytes()?);
            index.files.insert(name, file);
        }
        index.services.sort();
        Ok(index)
    }

    fn add_symbol(&mut self, symbol: String, file: &str) {
        self.symbols.insert(symbol, file.to_string());
    }

    fn add_message(&mut self, scope: &str, message: &DescriptorProto, file: &str) {
        let full = format!("{scope}{}", message.name());
        for nested in &message.nested_type {
            self.add_message(&format!("{full}."), nested, file);
        }
        for enumeration in &message.enum_type {
            self.add_symbol(format!("{full}.{}", enumeration.name()), file);
        }
        self.messages.push(full.clone());
        self.add_symbol(full, file);
    }

    /// A file and, after it, every file it depends on (each once).
    fn file_with_dependencies(&self, name: &str) -> Option<Vec<Vec<u8>>> {
        let mut order: Vec<&str> = Vec::new();
        let mut pending = vec![name];
        while let Some(next) = pending.pop() {
            if order.contains(&next) {
                continue;
            }
            let file = self.files.get(next)?;
            order.push(next);
            pending.extend(file.dependency.iter().map(String::as_str));
        }
        Some(order.iter().map(|n| self.encoded[*n].clone()).collect())
    }

    fn answer(&self, query: Query) -> Answer {
        let not_found = |what: String| Answer::Error(RpcStatusCode::NOT_FOUND, what);
        match query {
            Query::ListServices => Answer::Services(self.services.clone()),
            Query::FileByName(name) => self
                .file_with_dependencies(&name)
                .map(Answer::Files)
                .unwrap_or_else(|| not_found(format!("file {name:?} not found"))),
            Query::FileContainingSymbol(symbol) => {
                let symbol = symbol.trim_start_matches('.');
                self.symbols
                    .get(symbol)
                    .and_then(|file| self.file_with_dependencies(file))
                    .map(Answer::Files)
                    .unwrap_or_else(|| not_found(format!("symbol {symbol:?} not found")))
            }
            Query::FileContainingExtension(message) => {
                not_found(format!("no extensions of {message:?} are known"))
            }
            Query::ExtensionNumbersOf(message) => {
                let message = message.trim_start_matches('.').to_string();
                if self.messages.contains(&message) {
                    Answer::ExtensionNumbers(message)
                } else {
                    not_found(format!("message type {message:?} not found"))
                }
            }
            Query::Invalid => Answer::Error(
                RpcStatusCode::INVALID_ARGUMENT,
                "the request sets no message_request".to_string(),
            ),
        }
    }
}

/// The reflection service (both versions share one instance).
#[derive(Clone)]
pub struct ReflectionService {
    index: Arc<DescriptorIndex>,
    gate: CallGate,
}

impl ReflectionService {
    /// A service over these descriptors; `gate` must not require a token.
    pub fn new(index: Arc<DescriptorIndex>, gate: CallGate) -> Self {
        Self { index, gate }
    }
}

/// Implements one version of the reflection protocol over [`DescriptorIndex::answer`].
macro_rules! reflection_version {
    ($messages:ident, $service_const:ident, $info:ident, $service:literal, $register:ident, $handler:ident) => {
        methods! {
            $service_const = $service;
            $info = "ServerReflectionInfo", BidiStream;
        }

        impl ReflectionService {
            /// The grpcio service definition of this protocol version;
            /// requests are decoded by the handler ([`super::decode`]).
            pub fn $register(self) -> grpcio::Service {
                let mut service = self;
                ServiceBuilder::new()
                    .add_duplex_streaming_handler(&method(&$info), move |ctx, req, sink| {
                        service.$handler(ctx, req, sink)
                    })
                    .build()
            }

            fn $handler(
                &mut self,
                ctx: RpcContext,
                requests: RequestStream<Decoded<crate::proto::$messages::ServerReflectionRequest>>,
                sink: DuplexSink<crate::proto::$messages::ServerReflectionResponse>,
            ) {
                use crate::proto::$messages as m;
                let index = Arc::clone(&self.index);
                self.gate
                    .bidi_stream(&ctx, &$info, requests, sink, move |request| {
                        let query = if request.has_file_by_filename() {
                            Query::FileByName(request.file_by_filename().to_string())
                        } else if request.has_file_containing_symbol() {
                            Query::FileContainingSymbol(
                                request.file_containing_symbol().to_string(),
                            )
                        } else if request.has_file_containing_extension() {
                            Query::FileContainingExtension(
                                request.file_containing_extension().containing_type.clone(),
                            )
                        } else if request.has_all_extension_numbers_of_type() {
                            Query::ExtensionNumbersOf(
                                request.all_extension_numbers_of_type().to_string(),
                            )
                        } else if request.has_list_services() {
                            Query::ListServices
                        } else {
                            Query::Invalid
                        };
                        let mut response = m::ServerReflectionResponse::new();
                        response.valid_host = request.host.clone();
                        match index.answer(query) {
                            Answer::Files(files) => {
                                let mut files_response = m::FileDescriptorResponse::new();
                                files_response.file_descriptor_proto = files;
                                response.set_file_descriptor_response(files_response);
                            }
                            Answer::ExtensionNumbers(base) => {
                                let mut numbers = m::ExtensionNumberResponse::new();
                                numbers.base_type_name = base;
                                response.set_all_extension_numbers_response(numbers);
                            }
                            Answer::Services(names) => {
                                let mut list = m::ListServiceResponse::new();
                                list.service = names
                                    .into_iter()
                                    .map(|name| {
                                        let mut service = m::ServiceResponse::new();
                                        service.name = name;
                                        service
                                    })
                                    .collect();
                                response.set_list_services_response(list);
                            }
                            Answer::Error(code, message) => {
                                let mut error = m::ErrorResponse::new();
                                error.error_code = i32::from(code);
                                error.error_message = message;
                                response.set_error_response(error);
                            }
                        }
                        response.original_request = protobuf::MessageField::some(request);
                        Ok(std::future::ready(Ok(response)))
                    });
            }
        }
    };
}

reflection_version!(
    reflection_v1,
    V1_SERVICE_NAME,
    V1_INFO,
    "grpc.reflection.v1.ServerReflection",
    into_v1_service,
    serve_v1
);
reflection_version!(
    reflection_v1alpha,
    V1ALPHA_SERVICE_NAME,
    V1ALPHA_INFO,
    "grpc.reflection.v1alpha.ServerReflection",
    into_v1alpha_service,
    serve_v1alpha
);
