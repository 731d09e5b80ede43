//! Sign-up, verification, sign-in, lockout, two-factor, reset, sessions.

use reqwest::StatusCode;
use truevault::accounts::totp;

use crate::helpers::{failure, new_client, redirected, token_from, Failure, TestApp, PASSWORD};

#[tokio::test]
async fn register_verify_login_and_see_the_dashboard() {
    let app = TestApp::spawn().await;
    let client = new_client();
    let res = app.register(&client, "Ada@Example.com").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("Check your inbox"));
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM users WHERE email = 'ada@example.com' AND status = 'pending'"
        )
        .await,
        1
    );

    // A pending account cannot sign in yet.
    let res = app.login(&client, "ada@example.com", PASSWORD).await;
    assert!(!res.status().is_success() && !redirected(&res));
    assert!(res.text().await.unwrap().contains("confirm your e-mail"));

    let (subject, body) = app.last_mail_to("ada@example.com").await.expect("mail");
    assert_eq!(subject, "Confirm your e-mail address");
    let token = token_from(&body, "/verify?token=");
    let res = app
        .post_form(&client, "/api/auth/verify", &[("token", &token)])
        .await;
    assert!(redirected(&res), "{}", res.status());
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM users WHERE email = 'ada@example.com' AND status = 'active'"
        )
        .await,
        1
    );
    assert_eq!(
        app.last_mail_to("ada@example.com")
            .await
            .expect("welcome")
            .0,
        "Welcome to TrueVault"
    );

    let res = app.login(&client, "ADA@example.com", PASSWORD).await;
    assert!(redirected(&res), "{}", res.status());
    let cookie = res
        .headers()
        .get("set-cookie")
        .expect("cookie")
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.starts_with("tv_session=")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
    );
    let html = app.get_html(&client, "/dashboard").await;
    assert!(
        html.contains("ada@example.com"),
        "dashboard shows the account"
    );
    assert_eq!(
        app.whoami(&client).await.as_deref(),
        Some("ada@example.com")
    );

    // Logging out ends the session server-side.
    app.post_form(&client, "/api/account/logout", &[]).await;
    assert_eq!(app.whoami(&client).await, None);
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 0);
}

#[tokio::test]
async fn verification_tokens_are_single_use_and_expire() {
    let app = TestApp::spawn().await;
    let client = new_client();
    app.register(&client, "bob@example.com").await;
    let (_, body) = app.last_mail_to("bob@example.com").await.unwrap();
    let token = token_from(&body, "/verify?token=");
    assert!(redirected(
        &app.post_form(&client, "/api/auth/verify", &[("token", &token)])
            .await
    ));
    let replay = app
        .post_form(&client, "/api/auth/verify", &[("token", &token)])
        .await;
    let f = failure(replay).await;
    assert_eq!(
        (f.status, f.code.as_str()),
        (StatusCode::BAD_REQUEST, "INVALID_TOKEN")
    );

    // An expired token is refused and the account stays pending.
    app.register(&client, "carol@example.com").await;
    let (_, body) = app.last_mail_to("carol@example.com").await.unwrap();
    let token = token_from(&body, "/verify?token=");
    sqlx::query("UPDATE account_tokens SET expires_at = 1")
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let res = app
        .post_form(&client, "/api/auth/verify", &[("token", &token)])
        .await;
    assert!(failure(res).await.is("INVALID_TOKEN"));
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM users WHERE email = 'carol@example.com' AND status = 'pending'"
        )
        .await,
        1
    );

    // Garbage tokens never reach the database.
    let res = app
        .post_form(&client, "/api/auth/verify", &[("token", "x' OR 1=1 --")])
        .await;
    assert!(failure(res).await.is("INVALID_TOKEN"));
}

#[tokio::test]
async fn registering_a_taken_address_reveals_nothing() {
    let app = TestApp::spawn().await;
    let client = new_client();
    let first = app
        .register(&client, "dora@example.com")
        .await
        .text()
        .await
        .unwrap();
    let second = app
        .register(&client, "DORA@example.com")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(first, second, "same answer for a new and a taken address");
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
    assert_eq!(
        app.last_mail_to("dora@example.com").await.unwrap().0,
        "You already have a TrueVault account"
    );
}

