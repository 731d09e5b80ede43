//! Personal certificates: every kind verifies against the user's root with
//! OpenSSL and carries the usages and exact names asked for; revocation
//! reaches the CRL named in the certificate; real TLS with `openssl
//! s_server`/`s_client` trusting only the user's root; other users and free
//! plans are refused on every route; bad CSRs store nothing; the CRL is
//! re-signed and the expiry reminder mailed by the scheduler.

use std::{
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use base64::{engine::general_purpose::STANDARD, Engine};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256,
    PKCS_ECDSA_P384_SHA384,
};
use reqwest::{Client, StatusCode};
use serde_json::Value;
use truevault::accounts::{model::Role, repo as accounts_repo, service as accounts};

use crate::helpers::{failure, new_client, random_suffix, TestApp, PASSWORD};

const DAY: i64 = 86_400;

/// A verified user on `plan`, signed in, and their id.
async fn user(app: &TestApp, email: &str, plan: &str) -> (Client, i64) {
    accounts::create_verified_user(&app.state.db, email, PASSWORD, Role::User)
        .await
        .expect("create user");
    set_plan(app, email, plan).await;
    let client = new_client();
    app.login(&client, email, PASSWORD).await;
    let id = accounts_repo::find_by_email(&app.state.db, email)
        .await
        .unwrap()
        .unwrap()
        .id;
    (client, id)
}

async fn set_plan(app: &TestApp, email: &str, plan: &str) {
    sqlx::query(
        "UPDATE users SET plan_id = (SELECT id FROM plans WHERE slug = $1) WHERE email = $2",
    )
    .bind(plan)
    .bind(email)
    .execute(&app.state.db.pool)
    .await
    .expect("set plan");
}

/// A device on the user's home network, as the scanner would have stored it.
async fn home_device(app: &TestApp, user_id: i64, hostname: &str, ip: &str) {
    sqlx::query(
        "INSERT INTO lan_devices (user_id, mac, ip, hostname, first_seen, last_seen) VALUES ($1, $2, $3, $4, 0, 0)",
    )
    .bind(user_id)
    .bind(format!("02:00:00:00:00:{:02x}", ip.len()))
    .bind(ip)
    .bind(hostname)
    .execute(&app.state.db.pool)
    .await
    .expect("lan device");
}

/// A P-256 key (PKCS#8 PEM) and a CSR for it, as a browser or `openssl req` makes them.
fn csr(cn: &str) -> (String, String) {
    csr_with(cn, &PKCS_ECDSA_P256_SHA256)
}

fn csr_with(cn: &str, alg: &'static rcgen::SignatureAlgorithm) -> (String, String) {
    let key = KeyPair::generate_for(alg).unwrap();
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    params.distinguished_name = dn;
    let req = params.serialize_request(&key).unwrap();
    (key.serialize_pem(), req.pem().unwrap())
}

async fn issue(app: &TestApp, c: &Client, fields: &[(&str, &str)]) -> reqwest::Response {
    let form: Vec<(String, &str)> = fields
        .iter()
        .map(|(k, v)| (format!("form[{k}]"), *v))
        .collect();
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    app.post_form(c, "/api/certs/issue", &form).await
}

async fn issued(app: &TestApp, c: &Client, fields: &[(&str, &str)]) -> Value {
    let res = issue(app, c, fields).await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
    res.json().await.unwrap()
}

