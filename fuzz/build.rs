//! Links as the service's own binaries are (see the service's build.rs and
//! src/grpc/local.rs).

fn main() {
    println!("cargo:rustc-link-arg=-Wl,--wrap=grpc_server_add_channel_from_fd");
}
