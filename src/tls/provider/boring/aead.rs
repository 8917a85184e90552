//! TLS 1.3 record protection on BoringSSL's TLS-1.3-specific AES-GCM AEADs
//! (`EVP_aead_aes_{128,256}_gcm_tls13`).
//!
//! Why not the AEAD that `boring-rustls-provider` ships: it seals with the generic
//! `EVP_aead_aes_*_gcm`, which takes an externally built nonce, and BoringSSL's FIPS service
//! indicator reports such seals as *not approved* (FIPS 140-3 IG C.H wants the module to
//! construct or check the nonce). The `_tls13` variants enforce the TLS 1.3 nonce construction
//! (static IV XOR a strictly increasing record counter) inside the module, so every seal is an
//! approved service; they are what BoringSSL's own libssl uses. rustls numbers the records of
//! each traffic key 0, 1, 2, … and builds a fresh encrypter per key, which is exactly the
//! sequence those AEADs require.
//!
//! Key schedule (HKDF) and the suites' hash stay on `boring-rustls-provider`, which already
//! calls BoringSSL for them.

use std::sync::OnceLock;

use ::boring::aead::{AeadCtx, Algorithm};
use rustls::crypto::CipherSuiteCommon;
use rustls::crypto::cipher::{
    AeadKey, InboundOpaqueMessage, InboundPlainMessage, Iv, MessageDecrypter, MessageEncrypter, Nonce,
    OutboundOpaqueMessage, OutboundPlainMessage, PrefixedPayload, Tls13AeadAlgorithm, UnsupportedOperationError,
    make_tls13_aad,
};
use rustls::{ConnectionTrafficSecrets, ContentType, ProtocolVersion, Tls13CipherSuite};

/// AES-GCM tag length (both key sizes).
const TAG_LEN: usize = 16;

/// Which AES key size; selects the BoringSSL AEAD and the traffic-secret export variant.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AesGcmTls13 {
    Aes128,
    Aes256,
}

impl AesGcmTls13 {
    fn algorithm(self) -> Algorithm {
        match self {
            Self::Aes128 => Algorithm::aes_128_gcm_tls13(),
            Self::Aes256 => Algorithm::aes_256_gcm_tls13(),
        }
    }

    fn context(self, key: &[u8]) -> Option<AeadCtx> {
        AeadCtx::new(&self.algorithm(), key, TAG_LEN).ok()
    }

    fn sealer(self, key: &[u8], iv: Iv) -> Box<dyn MessageEncrypter> {
        match self.context(key) {
            Some(ctx) => Box::new(Tls13Sealer { ctx, iv }),
            // Only reachable with a wrong key length, which rustls' key schedule never
            // produces; failing every record is the closed failure mode.
            None => Box::new(Broken),
        }
    }

    fn opener(self, key: &[u8], iv: Iv) -> Box<dyn MessageDecrypter> {
        match self.context(key) {
            Some(ctx) => Box::new(Tls13Opener { ctx, iv }),
            None => Box::new(Broken),
        }
    }
}

impl Tls13AeadAlgorithm for AesGcmTls13 {
    fn encrypter(&self, key: AeadKey, iv: Iv) -> Box<dyn MessageEncrypter> {
        self.sealer(key.as_ref(), iv)
    }

    fn decrypter(&self, key: AeadKey, iv: Iv) -> Box<dyn MessageDecrypter> {
        self.opener(key.as_ref(), iv)
    }

    fn key_len(&self) -> usize {
        match self {
            Self::Aes128 => 16,
            Self::Aes256 => 32,
        }
    }

    fn extract_keys(&self, key: AeadKey, iv: Iv) -> Result<ConnectionTrafficSecrets, UnsupportedOperationError> {
        Ok(match self {
            Self::Aes128 => ConnectionTrafficSecrets::Aes128Gcm { key, iv },
            Self::Aes256 => ConnectionTrafficSecrets::Aes256Gcm { key, iv },
        })
    }

    fn fips(&self) -> bool {
        ::boring::fips::enabled()
    }
}

struct Tls13Sealer {
    ctx: AeadCtx,
    iv: Iv,
}

