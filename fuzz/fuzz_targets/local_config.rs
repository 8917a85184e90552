//! The local config file (LOCAL_XDS_PATH / LOCAL_XDS): YAML parse, validation, and the error
//! locator that points at the offending line (src/xds/local.rs `load_str`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(yaml) = std::str::from_utf8(data) else { return };
    if let Err(e) = ztunnel::xds::load_str(yaml, "fuzz.yaml") {
        let msg = e.to_string();
        assert!(msg.starts_with("fuzz.yaml: "), "{msg}");
        if let Some((line, col)) = e.invalid().and_then(|i| i.location) {
            assert!(line >= 1 && col >= 1, "{msg}");
        }
    }
});