async fn overview(app: &TestApp, c: &Client) -> Value {
    let res = app.post_form(c, "/api/certs/overview", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

async fn download(app: &TestApp, c: &Client, path: &str) -> reqwest::Response {
    c.get(app.url(path)).send().await.unwrap()
}

fn write(dir: &Path, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap();
    p
}

/// Runs openssl; (success, stdout + stderr).
fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl is installed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn x509_text(cert: &Path) -> String {
    let (ok, text) = openssl(&["x509", "-in", cert.to_str().unwrap(), "-noout", "-text"]);
    assert!(ok, "{text}");
    text
}

/// The line after `header` in `openssl x509 -text` output, trimmed.
fn after(text: &str, header: &str) -> Option<String> {
    let mut lines = text.lines();
    lines.find(|l| l.trim().starts_with(header))?;
    lines.next().map(|l| l.trim().to_string())
}

fn tmpdir(app: &TestApp) -> PathBuf {
    let d = app.dir.join(format!("certs-{}", random_suffix()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[tokio::test]
async fn each_kind_verifies_against_the_root_with_its_usages_and_exact_names() {
    let app = TestApp::spawn().await;
    let (c, uid) = user(&app, "ada@example.com", "personal").await;
    home_device(&app, uid, "nas", "192.168.1.20").await;
    let dir = tmpdir(&app);
    let suffix = format!("u{uid}.tv.home.arpa");

    let (device_key, device_csr) = csr("ignored subject");
    let device = issued(
        &app,
        &c,
        &[
            ("name", "Ada's phone"),
            ("kind", "device"),
            ("csr", &device_csr),
        ],
    )
    .await;
    let (_, region_csr) = csr("region");
    let region = issued(
        &app,
        &c,
        &[
            ("name", "Lisbon identity"),
            ("kind", "region"),
            ("csr", &region_csr),
        ],
    )
    .await;
    let names = format!("nas.{suffix}, nas\n192.168.1.20");
    let service = issued(
        &app,
        &c,
        &[
            ("name", "NAS web"),
            ("kind", "service"),
            ("names", &names),
            ("password", "p12 password here"),
        ],
    )
    .await;
    assert!(
        device["pkcs12_b64"].is_null() && region["pkcs12_b64"].is_null(),
        "a CSR gets no key back"
    );

    let page = overview(&app, &c).await;
    let ca_id = page["ca"]["id"]
        .as_i64()
        .expect("the CA was made on first use");
    assert_eq!(page["live"], 3);
    assert_eq!(page["limit"], 25);
    let root = download(&app, &c, &format!("/certificates/ca/{ca_id}/root.pem")).await;
    assert_eq!(root.status(), StatusCode::OK);
    let root = write(&dir, "root.pem", root.text().await.unwrap());
    let root_text = x509_text(&root);
    assert!(
        root_text.contains("CA:TRUE") && root_text.contains("Certificate Sign, CRL Sign"),
        "{root_text}"
    );
    assert!(
        root_text.contains("ecdsa-with-SHA256") && root_text.contains("prime256v1"),
        "{root_text}"
    );

    for (v, purpose, eku, sans) in [
        (&device, "sslclient", "TLS Web Client Authentication", None),
        (&region, "sslclient", "TLS Web Client Authentication", None),
        (
            &service,
            "sslserver",
            "TLS Web Server Authentication",
            Some(format!(
                "DNS:nas.{suffix}, DNS:nas, IP Address:192.168.1.20"
            )),
        ),
    ] {
        let id = v["id"].as_i64().unwrap();
        let res = download(&app, &c, &format!("/certificates/download/{id}/cert.pem")).await;
        assert_eq!(res.status(), StatusCode::OK);
        let pem = res.text().await.unwrap();
        assert_eq!(pem, v["cert_pem"].as_str().unwrap());
        let cert = write(&dir, &format!("{id}.pem"), &pem);
        let (ok, out) = openssl(&[
            "verify",
            "-CAfile",
            root.to_str().unwrap(),
            "-purpose",
            purpose,
            cert.to_str().unwrap(),
        ]);
        assert!(ok, "{out}");
        let text = x509_text(&cert);
        assert_eq!(
            after(&text, "X509v3 Extended Key Usage").as_deref(),
            Some(eku),
            "{text}"
        );
        assert_eq!(
            after(&text, "X509v3 Key Usage").as_deref(),
            Some("Digital Signature"),
            "{text}"
        );
        assert_eq!(
            after(&text, "X509v3 Subject Alternative Name"),
            sans,
            "{text}"
        );
        assert!(text.contains("CA:FALSE"), "{text}");
        let chain = download(&app, &c, &format!("/certificates/download/{id}/chain.pem"))
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2);
        assert!(chain.starts_with(&pem));
    }
    assert!(device_key.contains("PRIVATE KEY"));

    // The server-made key: a PKCS#12 OpenSSL opens with the password only.
    let p12 = write(
        &dir,
        "nas.p12",
        STANDARD
            .decode(service["pkcs12_b64"].as_str().unwrap())
            .unwrap(),
    );
    let (ok, out) = openssl(&[
        "pkcs12",
        "-in",
        p12.to_str().unwrap(),
        "-passin",
        "pass:p12 password here",
        "-nodes",
    ]);
    assert!(ok, "{out}");
    assert!(
        out.contains("BEGIN PRIVATE KEY") && out.matches("BEGIN CERTIFICATE").count() == 2,
        "{out}"
    );
    let (ok, _) = openssl(&[
        "pkcs12",
        "-in",
        p12.to_str().unwrap(),
        "-passin",
        "pass:wrong password",
        "-nodes",
    ]);
    assert!(!ok, "a wrong password must not open it");

    // The CA key is sealed at rest: not PEM, not DER, and opens with the portal's key.
    let sealed: String =
        sqlx::query_scalar("SELECT key_sealed FROM cert_authorities WHERE user_id = $1")
            .bind(uid)
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
    assert!(!sealed.contains("PRIVATE"));
    let key = app
        .state
        .keys
        .open(&sealed)
        .expect("sealed with the portal's key");
    assert!(KeyPair::try_from(key.as_slice()).is_ok());
    // Issue is in the audit log.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'certs.issue'")
            .await,
        3
    );
}

#[tokio::test]
async fn revocation_reaches_the_crl_named_in_the_certificate_and_renewal_supersedes() {
    let app = TestApp::spawn().await;
    let (c, uid) = user(&app, "ada@example.com", "family").await;
    let dir = tmpdir(&app);
    let (_, req) = csr("x");
    let v = issued(
        &app,
        &c,
        &[("name", "laptop"), ("kind", "device"), ("csr", &req)],
    )
    .await;
    let id = v["id"].as_i64().unwrap();
    let cert = write(&dir, "cert.pem", v["cert_pem"].as_str().unwrap());
    let root = write(
        &dir,
        "root.pem",
        v["chain_pem"]
            .as_str()
            .unwrap()
            .split_inclusive("-----END CERTIFICATE-----\n")
            .nth(1)
            .unwrap(),
    );
    let text = x509_text(&cert);
    let url = after(&text, "Full Name:").expect("a CRL distribution point");
    let url = url.strip_prefix("URI:").unwrap();
    assert!(url.starts_with(&app.origin), "{url}");
    let crl_path = url.strip_prefix(&app.origin).unwrap().to_string();
    // Public: fetched without a session.
    let fetch_crl = |name: &'static str| {
        let (app_url, dir) = (app.url(&crl_path), dir.clone());
        async move {
            let res = new_client().get(app_url).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            assert_eq!(res.headers()["content-type"], "application/pkix-crl");
            let der = write(&dir, &format!("{name}.der"), res.bytes().await.unwrap());
            let pem = dir.join(format!("{name}.pem"));
            let (ok, out) = openssl(&[
                "crl",
                "-inform",
                "DER",
                "-in",
                der.to_str().unwrap(),
                "-out",
                pem.to_str().unwrap(),
            ]);
            assert!(ok, "{out}");
            pem
        }
    };
    let verify = |crl: &Path, cert: &Path| {
        openssl(&[
            "verify",
            "-crl_check",
            "-CAfile",
            root.to_str().unwrap(),
            "-CRLfile",
            crl.to_str().unwrap(),
            cert.to_str().unwrap(),
        ])
    };
    let crl0 = fetch_crl("crl0").await;
    let (ok, out) = verify(&crl0, &cert);
    assert!(ok, "not revoked yet: {out}");

    // Renewal: a new certificate for the same key; the old one is superseded.
    let res = app
        .post_form(&c, "/api/certs/renew", &[("id", &id.to_string())])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let renewed: Value = res.json().await.unwrap();
    let renewed_cert = write(&dir, "renewed.pem", renewed["cert_pem"].as_str().unwrap());
    let pubkey = |p: &Path| openssl(&["x509", "-in", p.to_str().unwrap(), "-noout", "-pubkey"]).1;
    assert_eq!(
        pubkey(&cert),
        pubkey(&renewed_cert),
        "renewal keeps the key"
    );
    let crl1 = fetch_crl("crl1").await;
    let (ok, out) = verify(&crl1, &cert);
    assert!(!ok && out.contains("certificate revoked"), "{out}");
    let (ok, out) = verify(&crl1, &renewed_cert);
    assert!(ok, "{out}");

    // Revoking the renewed one lists its serial, signed by the CA.
    let rid = renewed["id"].as_i64().unwrap();
    let res = app
        .post_form(&c, "/api/certs/revoke", &[("id", &rid.to_string())])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let crl2 = fetch_crl("crl2").await;
    let (ok, out) = verify(&crl2, &renewed_cert);
    assert!(!ok && out.contains("certificate revoked"), "{out}");
    let serial = openssl(&[
        "x509",
        "-in",
        renewed_cert.to_str().unwrap(),
        "-noout",
        "-serial",
    ])
    .1;
    let serial = serial.trim().strip_prefix("serial=").unwrap().to_string();
    let (ok, crl_text) = openssl(&[
        "crl",
        "-in",
        crl2.to_str().unwrap(),
        "-noout",
        "-text",
        "-CAfile",
        root.to_str().unwrap(),
    ]);
    assert!(ok && crl_text.contains("verify OK"), "{crl_text}");
    assert!(
        crl_text.contains(&format!("Serial Number: {serial}")),
        "{serial} in {crl_text}"
    );
    // A second revocation is refused with its code; nothing changes.
    let again = failure(
        app.post_form(&c, "/api/certs/revoke", &[("id", &rid.to_string())])
            .await,
    )
    .await;
    assert!(again.is("CERT_NOT_LIVE"), "{again:?}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'certs.revoke'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'certs.renew'")
            .await,
        1
    );

    // The scheduler re-signs the CRL a day before it ends…
    let number = || async {
        sqlx::query_scalar::<_, i64>("SELECT crl_number FROM cert_authorities WHERE user_id = $1")
            .bind(uid)
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap()
    };
    let before = number().await;
    app.state.clock.advance(6 * DAY + 60);
    wait_for(|| async { number().await > before }).await;
    // …and mails a reminder 14 days before a live certificate ends (the
    // revoked ones get none). Family is not VIP: 365 days.
    let (_, req) = csr("y");
    issued(
        &app,
        &c,
        &[("name", "tablet"), ("kind", "device"), ("csr", &req)],
    )
    .await;
    assert_eq!(app.mail_count("ada@example.com").await, 0);
    app.state.clock.advance(352 * DAY);
    wait_for(|| async { app.mail_count("ada@example.com").await == 1 }).await;
    let (subject, body) = app.last_mail_to("ada@example.com").await.unwrap();
    assert!(subject.contains("tablet"), "{subject}");
    assert!(body.contains("/certificates"), "{body}");
}

/// Waits for a condition the background scheduler makes true.
async fn wait_for<F, Fut>(cond: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(15);
    while !cond().await {
        assert!(Instant::now() < deadline, "condition not met in 15 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A free loopback port for `openssl s_server`.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `openssl s_server` with the service certificate, requiring a client
/// certificate from the user's root; returns once it accepts.
fn s_server(dir: &Path, cert: &Path, key: &Path, root: &Path) -> (Child, u16) {
    let port = free_port();
    let mut child = Child(
        Command::new("openssl")
            .args(["s_server", "-accept", &format!("127.0.0.1:{port}"), "-cert"])
            .arg(cert)
            .arg("-key")
            .arg(key)
            .arg("-CAfile")
            .arg(root)
            .args([
                "-Verify",
                "1",
                "-verify_return_error",
                "-www",
                "-naccept",
                "4",
            ])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    // s_server prints ACCEPT once it listens.
    loop {
        match lines.next() {
            Some(Ok(l)) if l.starts_with("ACCEPT") => break,
            Some(Ok(_)) => continue,
            _ => panic!("s_server did not start"),
        }
    }
    std::thread::spawn(move || for _ in lines {});
    (child, port)
}

/// `openssl s_client` trusting only `root`, checking the host name; the
/// page the server answered with (empty when the handshake failed).
fn s_client(port: u16, host: &str, root: &Path, client: Option<(&Path, &Path)>) -> (bool, String) {
    let mut cmd = Command::new("openssl");
    cmd.args([
        "s_client",
        "-connect",
        &format!("127.0.0.1:{port}"),
        "-servername",
        host,
        "-verify_hostname",
        host,
        "-verify_return_error",
        "-CAfile",
    ])
    .arg(root)
    .arg("-quiet");
    if let Some((cert, key)) = client {
        cmd.arg("-cert").arg(cert).arg("-key").arg(key);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"GET / HTTP/1.0\r\n\r\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let page = String::from_utf8_lossy(&out.stdout).to_string();
    (
        page.contains("HTTP/1.0 200 ok"),
        format!("{page}{}", String::from_utf8_lossy(&out.stderr)),
    )
}

#[tokio::test]
async fn tls_with_issued_certificates_trusts_only_the_users_root() {
    let app = TestApp::spawn().await;
    let (c, uid) = user(&app, "ada@example.com", "personal").await;
    let (bc, _) = user(&app, "bob@example.com", "personal").await;
    let dir = tmpdir(&app);
    let host = format!("nas.u{uid}.tv.home.arpa");

    let (server_key, server_csr) = csr("nas");
    let server = issued(
        &app,
        &c,
        &[
            ("name", "nas"),
            ("kind", "service"),
            ("names", &host),
            ("csr", &server_csr),
        ],
    )
    .await;
    let (client_key, client_csr) = csr("phone");
    let client = issued(
        &app,
        &c,
        &[("name", "phone"), ("kind", "device"), ("csr", &client_csr)],
    )
    .await;
    let (bob_key, bob_csr) = csr("bob");
    let bob = issued(
        &app,
        &bc,
        &[
            ("name", "bob's phone"),
            ("kind", "device"),
            ("csr", &bob_csr),
        ],
    )
    .await;
    let root_of = |v: &Value| {
        v["chain_pem"]
            .as_str()
            .unwrap()
            .split_inclusive("-----END CERTIFICATE-----\n")
            .nth(1)
            .unwrap()
            .to_string()
    };
    let root = write(&dir, "root.pem", root_of(&server));
    let bob_root = write(&dir, "bob-root.pem", root_of(&bob));
    let server_cert = write(&dir, "server.pem", server["cert_pem"].as_str().unwrap());
    let server_key = write(&dir, "server.key", server_key);
    let client_cert = write(&dir, "client.pem", client["cert_pem"].as_str().unwrap());
    let client_key = write(&dir, "client.key", client_key);
    let bob_cert = write(&dir, "bob.pem", bob["cert_pem"].as_str().unwrap());
    let bob_key = write(&dir, "bob.key", bob_key);

    let (_server, port) = s_server(&dir, &server_cert, &server_key, &root);
    // Ada's client cert, trusting only Ada's root: the handshake completes
    // both ways and the page answers.
    let (ok, out) = s_client(port, &host, &root, Some((&client_cert, &client_key)));
    assert!(ok, "{out}");
    // Trusting only Bob's root, the server's certificate is not trusted.
    let (ok, out) = s_client(port, &host, &bob_root, Some((&client_cert, &client_key)));
    assert!(!ok, "{out}");
    // Bob's client certificate (another CA) and no certificate are refused by the server.
    let (ok, out) = s_client(port, &host, &root, Some((&bob_cert, &bob_key)));
    assert!(!ok, "{out}");
    let (ok, out) = s_client(port, &host, &root, None);
    assert!(!ok, "{out}");
}

#[tokio::test]
async fn other_users_are_refused_on_every_route_and_plans_decide_issuing() {
    let app = TestApp::spawn().await;
    let (ada, _) = user(&app, "ada@example.com", "personal").await;
    let (bob, _) = user(&app, "bob@example.com", "personal").await;
    let (free, _) = user(&app, "free@example.com", "free").await;
    let (_, req) = csr("x");
    let v = issued(
        &app,
        &ada,
        &[("name", "laptop"), ("kind", "device"), ("csr", &req)],
    )
    .await;
    let id = v["id"].as_i64().unwrap().to_string();
    let ca_id = overview(&app, &ada).await["ca"]["id"].as_i64().unwrap();

    let downloads = [
        format!("/certificates/download/{id}/cert.pem"),
        format!("/certificates/download/{id}/chain.pem"),
        format!("/certificates/ca/{ca_id}/root.pem"),
    ];
    for path in &downloads {
        assert_eq!(
            download(&app, &ada, path).await.status(),
            StatusCode::OK,
            "{path}"
        );
        let res = download(&app, &bob, path).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(res.headers()["x-error-code"], "NOT_FOUND");
        assert!(!res.text().await.unwrap().contains("BEGIN"), "{path}");
        assert_eq!(
            download(&app, &new_client(), path).await.status(),
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    for action in ["/api/certs/revoke", "/api/certs/renew"] {
        let f = failure(app.post_form(&bob, action, &[("id", &id)]).await).await;
        assert!(f.is("NOT_FOUND"), "{action}: {f:?}");
    }
    let bob_page = overview(&app, &bob).await;
    assert!(bob_page["ca"].is_null() && bob_page["certs"].as_array().unwrap().is_empty());
    assert_eq!(
        app.count("SELECT COUNT(*) FROM certificates WHERE revoked_at IS NOT NULL")
            .await,
        0
    );

    // A free plan: refused with its code, and no CA is made.
    let (_, req) = csr("free");
    let f = failure(
        issue(
            &app,
            &free,
            &[("name", "phone"), ("kind", "device"), ("csr", &req)],
        )
        .await,
    )
    .await;
    assert!(
        f.is("CERTS_NOT_IN_PLAN") && f.status == StatusCode::FORBIDDEN,
        "{f:?}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM cert_authorities").await, 1);
    assert_eq!(overview(&app, &free).await["allowed"], false);

    // The limit counts live certificates: a revoked one frees its place.
    let limit = 25;
    for i in 1..limit {
        let (_, req) = csr("n");
        issued(
            &app,
            &ada,
            &[
                ("name", &format!("d{i}")),
                ("kind", "device"),
                ("csr", &req),
            ],
        )
        .await;
    }
    let (_, req) = csr("n");
    let f = failure(
        issue(
            &app,
            &ada,
            &[("name", "one more"), ("kind", "device"), ("csr", &req)],
        )
        .await,
    )
    .await;
    assert!(
        f.is("CERT_LIMIT_EXCEEDED") && f.limit == Some(limit),
        "{f:?}"
    );
    let res = app
        .post_form(&ada, "/api/certs/revoke", &[("id", &id)])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    issued(
        &app,
        &ada,
        &[("name", "one more"), ("kind", "device"), ("csr", &req)],
    )
    .await;

    // A downgrade keeps what exists but allows nothing new (renewals included).
    set_plan(&app, "ada@example.com", "free").await;
    let (_, req) = csr("late");
    let f = failure(
        issue(
            &app,
            &ada,
            &[("name", "late"), ("kind", "device"), ("csr", &req)],
        )
        .await,
    )
    .await;
    assert!(f.is("CERTS_NOT_IN_PLAN"), "{f:?}");
    let page = overview(&app, &ada).await;
    assert_eq!(page["live"], limit);
    let live_id = page["certs"][0]["id"].as_i64().unwrap().to_string();
    let f = failure(
        app.post_form(&ada, "/api/certs/renew", &[("id", &live_id)])
            .await,
    )
    .await;
    assert!(f.is("CERTS_NOT_IN_PLAN"), "{f:?}");
    assert_eq!(
        download(
            &app,
            &ada,
            &format!("/certificates/download/{live_id}/cert.pem")
        )
        .await
        .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn bad_requests_are_refused_with_codes_and_store_nothing() {
    let app = TestApp::spawn().await;
    let (c, uid) = user(&app, "ada@example.com", "business").await;
    home_device(&app, uid, "printer", "192.168.1.30").await;

    // A CSR whose subject was changed after signing: the signature fails.
    let (_, good) = csr("victim");
    let der = STANDARD
        .decode(
            good.lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .unwrap();
    let at = der.windows(6).position(|w| w == b"victim").unwrap();
    let mut tampered = der.clone();
    tampered[at + 5] = b'n';
    let tampered = format!(
        "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
        STANDARD.encode(tampered)
    );
    let (_, p384) = csr_with("p384", &PKCS_ECDSA_P384_SHA384);
    let oversized = format!(
        "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
        "A".repeat(9000)
    );
    let suffix = format!("u{uid}.tv.home.arpa");
    let others = format!("nas.u{}.tv.home.arpa", uid + 1);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("kind", "device"), ("csr", &tampered)], "CSR_INVALID"),
        (vec![("kind", "device"), ("csr", "-----BEGIN CERTIFICATE REQUEST-----\nbm90IGEgY3Ny\n-----END CERTIFICATE REQUEST-----")], "CSR_INVALID"),
        (vec![("kind", "device"), ("csr", &p384)], "CSR_KEY_UNSUPPORTED"),
        (vec![("kind", "device"), ("csr", &oversized)], "CSR_TOO_LARGE"),
        (vec![("kind", "service"), ("names", "example.com"), ("csr", &good)], "CERT_NAME_NOT_ALLOWED"),
        (vec![("kind", "service"), ("names", &others), ("csr", &good)], "CERT_NAME_NOT_ALLOWED"),
        (vec![("kind", "service"), ("names", "printer 192.168.1.31"), ("csr", &good)], "CERT_NAME_NOT_ALLOWED"),
        (vec![("kind", "service"), ("names", "*.printer"), ("csr", &good)], "CERT_NAME_NOT_ALLOWED"),
        (vec![("kind", "service"), ("names", "bad_name.example"), ("csr", &good)], "CERT_NAME_INVALID"),
        (vec![("kind", "service"), ("csr", &good)], "CERT_NAMES_REQUIRED"),
        (vec![("kind", "device"), ("password", "short")], "PKCS12_PASSWORD_TOO_SHORT"),
        (vec![("kind", "gadget"), ("csr", &good)], "VALIDATION_FAILED"),
    ];
    for (mut fields, code) in cases {
        fields.push(("name", "thing"));
        let f = failure(issue(&app, &c, &fields).await).await;
        assert!(f.is(code), "{fields:?}: expected {code}, got {f:?}");
    }
    // A request body far over the cap never reaches the handler.
    let huge = "A".repeat(2 << 20);
    let res = issue(
        &app,
        &c,
        &[("name", "x"), ("kind", "device"), ("csr", &huge)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(app.count("SELECT COUNT(*) FROM certificates").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM cert_authorities").await,
        0,
        "no CA for refused requests"
    );
    // The same names the user may claim are accepted.
    issued(
        &app,
        &c,
        &[
            ("name", "printer"),
            ("kind", "service"),
            (
                "names",
                &format!("printer printer.local 192.168.1.30 *.{suffix}"),
            ),
            ("csr", &good),
        ],
    )
    .await;
}
