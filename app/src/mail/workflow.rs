//! Mails sent by billing and onboarding workflows. Each has a built-in text
//! (an askama template under `app/templates/mail/`) that an admin may
//! replace; both use the same `{{ variable }}` names.

use askama::Template;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{
    db::{now, Db},
    error::AppError,
};

/// The variables every workflow mail may use.
pub const VARIABLES: [&str; 7] = [
    "first_name",
    "plan_name",
    "amount",
    "invoice_number",
    "dashboard_url",
    "support",
    "days_left",
];

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailVars {
    pub first_name: String,
    pub plan_name: String,
    pub amount: String,
    pub invoice_number: String,
    pub dashboard_url: String,
    pub support: String,
    /// Said with its unit, `1 day` or `7 days`.
    pub days_left: String,
}

impl MailVars {
    fn get(&self, name: &str) -> Option<&str> {
        Some(match name {
            "first_name" => &self.first_name,
            "plan_name" => &self.plan_name,
            "amount" => &self.amount,
            "invoice_number" => &self.invoice_number,
            "dashboard_url" => &self.dashboard_url,
            "support" => &self.support,
            "days_left" => &self.days_left,
            _ => return None,
        })
    }
}

macro_rules! workflow_mails {
    ($($ty:ident => $name:literal, $path:literal, $subject:literal;)*) => {
        $(
            // Every mail gets every variable, so an admin's rewrite may use any.
            #[allow(dead_code)]
            #[derive(Template)]
            #[template(path = $path)]
            struct $ty<'a> {
                first_name: &'a str,
                plan_name: &'a str,
                amount: &'a str,
                invoice_number: &'a str,
                dashboard_url: &'a str,
                support: &'a str,
                days_left: &'a str,
            }
        )*

        /// Names of the workflow mails, for the admin's editor.
        pub const NAMES: &[&str] = &[$($name),*];

        /// The built-in (subject, body) of a workflow mail.
        pub fn default_text(name: &str, v: &MailVars) -> Option<Result<(String, String), askama::Error>> {
            match name {
                $($name => Some($ty {
                    first_name: &v.first_name,
                    plan_name: &v.plan_name,
                    amount: &v.amount,
                    invoice_number: &v.invoice_number,
                    dashboard_url: &v.dashboard_url,
                    support: &v.support,
                    days_left: &v.days_left,
                }.render().map(|body| (substitute($subject, v), body))),)*
                _ => None,
            }
        }

        /// The built-in subject with its `{{ variables }}` unfilled, for the editor.
        pub fn default_subject(name: &str) -> Option<&'static str> {
            match name {
                $($name => Some($subject),)*
                _ => None,
            }
        }
    };
}

workflow_mails! {
    Receipt => "receipt", "mail/receipt.txt", "Your TrueVault receipt {{ invoice_number }}";
    PaymentFailed => "payment_failed", "mail/payment_failed.txt", "Your TrueVault payment did not go through";
    Suspended => "suspended", "mail/suspended.txt", "Your TrueVault subscription is suspended";
    Expiring => "expiring", "mail/expiring.txt", "Your TrueVault plan ends in {{ days_left }}";
    GettingStarted => "getting_started", "mail/getting_started.txt", "Getting started with TrueVault";
    Tips => "tips", "mail/tips.txt", "Three TrueVault tips";
    UsageWarning => "usage_warning", "mail/usage_warning.txt", "You have used 80 % of this month's TrueVault data";
    DataCapped => "data_capped", "mail/data_capped.txt", "Your TrueVault data for this month is used up";
}

