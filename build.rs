//! Generates the protobuf/gRPC code from `proto/` with the pure-Rust `protox` compiler, so the
//! build needs no system `protoc`; records the compiler version for `ztunnel version`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["workload.proto", "authorization.proto", "citadel.proto", "xds.proto", "zds.proto"];
    let fds = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure().build_server(true).build_client(true).compile_fds(fds)?;
    println!("cargo:rerun-if-changed=proto");
    // `ztunnel version` reports the compiler, as upstream's BuildInfo does.
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|v| v.split_whitespace().nth(1).map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=ZTUNNEL_RUSTC_VERSION={version}");
    Ok(())
}
