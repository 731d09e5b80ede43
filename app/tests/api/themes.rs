//! Themes: rendered into every page, edited by admins, validated.

use reqwest::StatusCode;

use crate::helpers::{failure, new_client, redirected, TestApp};

async fn dark_theme_id(app: &TestApp) -> String {
    let id: i64 = sqlx::query_scalar("SELECT id FROM themes WHERE slug = 'truevault-dark'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    id.to_string()
}

#[tokio::test]
async fn the_active_theme_is_rendered_into_the_page() {
    let app = TestApp::spawn().await;
    let html = app.get_html(&new_client(), "/").await;
    assert!(html.contains("--colors-primary:#00d9ff;"));
    assert!(html.contains("--gradients-primary:linear-gradient(90deg, #00d9ff, #00ff88);"));
    assert!(html.contains("--cards-border-radius:14px;"));
}

#[tokio::test]
async fn an_admin_changes_a_colour_and_every_page_follows() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in_admin("admin@example.com").await;
    let id = dark_theme_id(&app).await;
    let res = app
        .post_form(
            &admin,
            "/api/admin/theme_set",
            &[
                ("theme_id", &id),
                ("category", "colors"),
                ("name", "primary"),
                ("value", "#123456"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = app.get_html(&new_client(), "/").await;
    assert!(
        html.contains("--colors-primary:#123456;"),
        "visitors see the new colour"
    );
    assert!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'theme.variable_set'")
            .await
            == 1
    );
}

#[tokio::test]
async fn theme_values_cannot_inject_markup() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in_admin("admin@example.com").await;
    let id = dark_theme_id(&app).await;
    for (name, value) in [
        ("primary", "red;}</style><script>alert(1)</script>"),
        ("primary", "url(https://evil.example/x)"),
        ("primary", "red; background: blue"),
        ("bad name", "red"),
    ] {
        let res = app
            .post_form(
                &admin,
                "/api/admin/theme_set",
                &[
                    ("theme_id", &id),
                    ("category", "colors"),
                    ("name", name),
                    ("value", value),
                ],
            )
            .await;
        assert!(!res.status().is_success(), "{value} must be refused");
        assert!(!res.text().await.unwrap().is_empty());
    }
    let value: String = sqlx::query_scalar(
        "SELECT value FROM theme_variables v JOIN themes t ON t.id = v.theme_id WHERE t.slug = 'truevault-dark' AND v.category = 'colors' AND v.name = 'primary'",
    )
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    assert_eq!(value, "#00d9ff", "nothing changed");
    assert!(!app
        .get_html(&new_client(), "/")
        .await
        .contains("<script>alert"));
}

#[tokio::test]
async fn only_admins_edit_themes_and_users_pick_published_ones() {
    let app = TestApp::spawn().await;
    let user = app.signed_in_user("u@example.com").await;
    let id = dark_theme_id(&app).await;
    let res = app
        .post_form(
            &user,
            "/api/admin/theme_set",
            &[
                ("theme_id", &id),
                ("category", "colors"),
                ("name", "primary"),
                ("value", "#000000"),
            ],
        )
        .await;
    assert!(!res.status().is_success());
    assert!(failure(res).await.is("FORBIDDEN"));

    // The user picks the light theme: their pages change, others' do not.
    let res = app
        .post_form(&user, "/api/themes/choose", &[("slug", "truevault-light")])
        .await;
    assert!(redirected(&res), "{}", res.status());
    assert!(app
        .get_html(&user, "/dashboard")
        .await
        .contains("--colors-background:#f6f7fb;"));
    assert!(app
        .get_html(&new_client(), "/")
        .await
        .contains("--colors-background:#0f0f1a;"));
    // An unpublished or unknown theme cannot be picked.
    let res = app
        .post_form(&user, "/api/themes/choose", &[("slug", "nope")])
        .await;
    let f = failure(res).await;
    assert_eq!(
        (f.code.as_str(), f.field.as_deref()),
        ("VALIDATION_FAILED", Some("slug"))
    );
}

#[tokio::test]
async fn admins_create_and_activate_a_theme() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in_admin("admin@example.com").await;
    let dark = dark_theme_id(&app).await;
    let res = app
        .post_form(
            &admin,
            "/api/admin/theme_create",
            &[("name", "Ocean"), ("slug", "ocean"), ("copy_from", &dark)],
        )
        .await;
    assert!(redirected(&res), "{}", res.status());
    let id: i64 = sqlx::query_scalar("SELECT id FROM themes WHERE slug = 'ocean'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM theme_variables WHERE theme_id = {id}"
        ))
        .await,
        24
    );
    let css = app
        .get(&admin, &format!("/theme-preview/{id}.css"))
        .await
        .text()
        .await
        .unwrap();
    assert!(css.starts_with(".theme-preview{--colors-primary:"));
    assert_eq!(
        app.get(&new_client(), &format!("/theme-preview/{id}.css"))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    app.post_form(
        &admin,
        "/api/admin/theme_set",
        &[
            ("theme_id", &id.to_string()),
            ("category", "colors"),
            ("name", "primary"),
            ("value", "#0a0b0c"),
        ],
    )
    .await;
    let res = app
        .post_form(
            &admin,
            "/api/admin/theme_activate",
            &[("id", &id.to_string())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM themes WHERE is_active = 1")
            .await,
        1
    );
    assert!(app
        .get_html(&new_client(), "/")
        .await
        .contains("--colors-primary:#0a0b0c;"));
    // Duplicate slug is a clear error.
    let res = app
        .post_form(
            &admin,
            "/api/admin/theme_create",
            &[("name", "Again"), ("slug", "ocean")],
        )
        .await;
    assert!(failure(res).await.is("CONFLICT"), "the slug exists");
}
