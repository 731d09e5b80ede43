//! `truevault`: serve the portal, run migrations, administer accounts.

use std::io::BufRead;

use anyhow::Context;
use clap::Parser;
use truevault::{
    accounts::{model::Role, service},
    cli::{AdminCommand, Cli, Command},
    config::Config,
    db::Db,
    startup::{shutdown_signal, Application},
    telemetry,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load(cli.config.as_deref())?;
    telemetry::init(config.log_json);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(config)
                .await
                .context("starting the portal")?;
            let state = app.state.clone();
            tracing::info!(
                url = %state.config.public_url,
                listen = %state.config.listen,
                database = ?state.db.engine,
                smtp = state.config.smtp.is_some(),
                "TrueVault portal ready"
            );
            if let Some(path) = truevault::accounts::bootstrap::prepare(&state).await? {
                tracing::warn!(
                    file = %path.display(),
                    "no administrator yet: open the one-time set-up link in this file, \
                     or run `truevault admin create-admin --email you@example.com`"
                );
            }
            app.run_until(shutdown_signal()).await?;
        }
        Command::Node(args) => {
            truevault_node::run(args, shutdown_signal())
                .await
                .context("node agent stopped")?;
        }
        Command::Migrate => {
            let db = Db::connect(&config.database_url(), 2).await?;
            db.migrate().await?;
            println!("migrations applied ({:?})", db.engine);
        }
        Command::Admin(cmd) => {
            let db = Db::connect(&config.database_url(), 2).await?;
            db.migrate().await?;
            match cmd {
                AdminCommand::CreateAdmin { email } => {
                    let password = read_password()?;
                    let id = service::create_verified_user(&db, &email, &password, Role::Admin)
                        .await
                        .map_err(|e| anyhow::anyhow!("{}", e.public_message()))?;
                    println!("administrator {email} created (id {id})");
                }
                AdminCommand::ResetPassword { email } => {
                    let password = read_password()?;
                    service::admin_set_password(&db, &email, &password)
                        .await
                        .map_err(|e| anyhow::anyhow!("{}", e.public_message()))?;
                    println!("password of {email} changed; their sessions were signed out");
                }
            }
        }
    }
    Ok(())
}

/// One line from stdin, so passwords never appear in `ps` or shell history.
fn read_password() -> anyhow::Result<String> {
    eprintln!("password (12-128 characters), then Enter:");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
