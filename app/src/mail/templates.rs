//! The messages the portal sends, each an askama template under
//! `app/templates/mail/` with the variables it needs.

use askama::Template;

#[derive(Template)]
#[template(path = "mail/verify.txt")]
pub struct Verify {
    pub link: String,
    pub support: String,
}

#[derive(Template)]
#[template(path = "mail/reset.txt")]
pub struct Reset {
    pub first_name: String,
    pub link: String,
    pub support: String,
}

#[derive(Template)]
#[template(path = "mail/welcome.txt")]
pub struct Welcome {
    pub first_name: String,
    pub dashboard: String,
    pub support: String,
}

#[derive(Template)]
#[template(path = "mail/twofa_changed.txt")]
pub struct TwoFactorChanged {
    pub first_name: String,
    pub change: &'static str,
    pub support: String,
}

#[derive(Template)]
#[template(path = "mail/already_registered.txt")]
pub struct AlreadyRegistered {
    pub login: String,
    pub support: String,
}

#[derive(Template)]
#[template(path = "mail/new_devices.txt")]
pub struct NewDevices {
    pub first_name: String,
    /// One line per device: name (IP, MAC).
    pub devices: Vec<String>,
    pub link: String,
    pub support: String,
}

#[derive(Template)]
#[template(path = "mail/mesh_invite.txt")]
pub struct MeshInvite {
    pub inviter: String,
    pub network: String,
    pub role: &'static str,
    pub link: String,
    /// When the link stops working, in words (`2026-12-08 12:00 UTC`).
    pub expires: String,
    pub support: String,
}

#[derive(Template)]
#[template(path = "mail/camera_event.txt")]
pub struct CameraEventMail {
    pub first_name: String,
    /// "Motion", "Person", "Went offline", …
    pub what: &'static str,
    pub camera: String,
    /// `2026-12-01 21:40 UTC`
    pub when: String,
    pub link: String,
    pub settings: String,
    pub support: String,
}

/// A message already rendered elsewhere (workflow mails, which an admin may
/// have rewritten).
pub struct Rendered {
    pub name: &'static str,
    pub subject: String,
    pub body: String,
}

pub enum Mail {
    Verify(Verify),
    Reset(Reset),
    Welcome(Welcome),
    TwoFactorChanged(TwoFactorChanged),
    AlreadyRegistered(AlreadyRegistered),
    NewDevices(NewDevices),
    MeshInvite(MeshInvite),
    CameraEvent(CameraEventMail),
    Rendered(Rendered),
}

impl Mail {
    pub fn name(&self) -> &'static str {
        match self {
            Mail::Verify(_) => "verify",
            Mail::Reset(_) => "reset",
            Mail::Welcome(_) => "welcome",
            Mail::TwoFactorChanged(_) => "twofa_changed",
            Mail::AlreadyRegistered(_) => "already_registered",
            Mail::NewDevices(_) => "new_devices",
            Mail::MeshInvite(_) => "mesh_invite",
            Mail::CameraEvent(_) => "camera_event",
            Mail::Rendered(r) => r.name,
        }
    }

    /// (subject, plain-text body)
    pub fn render(&self) -> Result<(String, String), askama::Error> {
        Ok(match self {
            Mail::Verify(t) => ("Confirm your e-mail address".into(), t.render()?),
            Mail::Reset(t) => ("Reset your TrueVault password".into(), t.render()?),
            Mail::Welcome(t) => ("Welcome to TrueVault".into(), t.render()?),
            Mail::TwoFactorChanged(t) => ("Two-factor authentication changed".into(), t.render()?),
            Mail::AlreadyRegistered(t) => {
                ("You already have a TrueVault account".into(), t.render()?)
            }
            Mail::Rendered(r) => (r.subject.clone(), r.body.clone()),
            Mail::CameraEvent(t) => (format!("{}: {}", t.camera, t.what), t.render()?),
            Mail::MeshInvite(t) => (
                format!(
                    "{} invited you to \"{}\" on TrueVault",
                    t.inviter, t.network
                ),
                t.render()?,
            ),
            Mail::NewDevices(t) => {
                let subject = match t.devices.len() {
                    1 => "A new device joined your home network".into(),
                    n => format!("{n} new devices joined your home network"),
                };
                (subject, t.render()?)
            }
        })
    }
}
