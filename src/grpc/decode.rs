//! Request messages are decoded for the handlers, not by grpcio: grpcio
//! answers a message its deserializer refuses with INTERNAL ("Failed to
//! deserialize response message") before any handler runs, so the call is
//! neither counted nor logged, and a client stream just ends CANCELLED.
//! Every method is registered with [`method`] instead, whose deserializer
//! never fails: it hands the handler a [`Decoded`] request, and an
//! undecodable one becomes INVALID_ARGUMENT naming the field and the byte
//! ([`super::wire`]), counted and logged like every call.

use std::io::{BufRead, Read};

use grpcio::{GrpcSlice, Marshaller, MessageReader, MethodType, RpcStatusCode};
use protobuf::{Message, MessageFull};

use super::method::Method;
use super::wire;
use crate::metrics::RpcKind;
use crate::status::Status;

/// A request message, or why its bytes are not one.
pub type Decoded<T> = Result<T, Undecodable>;

/// Why a request message could not be decoded; INVALID_ARGUMENT.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot decode {message}: {why}")]
pub struct Undecodable {
    /// The message type's full name.
    message: String,
    why: String,
}

impl From<Undecodable> for Status {
    fn from(error: Undecodable) -> Self {
        Status::new(RpcStatusCode::INVALID_ARGUMENT, error.to_string())
    }
}

/// grpcio's description of one of our methods: requests reach the handler
/// as [`Decoded`], replies are encoded as protobuf.
pub fn method<Req: MessageFull, Resp: Message>(
    method: &'static Method,
) -> grpcio::Method<Decoded<Req>, Resp> {
    grpcio::Method {
        ty: match method.kind {
            RpcKind::Unary => MethodType::Unary,
            RpcKind::ServerStream => MethodType::ServerStreaming,
            RpcKind::ClientStream => MethodType::ClientStreaming,
            RpcKind::BidiStream => MethodType::Duplex,
        },
        name: method.path,
        req_mar: Marshaller {
            ser: encode_decoded::<Req>,
            de: decode::<Req>,
        },
        resp_mar: Marshaller {
            ser: grpcio::pb_ser,
            de: grpcio::pb_de,
        },
    }
}

/// The deserializer: never an error, so grpcio always calls the handler.
fn decode<T: MessageFull>(mut reader: MessageReader) -> grpcio::Result<Decoded<T>> {
    let total = reader.len();
    // A message in one slice (the usual case) is parsed where it lies.
    let contiguous = match reader.fill_buf() {
        Ok(first) if first.len() == total => return Ok(parse(first)),
        Ok(_) => Vec::with_capacity(total),
        Err(error) => return Ok(Err(undecodable::<T>(error.to_string()))),
    };
    let mut bytes = contiguous;
    if let Err(error) = reader.read_to_end(&mut bytes) {
        return Ok(Err(undecodable::<T>(error.to_string())));
    }
    Ok(parse(&bytes))
}

fn parse<T: MessageFull>(bytes: &[u8]) -> Decoded<T> {
    T::parse_from_bytes(bytes).map_err(|error| {
        let why = wire::first_fault(bytes, &T::descriptor()).unwrap_or_else(|| error.to_string());
        undecodable::<T>(why)
    })
}

fn undecodable<T: MessageFull>(why: String) -> Undecodable {
    Undecodable {
        message: T::descriptor().full_name().to_string(),
        why,
    }
}

/// The serializer grpcio's method description needs too: clients of these
/// methods (tests, tools) send a decoded request as protobuf.
fn encode_decoded<T: Message>(request: &Decoded<T>, buffer: &mut GrpcSlice) -> grpcio::Result<()> {
    match request {
        Ok(request) => grpcio::pb_ser(request, buffer),
        Err(error) => Err(grpcio::Error::Codec(Box::new(error.clone()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::entities::CreateEntityRequest;

    #[test]
    fn an_undecodable_message_names_its_type_and_fault() {
        let parsed = parse::<CreateEntityRequest>(&[0x0a, 0x01, 0xff]);
        let status = Status::from(parsed.expect_err("not UTF-8"));
        assert_eq!(status.code, RpcStatusCode::INVALID_ARGUMENT);
        assert_eq!(
            status.message,
            "cannot decode entities.v1.CreateEntityRequest: field `name` (1): invalid UTF-8 at byte 2"
        );
        let parsed = parse::<CreateEntityRequest>(&[0x0a, 0x01, b'n']);
        assert_eq!(parsed.map(|r| r.name), Ok("n".to_string()));
    }
}
