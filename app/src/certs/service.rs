//! Certificate flows: the CA made on first use, issue (from a verified CSR
//! or a key made here and handed over once as PKCS#12), renew, revoke with
//! the CRL re-signed in the same transaction, the page's overview, and the
//! scheduled steps (CRL re-signing, expiry reminders).

use base64::{engine::general_purpose::STANDARD, Engine};

use super::{
    ca::{self, Signer},
    model::{
        CaId, CaInfo, CertCounts, CertError, CertId, CertInfo, CertStatus, CertsPage, Issued,
        KeyOrigin, REMINDER_BEFORE_SECS,
    },
    repo::{self, CaRow, CertRow, Tx},
    rules::{user_suffix, Claims, HostName, KeyRequest, ValidCert},
};
use crate::{
    accounts::model::CurrentUser,
    audit,
    clock::Clock,
    db::Db,
    entitlements,
    error::AppError,
    jobs::{self, Job, NewJob, Workflow},
    mail::{templates::Rendered, Mail, Mailer},
    secrets::Keys,
    typed::UserId,
};

/// The scheduler's certificate steps (stored as `{"crl_refresh":{"ca":1}}` …).
pub struct Certs;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertStep {
    /// Re-sign the CA's CRL before it ends, and schedule the next.
    CrlRefresh { ca: i64 },
    /// Mail the owner 14 days before the certificate ends.
    ExpiryReminder { cert: i64 },
}

impl Workflow for Certs {
    const NAME: &'static str = "certs";
    type Step = CertStep;
    type Ctx = crate::state::AppState;

    async fn run(state: &crate::state::AppState, _job: &Job, step: CertStep) -> Result<(), String> {
        let pki = super::server_fns::pki(state);
        match step {
            CertStep::CrlRefresh { ca } => {
                crl_refresh(&pki, CaId(ca)).await.map_err(|e| e.to_string())
            }
            CertStep::ExpiryReminder { cert } => {
                expiry_reminder(&pki, &state.mailer, CertId(cert)).await
            }
        }
    }
}

/// What the certificate flows use: storage, the sealing key, time, and the
/// portal's public URL (the CRL's address goes into every certificate).
#[derive(Clone, Copy)]
pub struct Pki<'a> {
    pub db: &'a Db,
    pub keys: &'a Keys,
    pub clock: &'a Clock,
    pub public_url: &'a str,
}

impl Pki<'_> {
    pub fn crl_url(&self, slug: &str) -> String {
        format!("{}/pki/{slug}.crl", self.public_url.trim_end_matches('/'))
    }
}

fn status_of(row: &CertRow, now: i64) -> CertStatus {
    if row.revoked_at.is_some() {
        CertStatus::Revoked
    } else if row.not_after <= now {
        CertStatus::Expired
    } else if row.not_after - now <= REMINDER_BEFORE_SECS {
        CertStatus::ExpiringSoon
    } else {
        CertStatus::Valid
    }
}

fn info(row: &CertRow, now: i64) -> CertInfo {
    CertInfo {
        id: row.id,
        name: row.name.clone(),
        kind: row.kind,
        status: status_of(row, now),
        key_origin: row.key_origin,
        serial: row.serial.clone(),
        names: row.names.lines().map(String::from).collect(),
        not_before: row.not_before,
        not_after: row.not_after,
        revoked_at: row.revoked_at,
    }
}

fn signer(keys: &Keys, ca: &CaRow) -> Result<Signer, AppError> {
    let key = keys.open(&ca.key_sealed).map_err(AppError::internal)?;
    Signer::new(&ca::der_of(&ca.cert_pem)?, &key)
}

