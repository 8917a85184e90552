//! Generates the protobuf/gRPC code from `proto/` with the pure-Rust `protox` compiler, so the
//! build needs no system `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["workload.proto", "authorization.proto", "citadel.proto", "xds.proto", "zds.proto"];
    let fds = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