impl MessageEncrypter for Tls13Sealer {
    fn encrypt(&mut self, msg: OutboundPlainMessage<'_>, seq: u64) -> Result<OutboundOpaqueMessage, rustls::Error> {
        let total_len = self.encrypted_payload_len(msg.payload.len());
        let mut payload = PrefixedPayload::with_capacity(total_len);
        payload.extend_from_chunks(&msg.payload);
        // TLSInnerPlaintext: content || real content type (no padding).
        payload.extend_from_slice(&msg.typ.to_array());
        let plain_len = payload.as_ref().len();
        payload.extend_from_slice(&[0u8; TAG_LEN]);

        let nonce = Nonce::new(&self.iv, seq);
        let aad = make_tls13_aad(total_len);
        let (text, tag) = payload.as_mut().split_at_mut(plain_len);
        let written = self.ctx.seal_in_place_mut(&nonce.0, text, tag, &aad).map_err(|_| rustls::Error::EncryptError)?;
        if written.len() != TAG_LEN {
            return Err(rustls::Error::EncryptError);
        }
        Ok(OutboundOpaqueMessage::new(
            ContentType::ApplicationData,
            // TLS 1.3 records carry the legacy 1.2 version on the wire.
            ProtocolVersion::TLSv1_2,
            payload,
        ))
    }

    fn encrypted_payload_len(&self, payload_len: usize) -> usize {
        payload_len + 1 + TAG_LEN
    }
}

struct Tls13Opener {
    ctx: AeadCtx,
    iv: Iv,
}

impl MessageDecrypter for Tls13Opener {
    fn decrypt<'a>(
        &mut self,
        mut msg: InboundOpaqueMessage<'a>,
        seq: u64,
    ) -> Result<InboundPlainMessage<'a>, rustls::Error> {
        let total_len = msg.payload.len();
        if total_len < TAG_LEN {
            return Err(rustls::Error::DecryptError);
        }
        let nonce = Nonce::new(&self.iv, seq);
        let aad = make_tls13_aad(total_len);
        let (text, tag) = msg.payload.split_at_mut(total_len - TAG_LEN);
        self.ctx.open_in_place_mut(&nonce.0, text, tag, &aad).map_err(|_| rustls::Error::DecryptError)?;
        msg.payload.truncate(total_len - TAG_LEN);
        msg.into_tls13_unpadded_message()
    }
}

/// Stands in for a context BoringSSL refused to create: every record fails.
struct Broken;

impl MessageEncrypter for Broken {
    fn encrypt(&mut self, _: OutboundPlainMessage<'_>, _: u64) -> Result<OutboundOpaqueMessage, rustls::Error> {
        Err(rustls::Error::EncryptError)
    }

    fn encrypted_payload_len(&self, payload_len: usize) -> usize {
        payload_len + 1 + TAG_LEN
    }
}

impl MessageDecrypter for Broken {
    fn decrypt<'a>(&mut self, _: InboundOpaqueMessage<'a>, _: u64) -> Result<InboundPlainMessage<'a>, rustls::Error> {
        Err(rustls::Error::DecryptError)
    }
}

fn common_of(base: &Tls13CipherSuite) -> CipherSuiteCommon {
    CipherSuiteCommon {
        suite: base.common.suite,
        hash_provider: base.common.hash_provider,
        confidentiality_limit: base.common.confidentiality_limit,
    }
}

/// The two suites we offer: `boring-rustls-provider`'s definitions (hash, HKDF, limits) with
/// the record AEAD swapped for ours. No QUIC: ztunnel never speaks it.
pub(crate) fn suites() -> &'static [Tls13CipherSuite; 2] {
    static SUITES: OnceLock<[Tls13CipherSuite; 2]> = OnceLock::new();
    SUITES.get_or_init(|| {
        let base256 = &boring_rustls_provider::tls13::AES_256_GCM_SHA384;
        let base128 = &boring_rustls_provider::tls13::AES_128_GCM_SHA256;
        [
            Tls13CipherSuite {
                common: common_of(base256),
                hkdf_provider: base256.hkdf_provider,
                aead_alg: &AesGcmTls13::Aes256,
                quic: None,
            },
            Tls13CipherSuite {
                common: common_of(base128),
                hkdf_provider: base128.hkdf_provider,
                aead_alg: &AesGcmTls13::Aes128,
                quic: None,
            },
        ]
    })
}

/// BoringSSL's FIPS service indicator: a per-thread counter the module bumps whenever an
/// approved service completes. C++ symbols in this BoringSSL version, and not in boring-sys'
/// bindings, hence the mangled names.
#[cfg(test)]
pub(crate) mod service_indicator {
    unsafe extern "C" {
        #[link_name = "_ZN4bssl34FIPS_service_indicator_before_callEv"]
        fn before_call() -> u64;
        #[link_name = "_ZN4bssl33FIPS_service_indicator_after_callEv"]
        fn after_call() -> u64;
    }

