//! Certificate and CSR generation with BoringSSL's X.509 builders, so that in the FIPS build
//! every key pair and every signature comes from the FIPS module (no rcgen/ring).
//!
//! The certificates mirror what the ring backend issues (ECDSA P-256 / SHA-256, random 16-byte
//! serials, empty-subject leaves with a critical URI SAN, server+client auth): peers built with
//! either backend must accept each other's certificates. Reading a CSR's SANs is plain DER
//! parsing and uses x509-parser; verifying its signature uses BoringSSL.

use std::time::{SystemTime, UNIX_EPOCH};

use ::boring::asn1::Asn1Time;
use ::boring::bn::BigNum;
use ::boring::ec::{EcGroup, EcKey};
use ::boring::error::ErrorStack;
use ::boring::hash::MessageDigest;
use ::boring::nid::Nid;
use ::boring::pkey::{Id, PKey, PKeyRef, Private, Public};
use ::boring::stack::Stack;
use ::boring::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName, SubjectKeyIdentifier,
};
use ::boring::x509::{X509, X509Builder, X509Name, X509NameRef, X509Ref, X509Req};
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;

use super::super::{KeyedCert, Validity};
use crate::identity::Identity;
use crate::tls::Error;

fn gen_err(what: &'static str) -> impl Fn(ErrorStack) -> Error {
    move |e| Error::Generate(format!("{what}: {e}"))
}

fn new_key() -> Result<PKey<Private>, Error> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(gen_err("P-256 group"))?;
    let ec = EcKey::generate(&group).map_err(gen_err("generating P-256 key"))?;
    PKey::from_ec_key(ec).map_err(gen_err("wrapping P-256 key"))
}

fn pkcs8(key: &PKeyRef<Private>) -> Result<PrivatePkcs8KeyDer<'static>, Error> {
    key.private_key_to_der_pkcs8().map(PrivatePkcs8KeyDer::from).map_err(gen_err("encoding PKCS#8 key"))
}

fn is_p256<T>(key: &PKeyRef<T>) -> bool
where
    T: ::boring::pkey::HasPublic,
{
    key.id() == Id::EC
        && key.ec_key().ok().and_then(|k| k.group().curve_name()).is_some_and(|n| n == Nid::X9_62_PRIME256V1)
}

/// A loaded CA: certificate, key, and the digest its signatures use (SHA-384 for a P-384 key,
/// SHA-256 for P-256 and RSA, PKCS#1 v1.5 as istiod's own RSA roots sign).
struct Ca {
    cert: X509,
    key: PKey<Private>,
    digest: MessageDigest,
}

fn load_ca(ca: &KeyedCert) -> Result<Ca, Error> {
    let cert = X509::from_der(&ca.cert).map_err(|e| Error::Generate(format!("CA certificate does not parse: {e}")))?;
    let key = PKey::private_key_from_pkcs8(ca.key.secret_pkcs8_der())
        .map_err(|e| Error::Generate(format!("CA key is not a usable RSA or ECDSA key: {e}")))?;
    let curve = || key.ec_key().ok().and_then(|k| k.group().curve_name());
    let digest = match key.id() {
        Id::RSA => MessageDigest::sha256(),
        Id::EC if curve() == Some(Nid::X9_62_PRIME256V1) => MessageDigest::sha256(),
        Id::EC if curve() == Some(Nid::SECP384R1) => MessageDigest::sha384(),
        _ => {
            return Err(Error::Generate("CA key algorithm is not supported (RSA, ECDSA P-256 or P-384)".into()));
        }
    };
    Ok(Ca { cert, key, digest })
}

fn asn1_time(t: SystemTime) -> Result<Asn1Time, Error> {
    let secs = t.duration_since(UNIX_EPOCH).map_err(|_| Error::Generate("validity before 1970".into()))?.as_secs();
    let secs = libc::time_t::try_from(secs).map_err(|_| Error::Generate("validity out of range".into()))?;
    Asn1Time::from_unix(secs).map_err(gen_err("validity time"))
}

/// A builder with version 3, a random positive 16-byte serial and the validity window set.
fn base_builder(validity: Validity) -> Result<X509Builder, Error> {
    let mut b = X509Builder::new().map_err(gen_err("X509 builder"))?;
    b.set_version(2).map_err(gen_err("version"))?;
    let mut serial = [0u8; 16];
    ::boring::rand::rand_bytes(&mut serial).map_err(gen_err("random serial"))?;
    // Positive and without a leading zero byte, so the DER INTEGER keeps a fixed length.
    serial[0] = (serial[0] & 0x7f) | 0x40;
    let serial = BigNum::from_slice(&serial).and_then(|n| n.to_asn1_integer()).map_err(gen_err("serial"))?;
    b.set_serial_number(&serial).map_err(gen_err("serial"))?;
    let (not_before, not_after) = (asn1_time(validity.not_before)?, asn1_time(validity.not_after)?);
    b.set_not_before(&not_before).map_err(gen_err("notBefore"))?;
    b.set_not_after(&not_after).map_err(gen_err("notAfter"))?;
    Ok(b)
}

