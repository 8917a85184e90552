//! The part of the tunnel's CPU per GB that no implementation can remove: sealing and opening
//! every byte with the AEAD the tunnel negotiates.
//!
//! The relays do every socket hop the tunnel does (client → A, A → B, B → server) and nothing
//! else, so "relays + AEAD" is the floor of any TLS tunnel on this CPU. It is measured here,
//! in the same run as the relays, with the product's own crypto provider
//! (`ztunnel::tls::provider::get()`, so a `tls-boring` build of the bench measures BoringSSL)
//! through rustls's record-layer interface: the same calls, the same 16 KiB records and the
//! same copy into the record buffer that rustls makes per record on a connection. Thread CPU
//! time, not wall time: another process on the core does not inflate it.

use std::time::Duration;

use rustls::crypto::cipher::{
    AeadKey, InboundOpaqueMessage, Iv, MessageDecrypter, MessageEncrypter, OutboundChunks, OutboundPlainMessage,
};
use rustls::{ContentType, ProtocolVersion, SupportedCipherSuite};

/// TLS's largest plaintext record: what a bulk transfer fills.
const RECORD: usize = 16 * 1024;

/// CPU seconds one side spends to seal one GB (10^9 bytes) and the other to open it, with the
/// provider's first (preferred) TLS 1.3 suite, and that suite's name. Median of `rounds`
/// passes over `mib` MiB each.
pub fn seal_open_secs_per_gb(mib: usize, rounds: usize) -> (f64, String) {
    let provider = ztunnel::tls::provider::get();
    let suite = provider
        .cipher_suites
        .iter()
        .find_map(|s| match s {
            SupportedCipherSuite::Tls13(s) => Some(*s),
            _ => None,
        })
        .expect("the provider has a TLS 1.3 suite");
    let name = format!("{:?}", suite.common.suite);
    // rustls builds a key from 32 bytes only; both providers prefer AES-256-GCM.
    assert_eq!(suite.aead_alg.key_len(), 32, "{name}: the preferred suite is expected to be AES-256-GCM");
    let iv = || Iv::copy(&[9u8; 12]);
    let records = mib * 1024 * 1024 / RECORD;
    let plain = vec![0x5au8; RECORD];
    let mut samples: Vec<f64> = (0..rounds)
        .map(|_| {
            let mut seal: Box<dyn MessageEncrypter> = suite.aead_alg.encrypter(AeadKey::from([7u8; 32]), iv());
            let mut open: Box<dyn MessageDecrypter> = suite.aead_alg.decrypter(AeadKey::from([7u8; 32]), iv());
            let start = thread_cpu();
            for seq in 0..records as u64 {
                let msg = OutboundPlainMessage {
                    typ: ContentType::ApplicationData,
                    version: ProtocolVersion::TLSv1_2,
                    payload: OutboundChunks::Single(&plain),
                };
                let mut sealed = seal.encrypt(msg, seq).expect("seal").encode();
                // The wire record: 5-byte header, then ciphertext and tag, opened in place.
                let opened = open
                    .decrypt(
                        InboundOpaqueMessage::new(
                            ContentType::ApplicationData,
                            ProtocolVersion::TLSv1_2,
                            &mut sealed[5..],
                        ),
                        seq,
                    )
                    .expect("open");
                assert_eq!(opened.payload.len(), RECORD, "a record opens to what was sealed");
            }
            let secs = (thread_cpu() - start).as_secs_f64();
            secs * 1e9 / (records * RECORD) as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    (samples[samples.len() / 2], name)
}

/// This thread's time on a CPU, in nanoseconds (the scheduler's own count: finer than the
/// clock ticks of `/proc/<pid>/stat`).
fn thread_cpu() -> Duration {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").expect("reading /proc/thread-self/schedstat");
    let ns = s.split_whitespace().next().and_then(|v| v.parse().ok()).expect("schedstat's first field");
    Duration::from_nanos(ns)
}