    /// Runs `f` and reports whether BoringSSL counted it as an approved service.
    pub(crate) fn approved<T>(f: impl FnOnce() -> T) -> (T, bool) {
        // SAFETY: both functions only read/update a thread-local counter.
        let before = unsafe { before_call() };
        let out = f();
        let after = unsafe { after_call() };
        (out, after != before)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::crypto::cipher::OutboundChunks;

    const ALGS: [AesGcmTls13; 2] = [AesGcmTls13::Aes128, AesGcmTls13::Aes256];

    fn record(data: &[u8]) -> OutboundPlainMessage<'_> {
        OutboundPlainMessage {
            typ: ContentType::ApplicationData,
            version: ProtocolVersion::TLSv1_3,
            payload: OutboundChunks::Single(data),
        }
    }

    fn key(alg: AesGcmTls13) -> Vec<u8> {
        vec![0x42; alg.key_len()]
    }

    fn iv() -> Iv {
        Iv::new([7u8; 12])
    }

    #[test]
    fn every_seal_is_an_approved_fips_service() {
        assert!(::boring::fips::enabled(), "FIPS build must run in FIPS mode");
        for alg in ALGS {
            let mut enc = alg.sealer(&key(alg), iv());
            for seq in 0..6u64 {
                let (res, approved) = service_indicator::approved(|| enc.encrypt(record(b"hbone bytes"), seq));
                res.expect("seal");
                assert!(approved, "{alg:?} seal #{seq} not reported approved by the FIPS service indicator");
            }
        }
    }

    #[test]
    fn generic_gcm_seal_is_not_approved() {
        // The reason this module exists: the AEAD boring-rustls-provider uses for records. If
        // this starts failing, BoringSSL changed its indicator and the module note needs review.
        let mut ctx = AeadCtx::new(&Algorithm::aes_256_gcm(), &[0x42; 32], TAG_LEN).unwrap();
        let mut buf = *b"hbone bytes";
        let mut tag = [0u8; TAG_LEN];
        let (res, approved) =
            service_indicator::approved(|| ctx.seal_in_place_mut(&[7u8; 12], &mut buf, &mut tag, b"").map(|_| ()));
        res.unwrap();
        assert!(!approved, "generic GCM seal unexpectedly reported approved");
    }

    #[test]
    fn seal_open_roundtrip_and_tamper_detection() {
        for alg in ALGS {
            let mut enc = alg.sealer(&key(alg), iv());
            let mut dec = alg.opener(&key(alg), iv());
            for seq in 0..3u64 {
                let mut wire = enc.encrypt(record(b"ping"), seq).unwrap().encode();
                assert_eq!(wire.len(), 5 + 4 + 1 + TAG_LEN, "header+data+type+tag");
                let mut bad = wire.clone();
                let wire_copy = wire.clone();
                let opened = dec.decrypt(opaque(&mut wire[5..]), seq).expect("open");
                assert_eq!(opened.typ, ContentType::ApplicationData);
                assert_eq!(opened.payload, b"ping");

                bad[6] ^= 1;
                let mut fresh = alg.opener(&key(alg), iv());
                assert!(fresh.decrypt(opaque(&mut bad[5..]), seq).is_err(), "tampered record opened");
                let mut good = wire_copy.clone();
                let mut wrong_seq = alg.opener(&key(alg), iv());
                assert!(wrong_seq.decrypt(opaque(&mut good[5..]), seq + 1).is_err(), "wrong nonce opened");
            }
        }
    }

    #[test]
    fn wrong_key_length_fails_closed() {
        let mut enc = AesGcmTls13::Aes256.sealer(&[1u8; 5], iv());
        assert!(enc.encrypt(record(b"x"), 0).is_err());
        let mut buf = [0u8; 32];
        assert!(AesGcmTls13::Aes256.opener(&[1u8; 5], iv()).decrypt(opaque(&mut buf), 0).is_err());
    }

    fn opaque(body: &mut [u8]) -> InboundOpaqueMessage<'_> {
        InboundOpaqueMessage::new(ContentType::ApplicationData, ProtocolVersion::TLSv1_2, body)
    }
}