fn empty_name() -> Result<X509Name, Error> {
    Ok(X509Name::builder().map_err(gen_err("name"))?.build())
}

/// Signs a workload leaf for `key` with the given URI SANs.
/// The names a leaf certificate carries.
#[derive(Clone, Copy)]
enum LeafNames<'a> {
    /// Workload certificates: SPIFFE URI SANs.
    Uris(&'a [String]),
    /// Control-plane server certificates: IP SANs for addresses, DNS SANs otherwise.
    Hosts(&'a [String]),
}

fn sign_leaf(
    ca: &Ca,
    subject_key: &PKeyRef<Public>,
    names: LeafNames<'_>,
    validity: Validity,
) -> Result<CertificateDer<'static>, Error> {
    let ca_cert: &X509Ref = &ca.cert;
    let issuer: &X509NameRef = ca_cert.subject_name();
    let mut b = base_builder(validity)?;
    let subject = empty_name()?;
    b.set_subject_name(&subject).map_err(gen_err("subject"))?;
    b.set_issuer_name(issuer).map_err(gen_err("issuer"))?;
    b.set_pubkey(subject_key).map_err(gen_err("public key"))?;
    let ext = [
        BasicConstraints::new().critical().build(),
        KeyUsage::new().critical().digital_signature().key_encipherment().build(),
        ExtendedKeyUsage::new().server_auth().client_auth().build(),
    ];
    for e in ext {
        let e = e.map_err(gen_err("extension"))?;
        b.append_extension(&e).map_err(gen_err("extension"))?;
    }
    let (san, aki) = {
        let ctx = b.x509v3_context(Some(ca_cert), None);
        let list = match names {
            LeafNames::Uris(l) | LeafNames::Hosts(l) => l,
        };
        // No names only happens in tests of certificate validation; issue it without a SAN.
        let san = if list.is_empty() {
            None
        } else {
            let mut san = SubjectAlternativeName::new();
            // An empty subject makes the SAN the only name: RFC 5280 §4.2.1.6 requires it
            // critical.
            san.critical();
            for name in list {
                match names {
                    LeafNames::Uris(_) => san.uri(name),
                    LeafNames::Hosts(_) if name.parse::<std::net::IpAddr>().is_ok() => san.ip(name),
                    LeafNames::Hosts(_) => san.dns(name),
                };
            }
            Some(san.build(&ctx).map_err(|e| Error::Generate(format!("SAN {list:?}: {e}")))?)
        };
        let aki = AuthorityKeyIdentifier::new().keyid(true).build(&ctx).map_err(gen_err("authority key identifier"))?;
        (san, aki)
    };
    if let Some(san) = san {
        b.append_extension(&san).map_err(gen_err("SAN"))?;
    }
    b.append_extension(&aki).map_err(gen_err("AKI"))?;
    b.sign(&ca.key, ca.digest).map_err(gen_err("signing certificate"))?;
    der(b.build())
}

fn der(cert: X509) -> Result<CertificateDer<'static>, Error> {
    cert.to_der().map(CertificateDer::from).map_err(gen_err("encoding certificate"))
}

/// Generates a self-signed ECDSA P-256 root CA with `O=<organization>`.
pub fn generate_ca(organization: &str, validity: Validity) -> Result<KeyedCert, Error> {
    let key = new_key()?;
    let mut name = X509Name::builder().map_err(gen_err("name"))?;
    if !organization.is_empty() {
        name.append_entry_by_nid(Nid::ORGANIZATIONNAME, organization).map_err(gen_err("organization"))?;
    }
    name.append_entry_by_nid(Nid::COMMONNAME, "ztunnel dev CA").map_err(gen_err("common name"))?;
    let name = name.build();
    let mut b = base_builder(validity)?;
    b.set_subject_name(&name).map_err(gen_err("subject"))?;
    b.set_issuer_name(&name).map_err(gen_err("issuer"))?;
    b.set_pubkey(&key).map_err(gen_err("public key"))?;
    let ext = [
        BasicConstraints::new().critical().ca().build(),
        KeyUsage::new().critical().key_cert_sign().crl_sign().digital_signature().build(),
    ];
    for e in ext {
        let e = e.map_err(gen_err("extension"))?;
        b.append_extension(&e).map_err(gen_err("extension"))?;
    }
    let ski =
        SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None)).map_err(gen_err("subject key identifier"))?;
    b.append_extension(&ski).map_err(gen_err("SKI"))?;
    b.sign(&key, MessageDigest::sha256()).map_err(gen_err("self-signing CA"))?;
    Ok(KeyedCert { cert: der(b.build())?, key: pkcs8(&key)? })
}

