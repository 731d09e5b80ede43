//! The X.509 work, with rcgen: the root, leaf certificates from a public
//! key (a verified CSR's or one we made), CRLs, and PKCS#12 files.
//!
//! ECDSA P-256 everywhere: every client we care about (Android, iOS,
//! macOS, Windows, browsers, OpenSSL, rustls) accepts it for TLS client
//! and server certificates, where Ed25519 certificates are still refused
//! by browsers and phones.

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams,
    CertificateSigningRequestParams, CrlDistributionPoint, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, PublicKeyData,
    RevocationReason, RevokedCertParams, SanType, SerialNumber, SubjectPublicKeyInfo,
    PKCS_ECDSA_P256_SHA256,
};
use time::OffsetDateTime;

use super::{
    model::{CertError, CertKind},
    rules::HostName,
};
use crate::error::AppError;

/// A root lives 20 years, longer than any certificate it signs (a VIP's
/// are ten years).
pub const ROOT_YEARS: i64 = 20;
/// A CRL is valid a week and re-signed a day before it ends.
pub const CRL_VALID_SECS: i64 = 7 * 86_400;
pub const CRL_RESIGN_BEFORE_SECS: i64 = 86_400;

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::internal(format!("certificate: {e}"))
}

fn at(unix: i64) -> Result<OffsetDateTime, AppError> {
    OffsetDateTime::from_unix_timestamp(unix).map_err(internal)
}

/// A fresh random serial: 16 bytes, positive, never starting with zero.
pub fn new_serial() -> Vec<u8> {
    use rand::RngCore;
    let mut bytes = vec![0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    bytes
}

/// A newly made root: its certificate and its key (PKCS#8 DER, to seal).
pub struct NewRoot {
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
    pub key_pkcs8: Vec<u8>,
    pub not_after: i64,
}

pub fn new_root(subject: &str, now: i64) -> Result<NewRoot, AppError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(internal)?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, subject);
    dn.push(DnType::OrganizationName, "TrueVault personal CA");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.serial_number = Some(SerialNumber::from_slice(&new_serial()));
    // An hour back: a device whose clock is a little behind still accepts it.
    params.not_before = at(now - 3600)?;
    let not_after = now + ROOT_YEARS * 365 * 86_400;
    params.not_after = at(not_after)?;
    let cert = params.self_signed(&key).map_err(internal)?;
    Ok(NewRoot {
        cert_pem: cert.pem(),
        cert_der: cert.der().to_vec(),
        key_pkcs8: key.serialize_der(),
        not_after,
    })
}

/// The CA as a signer: its certificate and its opened key.
pub struct Signer {
    issuer: Issuer<'static, KeyPair>,
}

impl Signer {
    pub fn new(cert_der: &[u8], key_pkcs8: &[u8]) -> Result<Self, AppError> {
        let key = KeyPair::try_from(key_pkcs8).map_err(internal)?;
        let issuer = Issuer::from_ca_cert_der(&cert_der.to_vec().into(), key).map_err(internal)?;
        Ok(Signer { issuer })
    }
}

/// A public key from a CSR, after its signature was verified.
pub fn csr_public_key(pem: &str) -> Result<SubjectPublicKeyInfo, CertError> {
    let csr = CertificateSigningRequestParams::from_pem(pem).map_err(|_| CertError::CsrInvalid)?;
    if csr.public_key.algorithm() != &PKCS_ECDSA_P256_SHA256 {
        return Err(CertError::CsrKeyUnsupported);
    }
    spki(&csr.public_key)
}

fn spki(key: &impl PublicKeyData) -> Result<SubjectPublicKeyInfo, CertError> {
    SubjectPublicKeyInfo::from_der(&key.subject_public_key_info())
        .map_err(|_| CertError::CsrInvalid)
}

/// A key made here for the PKCS#12 path: the pair (PKCS#8 DER) and its public half.
pub fn new_leaf_key() -> Result<(Vec<u8>, SubjectPublicKeyInfo), AppError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(internal)?;
    let public = spki(&key).map_err(internal)?;
    Ok((key.serialize_der(), public))
}

pub fn spki_from_der(der: &[u8]) -> Result<SubjectPublicKeyInfo, AppError> {
    SubjectPublicKeyInfo::from_der(der).map_err(internal)
}

pub fn spki_der(key: &SubjectPublicKeyInfo) -> Vec<u8> {
    key.subject_public_key_info()
}

