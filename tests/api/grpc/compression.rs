//! Compressed requests: a client that gzips its messages is served like one
//! that does not.

use grpcio::CompressionAlgorithms;

use crate::helpers::grpc::{self, call_options, create_request, get_request};
use crate::helpers::TestService;

#[test]
fn gzip_compressed_requests_are_accepted() {
    let service = TestService::start();
    let channel = grpc::channel_with(service.grpc_addr, |builder| {
        builder.default_compression_algorithm(CompressionAlgorithms::GRPC_COMPRESS_GZIP)
    });
    let client = entity_service::proto::entities_grpc::EntityServiceClient::new(channel);
    let description = "compressible ".repeat(100);
    let created = client
        .create_entity_opt(&create_request("zipped", &description), call_options())
        .unwrap();
    assert_eq!(created.description, description);
    let got = client
        .get_entity_opt(&get_request(created.id), call_options())
        .unwrap();
    assert_eq!(got.name, "zipped");
}