#[tokio::test]
async fn bad_registration_input_is_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let client = new_client();
    let long_email = format!("{}@example.com", "a".repeat(300));
    let long_name = "n".repeat(101);
    let long_password = "p".repeat(129) + "x";
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![
                ("email", "not-an-email"),
                ("password", PASSWORD),
                ("first_name", ""),
            ],
            "email",
        ),
        (
            vec![
                ("email", &long_email),
                ("password", PASSWORD),
                ("first_name", ""),
            ],
            "email",
        ),
        (
            vec![
                ("email", "e@example.com"),
                ("password", "short"),
                ("first_name", ""),
            ],
            "password",
        ),
        (
            vec![
                ("email", "e@example.com"),
                ("password", &long_password),
                ("first_name", ""),
            ],
            "password",
        ),
        (
            vec![
                ("email", "e@example.com"),
                ("password", PASSWORD),
                ("first_name", &long_name),
            ],
            "first_name",
        ),
        (
            vec![
                ("email", "e@example.com"),
                ("password", PASSWORD),
                ("first_name", "bad\u{7}name"),
            ],
            "first_name",
        ),
        (vec![("email", "e@example.com")], "missing"),
    ];
    for (form, expected) in cases {
        let res = app.post_form(&client, "/api/auth/register", &form).await;
        assert!(!res.status().is_success(), "{form:?} must fail");
        let f = failure(res).await;
        if expected == "missing" {
            assert_eq!(f.code, "BAD_INPUT", "{form:?}: {f:?}");
        } else {
            assert_eq!(f.code, "VALIDATION_FAILED", "{form:?}: {f:?}");
            assert_eq!(f.field.as_deref(), Some(expected), "{form:?}: {f:?}");
        }
        assert_eq!(f.status, StatusCode::UNPROCESSABLE_ENTITY, "{form:?}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM mail_outbox").await, 0);
}

#[tokio::test]
async fn wrong_passwords_lock_the_address_whether_or_not_it_exists() {
    let app = TestApp::spawn().await;
    let _ = app.signed_in_user("erin@example.com").await;
    let client = new_client();
    let ghost = app
        .login(&client, "nobody@example.com", "wrong password!!")
        .await;
    let ghost_body = ghost.text().await.unwrap();
    let wrong = app
        .login(&client, "erin@example.com", "wrong password!!")
        .await;
    let wrong_body = wrong.text().await.unwrap();
    assert_eq!(
        ghost_body, wrong_body,
        "unknown address and wrong password answer alike"
    );
    assert!(Failure::from_body(StatusCode::UNAUTHORIZED, &wrong_body).is("INVALID_CREDENTIALS"));
    for _ in 0..4 {
        app.login(&client, "erin@example.com", "wrong password!!")
            .await;
        app.login(&client, "nobody@example.com", "wrong password!!")
            .await;
    }
    // Locked now: even the right password is refused, and so is the ghost.
    let res = app.login(&client, "erin@example.com", PASSWORD).await;
    assert!(failure(res).await.is("RATE_LIMITED"));
    let res = app.login(&client, "nobody@example.com", PASSWORD).await;
    assert!(failure(res).await.is("RATE_LIMITED"));
    assert!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'login.failed'")
            .await
            >= 5
    );
}

async fn enable_totp(app: &TestApp, client: &reqwest::Client) -> (Vec<u8>, Vec<String>) {
    let res = app.post_form(client, "/api/account/totp_begin", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let enrol: serde_json::Value = res.json().await.unwrap();
    let secret = base32_decode(enrol["secret_base32"].as_str().unwrap());
    let code = totp::format_code(totp::code_at_step(&secret, truevault::db::now() / 30));
    let res = app
        .post_form(client, "/api/account/totp_confirm", &[("code", &code)])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let codes: Vec<String> = res.json().await.unwrap();
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

fn base32_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => panic!("bad base32"),
        } as u32;
        buf = (buf << 5) | v;
        bits += 5;
        if bits >= 8 {
            out.push((buf >> (bits - 8)) as u8);
            bits -= 8;
        }
    }
    out
}