/// The names and addresses a user may claim.
pub async fn claims(db: &Db, user_id: UserId) -> Result<Claims, AppError> {
    let mut c = Claims {
        suffix: user_suffix(user_id.0),
        ..Default::default()
    };
    for (host, ip) in repo::inventory_names(db, user_id).await? {
        if let Some(h) = host.map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase()) {
            if !h.is_empty() && !c.hosts.contains(&h) {
                c.hosts.push(h);
            }
        }
        if let Ok(ip) = ip.parse() {
            c.addrs.push(ip);
        }
    }
    for site in crate::sites::repo::user_sites(&db.pool, user_id.0).await? {
        let lan = site.mapping.lan.net();
        c.nets.push((lan.network(), lan.prefix()));
        c.nets
            .push((site.mapping.range.network(), site.mapping.range.prefix()));
    }
    Ok(c)
}

pub async fn summary(pki: &Pki<'_>, user: &CurrentUser) -> Result<CertCounts, AppError> {
    let allowance = entitlements::certificates(&pki.db.pool, user.id).await?;
    let (total, live) = repo::counts(pki.db, UserId(user.id), pki.clock.now()).await?;
    Ok(CertCounts {
        allowed: allowance.allowed,
        total,
        live,
    })
}

pub async fn overview(pki: &Pki<'_>, user: &CurrentUser) -> Result<CertsPage, AppError> {
    let now = pki.clock.now();
    let allowance = entitlements::certificates(&pki.db.pool, user.id).await?;
    let ca = repo::user_ca(&pki.db.pool, UserId(user.id)).await?;
    let certs: Vec<CertInfo> = repo::user_certs(pki.db, UserId(user.id))
        .await?
        .iter()
        .map(|r| info(r, now))
        .collect();
    let live = certs.iter().filter(|c| c.status.is_live()).count() as i64;
    let claims = claims(pki.db, UserId(user.id)).await?;
    let mut suggestions: Vec<String> = claims.hosts.to_vec();
    suggestions.extend(claims.addrs.iter().map(|a| a.to_string()));
    suggestions.extend(claims.nets.iter().map(|(n, p)| format!("{n}/{p}")));
    let ca = match ca {
        Some(ca) => Some(CaInfo {
            id: ca.id,
            subject: ca.subject.clone(),
            fingerprint: ca::fingerprint(&ca::der_of(&ca.cert_pem)?),
            not_after: ca.not_after,
            crl_url: pki.crl_url(&ca.slug),
        }),
        None => None,
    };
    Ok(CertsPage {
        allowed: allowance.allowed,
        limit: allowance.live.max(),
        live,
        validity_days: allowance.validity_days,
        ca,
        certs,
        suffix: claims.suffix,
        suggestions,
    })
}

/// The user's CA, made now if this is their first certificate.
async fn ca_for(
    pki: &Pki<'_>,
    tx: &mut Tx,
    user: &CurrentUser,
    now: i64,
) -> Result<CaRow, AppError> {
    if let Some(ca) = repo::user_ca(&mut **tx, UserId(user.id)).await? {
        return Ok(ca);
    }
    let subject = format!("TrueVault personal root of {}", user.email);
    let root = ca::new_root(&subject, now)?;
    let signer = Signer::new(&root.cert_der, &root.key_pkcs8)?;
    let crl = ca::crl(&signer, 1, now, &[])?;
    let slug = hex::encode(ca::new_serial());
    let id = repo::insert_ca(
        tx,
        &repo::NewCa {
            user_id: UserId(user.id),
            slug: &slug,
            subject: &subject,
            cert_pem: &root.cert_pem,
            key_sealed: &pki.keys.seal(&root.key_pkcs8),
            not_after: root.not_after,
            crl_der: &crl,
            now,
        },
    )
    .await?;
    jobs::schedule_in(
        tx,
        &[crl_refresh_job(id, user.id, now + ca::CRL_VALID_SECS)],
        now,
    )
    .await?;
    audit::record_in(tx, Some(user.id), "certs.ca_create", &id.0.to_string(), "").await?;
    repo::ca_by_id(&mut **tx, id)
        .await?
        .ok_or_else(|| AppError::internal("new CA not found"))
}