fn public_of(key: &PKeyRef<Private>) -> Result<PKey<Public>, Error> {
    let spki = key.public_key_to_der().map_err(gen_err("public key"))?;
    PKey::public_key_from_der(&spki).map_err(gen_err("public key"))
}

/// Generates a fresh P-256 key and a leaf for `uris` signed by `ca`.
pub fn issue_leaf(ca: &KeyedCert, uris: &[String], validity: Validity) -> Result<KeyedCert, Error> {
    let ca = load_ca(ca)?;
    let key = new_key()?;
    let public = public_of(&key)?;
    let cert = sign_leaf(&ca, &public, LeafNames::Uris(uris), validity)?;
    Ok(KeyedCert { cert, key: pkcs8(&key)? })
}

/// Issues a TLS server certificate for `hosts` (IP addresses become IP SANs, anything else a
/// DNS SAN). Used for control-plane servers (the fake istiod), never for workloads.
pub fn issue_server_leaf(ca: &KeyedCert, hosts: &[String], validity: Validity) -> Result<KeyedCert, Error> {
    let ca = load_ca(ca)?;
    let key = new_key()?;
    let public = public_of(&key)?;
    let cert = sign_leaf(&ca, &public, LeafNames::Hosts(hosts), validity)?;
    Ok(KeyedCert { cert, key: pkcs8(&key)? })
}

/// Signs a PKCS#10 request (DER) with `ca`. The request's signature is verified; only its key
/// and URI SANs are used, everything else (usages, validity, subject) is our policy.
pub fn sign_csr(ca: &KeyedCert, csr_der: &[u8], validity: Validity) -> Result<CertificateDer<'static>, Error> {
    let req = X509Req::from_der(csr_der).map_err(|e| Error::Csr(format!("does not parse: {e}")))?;
    let key = req.public_key().map_err(|e| Error::Csr(format!("unreadable public key: {e}")))?;
    if !is_p256(&key) {
        return Err(Error::Csr("only ECDSA P-256 keys are accepted".into()));
    }
    if !req.verify(&key).unwrap_or(false) {
        return Err(Error::Csr("signature does not verify".into()));
    }
    let uris = csr_uri_sans(csr_der)?;
    if uris.is_empty() {
        return Err(Error::Csr("request has no URI SAN".into()));
    }
    let ca = load_ca(ca)?;
    sign_leaf(&ca, &key, LeafNames::Uris(&uris), validity)
}

fn csr_uri_sans(csr_der: &[u8]) -> Result<Vec<String>, Error> {
    let (_, csr) = x509_parser::certification_request::X509CertificationRequest::from_der(csr_der)
        .map_err(|e| Error::Csr(e.to_string()))?;
    let mut uris = Vec::new();
    for ext in csr.requested_extensions().into_iter().flatten() {
        if let ParsedExtension::SubjectAlternativeName(san) = ext {
            for name in &san.general_names {
                if let GeneralName::URI(u) = name {
                    uris.push((*u).to_string());
                }
            }
        }
    }
    Ok(uris)
}

/// Generates a P-256 key and a CSR for `id` the way upstream does: empty subject, one
/// (critical) URI SAN. Returns the CSR as PEM and the key as PKCS#8 DER.
pub fn generate_csr(id: &Identity) -> Result<(String, PrivatePkcs8KeyDer<'static>), Error> {
    let key = new_key()?;
    let mut b = X509Req::builder().map_err(gen_err("CSR builder"))?;
    b.set_version(0).map_err(gen_err("CSR version"))?;
    let subject = empty_name()?;
    b.set_subject_name(&subject).map_err(gen_err("CSR subject"))?;
    b.set_pubkey(&key).map_err(gen_err("CSR key"))?;
    let mut exts = Stack::new().map_err(gen_err("CSR extensions"))?;
    let san = SubjectAlternativeName::new()
        .critical()
        .uri(&id.to_string())
        .build(&b.x509v3_context(None))
        .map_err(|e| Error::Generate(format!("URI SAN {id}: {e}")))?;
    exts.push(san).map_err(gen_err("CSR extensions"))?;
    b.add_extensions(&exts).map_err(gen_err("CSR extensions"))?;
    b.sign(&key, MessageDigest::sha256()).map_err(gen_err("signing CSR"))?;
    let pem = b.build().to_pem().map_err(gen_err("encoding CSR"))?;
    let pem = String::from_utf8(pem).map_err(|_| Error::Generate("CSR PEM is not UTF-8".into()))?;
    Ok((pem, pkcs8(&key)?))
}