#[tokio::test]
async fn two_factor_login_needs_a_fresh_code_or_a_recovery_code() {
    let app = TestApp::spawn().await;
    let client = app.signed_in_user("fay@example.com").await;
    let (secret, recovery) = enable_totp(&app, &client).await;
    assert_eq!(
        app.last_mail_to("fay@example.com").await.unwrap().0,
        "Two-factor authentication changed"
    );

    // Password alone now leads to the second step, not a session.
    let c2 = new_client();
    let res = app.login(&c2, "fay@example.com", PASSWORD).await;
    assert_eq!(res.headers().get("location").unwrap(), "/login/totp");
    assert_eq!(app.whoami(&c2).await, None);
    let wrong = app
        .post_form(&c2, "/api/auth/login_totp", &[("code", "000000")])
        .await;
    assert!(failure(wrong).await.is("INVALID_TOTP"));
    assert_eq!(app.whoami(&c2).await, None);

    // The code used at enrolment cannot be used again; wait for the next step.
    let step = truevault::db::now() / 30;
    let enrolled = totp::format_code(totp::code_at_step(&secret, step));
    let res = app
        .post_form(&c2, "/api/auth/login_totp", &[("code", &enrolled)])
        .await;
    if !redirected(&res) {
        // Replay refused: use the next step's code (valid within the window).
        let next = totp::format_code(totp::code_at_step(&secret, step + 1));
        let res = app
            .post_form(&c2, "/api/auth/login_totp", &[("code", &next)])
            .await;
        assert!(redirected(&res), "{}", res.status());
    }
    assert_eq!(app.whoami(&c2).await.as_deref(), Some("fay@example.com"));

    // A recovery code works once.
    for (attempt, expect_ok) in [(1, true), (2, false)] {
        let c = new_client();
        app.login(&c, "fay@example.com", PASSWORD).await;
        let res = app
            .post_form(&c, "/api/auth/login_totp", &[("code", &recovery[0])])
            .await;
        assert_eq!(redirected(&res), expect_ok, "recovery attempt {attempt}");
    }
}

