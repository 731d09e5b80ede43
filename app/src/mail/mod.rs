//! Outgoing mail: askama templates, sent by SMTP (lettre) when configured,
//! otherwise kept in the local outbox the admin reads. Every message is
//! recorded in `mail_outbox`; with SMTP only its metadata is kept, so mailed
//! links do not sit in the database.

pub mod templates;
pub mod workflow;

use std::time::Duration;

use lettre::{
    message::{header::ContentType, Mailbox},
    transport::smtp::authentication::Credentials,
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};
use sqlx::Row;

pub use templates::Mail;

use crate::admin::model::OutboxMail;

use crate::{
    config::Config,
    db::{now, Db},
};

#[derive(Clone)]
pub struct Mailer {
    db: Db,
    from: Mailbox,
    smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid mail address: {0}")]
    Address(String),
    #[error("smtp configuration: {0}")]
    Config(String),
}

impl Mailer {
    pub fn new(db: Db, config: &Config) -> Result<Self, MailError> {
        let from: Mailbox = config
            .mail_from
            .parse()
            .map_err(|_| MailError::Address(config.mail_from.clone()))?;
        let smtp = match &config.smtp {
            None => None,
            Some(s) => {
                let builder = match s.security.as_str() {
                    "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host)
                        .map_err(|e| MailError::Config(e.to_string()))?,
                    "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host)
                        .map_err(|e| MailError::Config(e.to_string()))?,
                    _ => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host),
                };
                let mut builder = builder.port(s.port).timeout(Some(Duration::from_secs(10)));
                if let (Some(user), Some(pass)) = (&s.username, &s.password) {
                    builder = builder
                        .credentials(Credentials::new(user.clone(), pass.expose().to_string()));
                }
                Some(builder.build())
            }
        };
        Ok(Self { db, from, smtp })
    }

    /// Renders and sends one message. Mail failures are recorded and logged
    /// but never fail the action that triggered them.
    pub async fn send(&self, to: &str, mail: Mail) {
        let _ = self.send_checked(to, mail).await;
    }

    /// Like [`Mailer::send`], but says whether the message left (or reached
    /// the outbox), so a scheduled step can be retried when it did not.
    pub async fn send_checked(&self, to: &str, mail: Mail) -> Result<(), String> {
        let (subject, body) = match mail.render() {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(error = %e, template = mail.name(), "mail template failed");
                return Err(format!("template {}: {e}", mail.name()));
            }
        };
        let (status, error, stored_body) = match &self.smtp {
            None => ("outbox", None, Some(body.clone())),
            Some(transport) => match self.smtp_send(transport, to, &subject, body).await {
                Ok(()) => ("sent", None, None),
                Err(e) => {
                    tracing::warn!(error = %e, template = mail.name(), "smtp send failed");
                    ("failed", Some(e), None)
                }
            },
        };
        let res = sqlx::query(
            "INSERT INTO mail_outbox (to_addr, subject, body_text, template, status, error, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(to)
        .bind(&subject)
        .bind(stored_body)
        .bind(mail.name())
        .bind(status)
        .bind(&error)
        .bind(now())
        .execute(&self.db.pool)
        .await;
        if let Err(e) = res {
            tracing::error!(error = %e, "could not record mail in outbox");
        }
        match error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    async fn smtp_send(
        &self,
        transport: &AsyncSmtpTransport<Tokio1Executor>,
        to: &str,
        subject: &str,
        body: String,
    ) -> Result<(), String> {
        let to: Mailbox = to
            .parse()
            .map_err(|e: lettre::address::AddressError| e.to_string())?;
        let msg = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| e.to_string())?;
        transport
            .send(msg)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// The newest messages, for the admin's outbox page. Bodies whose
    /// one-time link has expired are erased first: the outbox is read by
    /// people who are not the addressee, and a live reset link in it is a
    /// way into that account, so it is kept no longer than the token lives.
    pub async fn outbox(&self, limit: i64) -> Result<Vec<OutboxMail>, sqlx::Error> {
        self.erase_expired_links().await?;
        let rows = sqlx::query(
            "SELECT id, to_addr, subject, body_text, template, status, created_at FROM mail_outbox \
             ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let template: String = r.try_get("template")?;
                let created_at: i64 = r.try_get("created_at")?;
                Ok(OutboxMail {
                    id: r.try_get("id")?,
                    to_addr: r.try_get("to_addr")?,
                    subject: r.try_get("subject")?,
                    body_text: r.try_get("body_text")?,
                    status: r.try_get("status")?,
                    created_at,
                    link_expires_at: link_ttl(&template).map(|ttl| created_at.saturating_add(ttl)),
                })
            })
            .collect()
    }
}

/// How long the one-time link in a message of `template` works: the life
/// of the token it carries.
pub fn link_ttl(template: &str) -> Option<i64> {
    use crate::accounts::tokens;
    match template {
        "reset" => Some(tokens::RESET_PASSWORD_TTL),
        "verify" => Some(tokens::VERIFY_EMAIL_TTL),
        "mesh_invite" => Some(crate::mesh::model::INVITE_TTL_SECS),
        _ => None,
    }
}

impl Mailer {
    /// Erases the bodies of kept messages whose one-time link has expired.
    pub async fn erase_expired_links(&self) -> Result<u64, sqlx::Error> {
        let now = now();
        let mut erased = 0;
        for template in ["reset", "verify", "mesh_invite"] {
            let Some(ttl) = link_ttl(template) else {
                continue;
            };
            erased += sqlx::query(
                "UPDATE mail_outbox SET body_text = NULL \
                 WHERE template = $1 AND body_text IS NOT NULL AND created_at <= $2",
            )
            .bind(template)
            .bind(now - ttl)
            .execute(&self.db.pool)
            .await?
            .rows_affected();
        }
        Ok(erased)
    }
}
