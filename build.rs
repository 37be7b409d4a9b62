//! Generates the protobuf messages and grpcio service stubs into OUT_DIR with
//! pure-Rust parsers, so no `protoc` is needed. It also writes every parsed
//! file descriptor (dependencies included) to `descriptors.bin`, a serialized
//! `FileDescriptorSet` that server reflection embeds.

use std::fs;
use std::path::{Path, PathBuf};

use protobuf::Message as _;

/// The .proto files we serve, relative to `proto/`.
const PROTOS: &[&str] = &[
    "entities.proto",
    "health.proto",
    "reflection_v1.proto",
    "reflection_v1alpha.proto",
];

fn main() {
    // The in-process channel to our own server needs the core server's
    // address, which grpcio keeps private: src/grpc/local.rs explains.
    println!("cargo:rustc-link-arg=-Wl,--wrap=grpc_server_add_channel_from_fd");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let proto_out = out_dir.join("proto");
    fs::create_dir_all(&proto_out).expect("create OUT_DIR/proto");
    let inputs: Vec<PathBuf> = PROTOS.iter().map(|p| Path::new("proto").join(p)).collect();
    for input in &inputs {
        println!("cargo:rerun-if-changed={}", input.display());
    }

    protobuf_codegen::Codegen::new()
        .pure()
        .include("proto")
        .inputs(&inputs)
        .out_dir(&proto_out)
        .run()
        .expect("generate protobuf messages");

    let parsed = protobuf_parse::Parser::new()
        .pure()
        .include("proto")
        .inputs(&inputs)
        .parse_and_typecheck()
        .expect("parse .proto files");

    let mut set = protobuf::descriptor::FileDescriptorSet::new();
    set.file = parsed.file_descriptors.clone();
    fs::write(
        out_dir.join("descriptors.bin"),
        set.write_to_bytes().expect("encode descriptors"),
    )
    .expect("write descriptors.bin");

    // grpcio-compiler speaks protobuf 2: hand it the same descriptors re-decoded.
    let v2_descriptors: Vec<protobuf2::descriptor::FileDescriptorProto> = parsed
        .file_descriptors
        .iter()
        .map(|file| {
            let bytes = file.write_to_bytes().expect("encode descriptor");
            protobuf2::Message::parse_from_bytes(&bytes).expect("decode descriptor as protobuf 2")
        })
        .collect();
    let to_generate: Vec<String> = PROTOS.iter().map(|p| p.to_string()).collect();
    for result in grpcio_compiler::codegen::gen(&v2_descriptors, &to_generate) {
        // Drop an allow() of a lint newer compilers no longer know, which would warn.
        let content = String::from_utf8(result.content).expect("generated code is UTF-8");
        let content = content.replace("#![allow(box_pointers)]\n", "");
        fs::write(proto_out.join(&result.name), content).expect("write service stubs");
    }

    let mut modules = String::new();
    for proto in PROTOS {
        let stem = proto.trim_end_matches(".proto");
        modules.push_str(&format!("pub mod {stem};\npub mod {stem}_grpc;\n"));
    }
    fs::write(proto_out.join("mod.rs"), modules).expect("write mod.rs");
}