#[tokio::test]
async fn password_reset_by_mailed_single_use_link() {
    let app = TestApp::spawn().await;
    let old_session = app.signed_in_user("gus@example.com").await;
    let client = new_client();
    let unknown = app
        .post_form(
            &client,
            "/api/auth/forgot",
            &[("email", "nobody@example.com")],
        )
        .await
        .text()
        .await
        .unwrap();
    let known = app
        .post_form(&client, "/api/auth/forgot", &[("email", "gus@example.com")])
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(unknown, known, "no account enumeration");
    // The mail is queued after the answer: wait for it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while app
        .count("SELECT COUNT(*) FROM mail_outbox WHERE to_addr = 'gus@example.com' AND template = 'reset'")
        .await
        == 0
    {
        assert!(std::time::Instant::now() < deadline, "no reset mail");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(app.mail_count("nobody@example.com").await, 0);
    let (subject, body) = app.last_mail_to("gus@example.com").await.unwrap();
    assert_eq!(subject, "Reset your TrueVault password");
    let token = token_from(&body, "/reset?token=");

    // A weak password is refused without burning the link.
    let weak = app
        .post_form(
            &client,
            "/api/auth/reset",
            &[("token", &token), ("password", "short")],
        )
        .await;
    let f = failure(weak).await;
    assert_eq!(
        (f.code.as_str(), f.field.as_deref()),
        ("VALIDATION_FAILED", Some("password"))
    );
    let res = app
        .post_form(
            &client,
            "/api/auth/reset",
            &[("token", &token), ("password", "a brand new passphrase")],
        )
        .await;
    assert!(redirected(&res), "{}", res.status());
    let replay = app
        .post_form(
            &client,
            "/api/auth/reset",
            &[("token", &token), ("password", "another new passphrase")],
        )
        .await;
    assert!(failure(replay).await.is("INVALID_TOKEN"));

    assert_eq!(
        app.whoami(&old_session).await,
        None,
        "sessions end at a reset"
    );
    assert!(
        failure(app.login(&client, "gus@example.com", PASSWORD).await)
            .await
            .is("INVALID_CREDENTIALS")
    );
    assert!(redirected(
        &app.login(&client, "gus@example.com", "a brand new passphrase")
            .await
    ));
}

#[tokio::test]
async fn sign_out_everywhere_else() {
    let app = TestApp::spawn().await;
    let a = app.signed_in_user("hal@example.com").await;
    let b = new_client();
    app.login(&b, "hal@example.com", PASSWORD).await;
    assert_eq!(app.whoami(&b).await.as_deref(), Some("hal@example.com"));
    let sessions: Vec<serde_json::Value> = app
        .post_form(&a, "/api/account/sessions", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let res = app.post_form(&a, "/api/account/sessions_revoke", &[]).await;
    assert!(res.text().await.unwrap().contains("Signed out 1 other"));
    assert_eq!(app.whoami(&b).await, None);
    assert_eq!(app.whoami(&a).await.as_deref(), Some("hal@example.com"));
}

#[tokio::test]
async fn a_new_session_id_at_every_sign_in() {
    let app = TestApp::spawn().await;
    let client = app.signed_in_user("ivy@example.com").await;
    let before: Vec<String> = sqlx::query_scalar("SELECT id_hash FROM sessions")
        .fetch_all(&app.state.db.pool)
        .await
        .unwrap();
    app.login(&client, "ivy@example.com", PASSWORD).await;
    let after: Vec<String> = sqlx::query_scalar("SELECT id_hash FROM sessions")
        .fetch_all(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(before.len(), 1);
    assert_eq!(after.len(), 1, "the old session ends");
    assert_ne!(before, after);
}

#[tokio::test]
async fn suspended_accounts_cannot_sign_in_and_lose_their_sessions() {
    let app = TestApp::spawn().await;
    let user = app.signed_in_user("jay@example.com").await;
    let admin = app.signed_in_admin("root@example.com").await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE email = 'jay@example.com'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    let res = app
        .post_form(
            &admin,
            "/api/admin/user_status",
            &[("user_id", &id.to_string()), ("status", "suspended")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.whoami(&user).await, None);
    let res = app.login(&new_client(), "jay@example.com", PASSWORD).await;
    let f = failure(res).await;
    assert_eq!(
        (f.status, f.code.as_str()),
        // The code says why (suspended, not closed or unpaid), so the page can.
        (StatusCode::FORBIDDEN, "ACCOUNT_SUSPENDED")
    );
    // Users cannot call admin functions.
    let res = app
        .post_form(
            &user,
            "/api/admin/user_status",
            &[("user_id", &id.to_string()), ("status", "active")],
        )
        .await;
    assert!(!res.status().is_success());
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE status = 'suspended'")
            .await,
        1
    );
}

#[tokio::test]
async fn first_run_link_creates_the_administrator_once() {
    let app = TestApp::spawn().await;
    let path = truevault::accounts::bootstrap::prepare(&app.state)
        .await
        .unwrap()
        .expect("no admin yet: a link is written");
    let text = std::fs::read_to_string(&path).unwrap();
    let token = token_from(&text, "/setup?token=");
    let client = new_client();
    let wrong = app
        .post_form(
            &client,
            "/api/auth/setup_admin",
            &[
                ("token", &"A".repeat(43)),
                ("email", "boss@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert!(failure(wrong).await.is("INVALID_TOKEN"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE role = 'admin'")
            .await,
        0
    );
    let res = app
        .post_form(
            &client,
            "/api/auth/setup_admin",
            &[
                ("token", &token),
                ("email", "boss@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert!(redirected(&res), "{}", res.status());
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE role = 'admin' AND status = 'active'")
            .await,
        1
    );
    assert!(!path.exists(), "the link is gone once used");
    let replay = app
        .post_form(
            &client,
            "/api/auth/setup_admin",
            &[
                ("token", &token),
                ("email", "evil@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert!(!redirected(&replay));
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
    assert!(truevault::accounts::bootstrap::prepare(&app.state)
        .await
        .unwrap()
        .is_none());
}

/// A sign-in as seen through our reverse proxy, from `client_ip`.
async fn login_from(app: &TestApp, client_ip: &str, email: &str, password: &str) -> String {
    new_client()
        .post(app.url("/api/auth/login"))
        .header(reqwest::header::ORIGIN, &app.origin)
        .header("x-forwarded-for", client_ip)
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_stranger_guessing_does_not_lock_the_owner_out() {
    // The test client is the "proxy" on loopback; X-Forwarded-For is the client.
    let app = TestApp::spawn_with(|c| c.trusted_proxies = vec!["127.0.0.1".into()]).await;
    let _ = app.signed_in_user("owner@example.com").await;
    for _ in 0..8 {
        login_from(
            &app,
            "203.0.113.66",
            "owner@example.com",
            "wrong password!!",
        )
        .await;
    }
    let body = login_from(&app, "203.0.113.66", "owner@example.com", PASSWORD).await;
    assert!(
        body.contains("Too many attempts"),
        "the guesser is locked: {body}"
    );
    // The owner, from home: signs in.
    let body = login_from(&app, "198.51.100.20", "owner@example.com", PASSWORD).await;
    assert!(!body.contains("Too many attempts"), "{body}");
    assert!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'login.success' AND ip = '198.51.100.20'")
            .await
            == 1,
        "the audit log has the client's address, not the proxy's"
    );
    // Progressive: once the first lock has passed (moved here instead of
    // waited for), the next failure locks for longer.
    sqlx::query("UPDATE login_throttle SET locked_until = 0")
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    login_from(
        &app,
        "203.0.113.66",
        "owner@example.com",
        "wrong password!!",
    )
    .await;
    let locked_until = app
        .count("SELECT MAX(locked_until) FROM login_throttle")
        .await;
    assert!(locked_until - truevault::db::now() > 60, "{locked_until}");

    // Without trusting the proxy, the header is ignored: the audit log shows the peer.
    let plain = TestApp::spawn().await;
    let _ = plain.signed_in_user("p@example.com").await;
    login_from(&plain, "203.0.113.1", "p@example.com", PASSWORD).await;
    assert_eq!(
        plain
            .count("SELECT COUNT(*) FROM audit_log WHERE ip = '203.0.113.1'")
            .await,
        0,
        "an untrusted X-Forwarded-For is never recorded"
    );
}

#[tokio::test]
async fn ipv6_clients_share_a_rate_limit_bucket_per_64() {
    let app = TestApp::spawn_with(|c| {
        c.trusted_proxies = vec!["127.0.0.1".into()];
        c.auth_rate_per_minute = 3;
    })
    .await;
    // Four addresses of one /64 (one customer line): the fourth is refused.
    for i in 1..=3 {
        let body = login_from(
            &app,
            &format!("2001:db8:5:6::{i}"),
            "x@example.com",
            "whatever pw",
        )
        .await;
        assert!(!body.contains("wait a minute"), "{i}: {body}");
    }
    let body = login_from(&app, "2001:db8:5:6::99", "x@example.com", "whatever pw").await;
    assert!(body.contains("wait a minute"), "{body}");
    let body = login_from(&app, "2001:db8:5:7::1", "x@example.com", "whatever pw").await;
    assert!(!body.contains("wait a minute"), "another /64: {body}");
}

#[tokio::test]
async fn password_and_two_factor_changes_are_rate_limited() {
    let app = TestApp::spawn_with(|c| c.auth_rate_per_minute = 3).await;
    let client = app.signed_in_user("rl@example.com").await;
    let mut limited = false;
    for _ in 0..6 {
        let res = app
            .post_form(
                &client,
                "/api/account/password",
                &[
                    ("current_password", "wrong password!!"),
                    ("new_password", "another long passphrase"),
                ],
            )
            .await;
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
        }
    }
    assert!(
        limited,
        "argon2-backed account endpoints are limited per address"
    );
}

#[tokio::test]
async fn a_reset_request_answers_without_waiting_for_the_mail() {
    // An SMTP server that accepts the connection and never says a word:
    // an answer that waited for the mail would never come.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((c, _)) = silent.accept().await {
            conns.push(c);
        }
    });
    let app = TestApp::spawn_with(|c| {
        c.smtp = Some(truevault::config::SmtpConfig {
            host: "127.0.0.1".into(),
            port,
            username: None,
            password: None,
            security: "none".into(),
        });
    })
    .await;
    truevault::accounts::service::create_verified_user(
        &app.state.db,
        "slowmail@example.com",
        PASSWORD,
        truevault::accounts::model::Role::User,
    )
    .await
    .unwrap();
    let client = new_client();
    for email in ["slowmail@example.com", "nobody@example.com"] {
        let res = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            app.post_form(&client, "/api/auth/forgot", &[("email", email)]),
        )
        .await
        .unwrap_or_else(|_| panic!("{email}: the answer waited for SMTP"));
        assert_eq!(res.status(), StatusCode::OK, "{email}");
    }
    held.abort();
}
