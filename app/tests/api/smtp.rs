//! Mail through a real SMTP server on loopback (Python aiosmtpd), read back
//! from its maildir.

use std::{
    net::TcpListener,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use truevault::config::SmtpConfig;

use crate::helpers::{new_client, redirected, token_from, TestApp};

pub(crate) struct SmtpServer {
    child: Child,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start_smtp(maildir: &Path) -> (SmtpServer, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("python3")
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{port}"),
            "-c",
            "aiosmtpd.handlers.Mailbox",
        ])
        .arg(maildir)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect(
            "python3 -m aiosmtpd (pip install aiosmtpd; app/scripts/setup.sh --test installs it)",
        );
    let server = SmtpServer { child };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "aiosmtpd did not start listening"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, port)
}

pub(crate) fn read_maildir(maildir: &Path) -> Vec<String> {
    let mut mails = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(entries) = std::fs::read_dir(maildir.join(sub)) {
            for e in entries.flatten() {
                if let Ok(text) = std::fs::read_to_string(e.path()) {
                    mails.push(text);
                }
            }
        }
    }
    mails
}

#[tokio::test]
async fn verification_mail_arrives_over_smtp() {
    let maildir =
        std::env::temp_dir().join(format!("tv-maildir-{}", crate::helpers::random_suffix()));
    let (_smtp, port) = start_smtp(&maildir);
    let app = TestApp::spawn_with(|c| {
        c.smtp = Some(SmtpConfig {
            host: "127.0.0.1".into(),
            port,
            username: None,
            password: None,
            security: "none".into(),
        });
    })
    .await;
    let client = new_client();
    app.register(&client, "smtp@example.com").await;

    let deadline = Instant::now() + Duration::from_secs(20);
    let mail = loop {
        if let Some(m) = read_maildir(&maildir)
            .into_iter()
            .find(|m| m.contains("smtp@example.com"))
        {
            break m;
        }
        assert!(
            Instant::now() < deadline,
            "no mail arrived in {}",
            maildir.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(mail.contains("Subject: Confirm your e-mail address"));
    // The body may be quoted-printable; join soft line breaks first.
    let body = mail
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let token = token_from(&body, "/verify?token=");
    let res = app
        .post_form(&client, "/api/auth/verify", &[("token", &token)])
        .await;
    assert!(redirected(&res), "{}", res.status());
    // With SMTP, the outbox keeps metadata only: no link sits in the database.
    let stored: Option<String> =
        sqlx::query_scalar("SELECT body_text FROM mail_outbox WHERE template = 'verify'")
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
    assert_eq!(stored, None);
    let _ = std::fs::remove_dir_all(&maildir);
}