/// What goes into a leaf certificate.
pub struct Leaf<'a> {
    pub common_name: &'a str,
    pub kind: CertKind,
    pub names: &'a [HostName],
    pub serial: &'a [u8],
    pub not_before: i64,
    pub not_after: i64,
    pub crl_url: &'a str,
}

pub struct IssuedCert {
    pub pem: String,
    pub der: Vec<u8>,
}

pub fn issue(
    signer: &Signer,
    public_key: &SubjectPublicKeyInfo,
    leaf: &Leaf<'_>,
) -> Result<IssuedCert, AppError> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, leaf.common_name);
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    params.serial_number = Some(SerialNumber::from_slice(leaf.serial));
    params.not_before = at(leaf.not_before)?;
    params.not_after = at(leaf.not_after)?;
    params.use_authority_key_identifier_extension = true;
    params.key_identifier_method = KeyIdMethod::Sha256;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![match leaf.kind {
        CertKind::Device | CertKind::Region => ExtendedKeyUsagePurpose::ClientAuth,
        CertKind::Service => ExtendedKeyUsagePurpose::ServerAuth,
    }];
    params.subject_alt_names = leaf
        .names
        .iter()
        .map(|n| match n {
            HostName::Dns(d) => d.clone().try_into().map(SanType::DnsName).map_err(internal),
            HostName::Ip(ip) => Ok(SanType::IpAddress(*ip)),
        })
        .collect::<Result<_, _>>()?;
    params.crl_distribution_points = vec![CrlDistributionPoint {
        uris: vec![leaf.crl_url.to_string()],
    }];
    let cert = params
        .signed_by(public_key, &signer.issuer)
        .map_err(internal)?;
    Ok(IssuedCert {
        pem: cert.pem(),
        der: cert.der().to_vec(),
    })
}

/// One revoked certificate, as the CRL lists it.
pub struct Revoked {
    pub serial: Vec<u8>,
    pub at: i64,
    pub superseded: bool,
}

/// A signed CRL (DER) listing `revoked`, valid from `now` for a week.
pub fn crl(
    signer: &Signer,
    number: i64,
    now: i64,
    revoked: &[Revoked],
) -> Result<Vec<u8>, AppError> {
    let params = CertificateRevocationListParams {
        this_update: at(now)?,
        next_update: at(now + CRL_VALID_SECS)?,
        crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
        issuing_distribution_point: None,
        revoked_certs: revoked
            .iter()
            .map(|r| {
                Ok(RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&r.serial),
                    revocation_time: at(r.at)?,
                    reason_code: Some(if r.superseded {
                        RevocationReason::Superseded
                    } else {
                        RevocationReason::CessationOfOperation
                    }),
                    invalidity_date: None,
                })
            })
            .collect::<Result<_, AppError>>()?,
        key_identifier_method: KeyIdMethod::Sha256,
    };
    let crl = params.signed_by(&signer.issuer).map_err(internal)?;
    Ok(crl.der().to_vec())
}

/// A password-protected PKCS#12 holding the key, its certificate and the
/// root (PBES2 with AES-256-CBC and PBKDF2-HMAC-SHA256, HMAC-SHA256 MAC:
/// what OpenSSL 3 writes, read by current Android, iOS, macOS and Windows).
pub fn pkcs12(
    key_pkcs8: &[u8],
    cert_der: &[u8],
    root_der: &[u8],
    password: &str,
    alias: &str,
) -> Result<Vec<u8>, AppError> {
    use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKeyChain};
    let chain = vec![
        Certificate::from_der(cert_der).map_err(internal)?,
        Certificate::from_der(root_der).map_err(internal)?,
    ];
    let local_id = {
        use sha2::Digest;
        sha2::Sha256::digest(cert_der)[..20].to_vec()
    };
    let mut store = KeyStore::new();
    store.add_entry(
        alias,
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(key_pkcs8, local_id, chain)),
    );
    store.writer(password).write().map_err(internal)
}

/// DER of the first PEM block.
pub fn der_of(pem: &str) -> Result<Vec<u8>, AppError> {
    use base64::{engine::general_purpose::STANDARD, Engine};
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    STANDARD.decode(body).map_err(internal)
}

/// SHA-256 fingerprint, colon-separated upper-case hex (as devices show it).
pub fn fingerprint(der: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}