fn crl_refresh_job(ca: CaId, user_id: i64, next_update: i64) -> NewJob {
    NewJob::new::<Certs>(
        &CertStep::CrlRefresh { ca: ca.0 },
        next_update - ca::CRL_RESIGN_BEFORE_SECS,
    )
    .for_user(user_id)
}

fn reminder_job(cert: CertId, user_id: i64, not_after: i64) -> NewJob {
    NewJob::new::<Certs>(
        &CertStep::ExpiryReminder { cert: cert.0 },
        not_after - REMINDER_BEFORE_SECS,
    )
    .for_user(user_id)
}

/// Re-signs the CA's CRL with every revoked, unexpired certificate.
async fn regenerate_crl(pki: &Pki<'_>, tx: &mut Tx, ca: &CaRow, now: i64) -> Result<(), AppError> {
    let revoked = repo::revoked(tx, ca.id, now)
        .await?
        .into_iter()
        .map(|(serial, at, superseded)| {
            Ok(ca::Revoked {
                serial: hex::decode(&serial).map_err(AppError::internal)?,
                at,
                superseded,
            })
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    let number = ca.crl_number + 1;
    let der = ca::crl(&signer(pki.keys, ca)?, number, now, &revoked)?;
    repo::set_crl(tx, ca.id, &der, number, now + ca::CRL_VALID_SECS).await?;
    Ok(())
}

/// Refuses unless the plan (still) includes certificates; with `adding`,
/// also unless one more live certificate fits. Reads inside the write
/// transaction with the user's row locked, so concurrent issues cannot
/// both pass the limit.
async fn check_plan(
    pki: &Pki<'_>,
    tx: &mut Tx,
    user_id: UserId,
    now: i64,
    adding: bool,
) -> Result<i64, AppError> {
    pki.db.lock_row(tx, "users", user_id.0).await?;
    let allowance = entitlements::certificates(&mut **tx, user_id.0).await?;
    if !allowance.allowed {
        return Err(CertError::NotInPlan.into());
    }
    if adding {
        let live = repo::live_count(tx, user_id, now).await?;
        if !allowance.live.allows_another(live) {
            return Err(CertError::Limit(allowance.live.max().unwrap_or_default()).into());
        }
    }
    Ok(allowance.validity_days)
}

pub async fn issue(pki: &Pki<'_>, user: &CurrentUser, req: ValidCert) -> Result<Issued, AppError> {
    if !entitlements::certificates(&pki.db.pool, user.id)
        .await?
        .allowed
    {
        return Err(CertError::NotInPlan.into());
    }
    // What needs no lock comes before the write: the CSR's signature, the names.
    let (public_key, key_pkcs8, origin, password) = match &req.key {
        KeyRequest::Csr(pem) => (ca::csr_public_key(pem)?, None, KeyOrigin::Csr, None),
        KeyRequest::Server { password } => {
            let (key, public) = ca::new_leaf_key()?;
            (
                public,
                Some(key),
                KeyOrigin::Server,
                Some(password.as_str()),
            )
        }
    };
    claims(pki.db, UserId(user.id)).await?.check(&req.names)?;

    let now = pki.clock.now();
    let mut tx = pki.db.begin_write().await?;
    let days = check_plan(pki, &mut tx, UserId(user.id), now, true).await?;
    let ca_row = ca_for(pki, &mut tx, user, now).await?;
    let (id, cert) = store_new(
        pki,
        &mut tx,
        user,
        &ca_row,
        &req.name,
        req.kind,
        &req.names,
        &public_key,
        origin,
        now,
        days,
        None,
    )
    .await?;
    audit::record_in(
        &mut tx,
        Some(user.id),
        "certs.issue",
        &id.0.to_string(),
        &format!("{} {}", req.kind.as_str(), origin.as_str()),
    )
    .await?;
    tx.commit().await?;

    let root_der = ca::der_of(&ca_row.cert_pem)?;
    let pkcs12_b64 = match (key_pkcs8, password) {
        (Some(key), Some(password)) => {
            Some(STANDARD.encode(ca::pkcs12(&key, &cert.der, &root_der, password, &req.name)?))
        }
        _ => None,
    };
    Ok(Issued {
        id,
        chain_pem: format!("{}{}", cert.pem, ca_row.cert_pem),
        cert_pem: cert.pem,
        pkcs12_b64,
    })
}

#[allow(clippy::too_many_arguments)]
async fn store_new(
    pki: &Pki<'_>,
    tx: &mut Tx,
    user: &CurrentUser,
    ca_row: &CaRow,
    name: &str,
    kind: super::model::CertKind,
    names: &[HostName],
    public_key: &rcgen::SubjectPublicKeyInfo,
    origin: KeyOrigin,
    now: i64,
    days: i64,
    renewed_from: Option<CertId>,
) -> Result<(CertId, ca::IssuedCert), AppError> {
    let serial = ca::new_serial();
    // Not after the root itself.
    let not_after = (now + days * 86_400).min(ca_row.not_after);
    let not_before = now - 300;
    let cert = ca::issue(
        &signer(pki.keys, ca_row)?,
        public_key,
        &ca::Leaf {
            common_name: name,
            kind,
            names,
            serial: &serial,
            not_before,
            not_after,
            crl_url: &pki.crl_url(&ca_row.slug),
        },
    )?;
    let names_text = names
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    let id = repo::insert_cert(
        tx,
        &repo::NewCert {
            ca_id: ca_row.id,
            user_id: UserId(user.id),
            name,
            kind,
            key_origin: origin,
            serial: &hex::encode(&serial),
            names: &names_text,
            spki_b64: &STANDARD.encode(ca::spki_der(public_key)),
            cert_pem: &cert.pem,
            not_before,
            not_after,
            renewed_from,
            now,
        },
    )
    .await?;
    jobs::schedule_in(tx, &[reminder_job(id, user.id, not_after)], now).await?;
    Ok((id, cert))
}

/// A new certificate for the same key and names; the old one is revoked as
/// superseded in the same transaction (the key did not change, so the
/// device only swaps the certificate).
pub async fn renew(pki: &Pki<'_>, user: &CurrentUser, id: CertId) -> Result<Issued, AppError> {
    let now = pki.clock.now();
    let mut tx = pki.db.begin_write().await?;
    let old = repo::own_cert(&mut *tx, UserId(user.id), id)
        .await?
        .ok_or(AppError::NotFound)?;
    let days = check_plan(pki, &mut tx, UserId(user.id), now, false).await?;
    if !status_of(&old, now).is_live() {
        return Err(CertError::NotLive.into());
    }
    let ca_row = repo::ca_by_id(&mut *tx, old.ca_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let names = old
        .names
        .lines()
        .map(HostName::parse)
        .collect::<Result<Vec<_>, _>>()?;
    let spki = ca::spki_from_der(&STANDARD.decode(&old.spki_b64).map_err(AppError::internal)?)?;
    let (new_id, cert) = store_new(
        pki,
        &mut tx,
        user,
        &ca_row,
        &old.name,
        old.kind,
        &names,
        &spki,
        old.key_origin,
        now,
        days,
        Some(old.id),
    )
    .await?;
    repo::revoke(&mut tx, UserId(user.id), old.id, now).await?;
    regenerate_crl(pki, &mut tx, &ca_row, now).await?;
    audit::record_in(
        &mut tx,
        Some(user.id),
        "certs.renew",
        &new_id.0.to_string(),
        &format!("renews {}", old.id.0),
    )
    .await?;
    tx.commit().await?;
    Ok(Issued {
        id: new_id,
        chain_pem: format!("{}{}", cert.pem, ca_row.cert_pem),
        cert_pem: cert.pem,
        pkcs12_b64: None,
    })
}

/// Revokes a live certificate and re-signs the CRL in the same transaction.
/// Allowed on any plan: a downgraded user can still revoke.
pub async fn revoke(pki: &Pki<'_>, user: &CurrentUser, id: CertId) -> Result<(), AppError> {
    let now = pki.clock.now();
    let mut tx = pki.db.begin_write().await?;
    let cert = repo::own_cert(&mut *tx, UserId(user.id), id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !repo::revoke(&mut tx, UserId(user.id), id, now).await? {
        return Err(CertError::NotLive.into());
    }
    let ca_row = repo::ca_by_id(&mut *tx, cert.ca_id)
        .await?
        .ok_or(AppError::NotFound)?;
    regenerate_crl(pki, &mut tx, &ca_row, now).await?;
    audit::record_in(
        &mut tx,
        Some(user.id),
        "certs.revoke",
        &id.0.to_string(),
        &cert.serial,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A certificate's PEM and its chain (leaf then root), only for its owner.
pub async fn cert_files(
    db: &Db,
    user_id: UserId,
    id: CertId,
) -> Result<(CertRow, String), AppError> {
    let cert = repo::own_cert(&db.pool, user_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let ca_row = repo::ca_by_id(&db.pool, cert.ca_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let chain = format!("{}{}", cert.cert_pem, ca_row.cert_pem);
    Ok((cert, chain))
}

/// The root certificate, only for its owner.
pub async fn ca_pem(db: &Db, user_id: UserId, id: CaId) -> Result<String, AppError> {
    match repo::ca_by_id(&db.pool, id).await? {
        Some(ca) if ca.user_id == user_id => Ok(ca.cert_pem),
        _ => Err(AppError::NotFound),
    }
}

/// Re-signs a CA's CRL before it ends and schedules the next re-signing.
pub async fn crl_refresh(pki: &Pki<'_>, id: CaId) -> Result<(), AppError> {
    let now = pki.clock.now();
    let mut tx = pki.db.begin_write().await?;
    let Some(ca_row) = repo::ca_by_id(&mut *tx, id).await? else {
        return Ok(());
    };
    regenerate_crl(pki, &mut tx, &ca_row, now).await?;
    jobs::schedule_in(
        &mut tx,
        &[crl_refresh_job(
            id,
            ca_row.user_id.0,
            now + ca::CRL_VALID_SECS,
        )],
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn expiry_reminder(pki: &Pki<'_>, mailer: &Mailer, id: CertId) -> Result<(), String> {
    let now = pki.clock.now();
    let cert = repo::cert_by_id(&pki.db.pool, id)
        .await
        .map_err(|e| e.to_string())?;
    // Revoked (or renewed, which revokes), deleted or already over: no mail.
    let Some(cert) = cert.filter(|c| status_of(c, now).is_live()) else {
        return Ok(());
    };
    let Some((email, first_name)) = repo::recipient(pki.db, cert.user_id)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(());
    };
    let days = ((cert.not_after - now) / 86_400).max(0);
    let when = time::OffsetDateTime::from_unix_timestamp(cert.not_after)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc2822)
                .ok()
        })
        .unwrap_or_default();
    let hello = if first_name.is_empty() {
        "Hello".to_string()
    } else {
        format!("Hello {first_name}")
    };
    let body = format!(
        "{hello},\n\nyour certificate \"{}\" (serial {}) ends in {days} days, on {when}.\n\
         Renew it on your certificates page before then: {}/certificates\n\
         A renewed certificate keeps the same key, so the device only needs the new certificate file.\n",
        cert.name,
        cert.serial,
        pki.public_url.trim_end_matches('/'),
    );
    mailer
        .send_checked(
            &email,
            Mail::Rendered(Rendered {
                name: "cert_expiring",
                subject: format!("Your certificate \"{}\" expires in {days} days", cert.name),
                body,
            }),
        )
        .await
}