/// Fills `{{ name }}` placeholders. Callers validated the template, so an
/// unknown name cannot occur; it would be left as written.
pub fn substitute(template: &str, v: &MailVars) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let name = after[..end].trim();
                match v.get(name) {
                    Some(value) => out.push_str(value),
                    None => out.push_str(&rest[start..start + 2 + end + 2]),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Checks an admin's template: only known variables, balanced braces, bounded.
/// Errors name the field at fault (`subject` or `body`).
pub fn validate(subject: &str, body: &str) -> Result<(), AppError> {
    if subject.trim().is_empty() || subject.chars().count() > 200 || subject.contains('\n') {
        return Err(AppError::invalid_field(
            "subject",
            "The subject must be one line of 1 to 200 characters.",
        ));
    }
    if body.trim().is_empty() || body.chars().count() > 20_000 {
        return Err(AppError::invalid_field(
            "body",
            "The body must be 1 to 20,000 characters.",
        ));
    }
    for (field, text) in [("subject", subject), ("body", body)] {
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| AppError::invalid_field(field, "A {{ is not closed with }}."))?;
            let name = after[..end].trim();
            if !VARIABLES.contains(&name) {
                return Err(AppError::invalid_field(
                    field,
                    format!(
                        "Unknown variable {{{{ {name} }}}}. Available: {}.",
                        VARIABLES.join(", ")
                    ),
                ));
            }
            rest = &after[end + 2..];
        }
    }
    Ok(())
}

/// Sends the workflow mail `name` to `to`: `vars` plus the portal's own
/// links, in the admin's text when there is one.
pub async fn send(
    db: &Db,
    mailer: &super::Mailer,
    config: &crate::config::Config,
    to: &str,
    name: &str,
    mut vars: MailVars,
) -> Result<(), String> {
    vars.dashboard_url = config.public_url.clone();
    vars.support = config.support_email.clone();
    let Some(static_name) = NAMES.iter().find(|n| **n == name).copied() else {
        return Err(format!("no mail named {name}"));
    };
    let (subject, body) = render(db, static_name, &vars).await?;
    mailer
        .send_checked(
            to,
            super::templates::Mail::Rendered(super::templates::Rendered {
                name: static_name,
                subject,
                body,
            }),
        )
        .await
}

/// (subject, body) of a workflow mail: the admin's version when there is one.
pub async fn render(db: &Db, name: &str, v: &MailVars) -> Result<(String, String), String> {
    if let Some((subject, body)) = custom(db, name).await.map_err(|e| e.to_string())? {
        return Ok((substitute(&subject, v), substitute(&body, v)));
    }
    match default_text(name, v) {
        Some(Ok(x)) => Ok(x),
        Some(Err(e)) => Err(e.to_string()),
        None => Err(format!("no mail template named {name}")),
    }
}

pub async fn custom(db: &Db, name: &str) -> Result<Option<(String, String)>, sqlx::Error> {
    let row = sqlx::query("SELECT subject, body FROM mail_templates WHERE name = $1")
        .bind(name)
        .fetch_optional(&db.pool)
        .await?;
    row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
}

pub async fn save(db: &Db, name: &str, subject: &str, body: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO mail_templates (name, subject, body, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (name) DO UPDATE SET subject = excluded.subject, body = excluded.body, updated_at = excluded.updated_at",
    )
    .bind(name)
    .bind(subject)
    .bind(body)
    .bind(now())
    .execute(&db.pool)
    .await
    .map(|_| ())
}

pub async fn reset(db: &Db, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM mail_templates WHERE name = $1")
        .bind(name)
        .execute(&db.pool)
        .await
        .map(|_| ())
}

/// Sample values for the admin's preview.
pub fn sample_vars() -> MailVars {
    MailVars {
        first_name: "Ada".into(),
        plan_name: "Personal".into(),
        amount: "$9.99".into(),
        invoice_number: "TV-000042".into(),
        dashboard_url: "https://portal.example".into(),
        support: "support@example.com".into(),
        days_left: "7 days".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_render_with_every_variable_and_templates_are_checked() {
        let v = sample_vars();
        for name in NAMES {
            let (subject, body) = default_text(name, &v).unwrap().unwrap();
            assert!(!subject.contains("{{"), "{name}: {subject}");
            assert!(!body.contains("{{"), "{name}: {body}");
            validate(default_subject(name).unwrap(), "x").unwrap();
        }
        assert_eq!(
            substitute("Hi {{first_name}}, {{ amount }}", &v),
            "Hi Ada, $9.99"
        );
        assert!(validate("Hi", "{{ password }}").is_err());
        assert!(validate("Hi", "{{ first_name").is_err());
        assert!(validate("Hi\nthere", "x").is_err());
        assert!(validate("Hi", "Dear {{ first_name }}").is_ok());
    }
}
