//! Generates the gRPC server and client of proto/entities.proto with
//! tonic-prost-build, the proto parsed by protox: no protoc needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = "../../proto";
    let proto = format!("{proto_dir}/entities.proto");
    println!("cargo:rerun-if-changed={proto}");
    let descriptors = protox::compile([&proto], [proto_dir])?;
    tonic_prost_build::configure()
        // The REST server answers with the entity as JSON, fields in proto order.
        .type_attribute("entities.v1.Entity", "#[derive(serde::Serialize)]")
        .compile_fds(descriptors)?;
    Ok(())
}
