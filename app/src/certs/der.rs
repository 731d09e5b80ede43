//! A certificate signing request built by hand in DER: the few ASN.1 shapes
//! a P-256 CSR needs (PKCS #10), so the browser makes its CSR with WebCrypto
//! and a few hundred bytes of wasm instead of an ASN.1 or X.509 crate.
//! Shared with the server, whose tests check rcgen accepts what it builds.

use base64::{engine::general_purpose::STANDARD, Engine};

/// id-ecdsa-with-SHA256 (1.2.840.10045.4.3.2).
const ECDSA_SHA256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
/// id-at-commonName (2.5.4.3).
const COMMON_NAME: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x03];

fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = body.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend([0x81, n as u8]);
    } else {
        out.extend([0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(body);
    out
}

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// A positive INTEGER from big-endian bytes (leading zeros dropped, one
/// added back when the top bit is set).
fn uint(bytes: &[u8]) -> Vec<u8> {
    let start = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    let trimmed = &bytes[start..];
    let mut body = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_some_and(|b| b & 0x80 != 0) {
        body.push(0);
    }
    body.extend_from_slice(trimmed);
    tlv(0x02, &body)
}

/// The CertificationRequestInfo to sign: version 0, subject `CN=<cn>`,
/// the SubjectPublicKeyInfo as exported (DER), no attributes.
pub fn request_info(common_name: &str, spki_der: &[u8]) -> Vec<u8> {
    let cn: String = common_name.chars().take(64).collect();
    let rdn = tlv(0x31, &seq(&[COMMON_NAME, &tlv(0x0c, cn.as_bytes())]));
    let name = tlv(0x30, &rdn);
    seq(&[&[0x02, 0x01, 0x00], &name, spki_der, &[0xa0, 0x00]])
}

/// The CSR in PEM from the signed info and WebCrypto's signature (IEEE
/// P1363: r and s, 32 bytes each), which X.509 wants as a DER SEQUENCE.
pub fn request_pem(info: &[u8], raw_signature: &[u8]) -> Option<String> {
    if raw_signature.len() != 64 {
        return None;
    }
    let (r, s) = raw_signature.split_at(32);
    let sig = seq(&[&uint(r), &uint(s)]);
    let mut bits = vec![0u8];
    bits.extend(sig);
    let csr = seq(&[info, &seq(&[ECDSA_SHA256]), &tlv(0x03, &bits)]);
    Some(pem("CERTIFICATE REQUEST", &csr))
}

pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use ring::{
        rand::SystemRandom,
        signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING},
    };

    use super::*;

    /// What the browser does, with ring standing in for WebCrypto (the
    /// same fixed-width signature): rcgen parses the CSR and verifies it.
    #[test]
    fn a_hand_built_csr_verifies() {
        let rng = SystemRandom::new();
        for cn in ["Ada's phone", &"x".repeat(64), "ü"] {
            let pkcs8 =
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
            let key =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                    .unwrap();
            let rc = rcgen::KeyPair::try_from(pkcs8.as_ref()).unwrap();
            let spki = rcgen::PublicKeyData::subject_public_key_info(&rc);
            assert_eq!(&spki[spki.len() - 65..], key.public_key().as_ref());
            let info = request_info(cn, &spki);
            let sig = key.sign(&rng, &info).unwrap();
            let pem = request_pem(&info, sig.as_ref()).unwrap();
            let public = crate::certs::ca::csr_public_key(&pem).expect("rcgen accepts the CSR");
            assert_eq!(crate::certs::ca::spki_der(&public), spki);
            // A changed byte in what was signed fails.
            let mut bad = info.clone();
            let last = bad.len() - 3;
            bad[last] ^= 1;
            assert!(
                crate::certs::ca::csr_public_key(&request_pem(&bad, sig.as_ref()).unwrap())
                    .is_err()
            );
        }
    }
}
