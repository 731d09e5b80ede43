//! First-run administrator: while no admin exists, the portal writes a
//! one-time set-up link to `data_dir/first-run-admin.txt` (mode 0600; only
//! whoever can read the server's files can use it). The link's page creates
//! the administrator and the file is removed.

use std::path::{Path, PathBuf};

use subtle::ConstantTimeEq;

use super::{model::Role, repo, service, tokens};
use crate::{error::AppError, state::AppState};

pub fn file(data_dir: &Path) -> PathBuf {
    data_dir.join("first-run-admin.txt")
}

/// Writes a fresh set-up link when there is no administrator; returns the
/// file's path if it did.
pub async fn prepare(state: &AppState) -> Result<Option<PathBuf>, AppError> {
    if repo::count_admins(&state.db).await? > 0 {
        let _ = std::fs::remove_file(file(&state.config.data_dir));
        return Ok(None);
    }
    let token = tokens::random_token();
    let path = file(&state.config.data_dir);
    let text = format!(
        "Open this link once to create the TrueVault administrator:\n{}/setup?token={token}\n",
        state.config.public_url_trimmed()
    );
    crate::secrets::write_private(&path, text.as_bytes()).map_err(AppError::internal)?;
    Ok(Some(path))
}

fn stored_token(data_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(file(data_dir)).ok()?;
    let start = text.find("token=")? + "token=".len();
    Some(text[start..].trim().to_string())
}

pub async fn create_admin(
    state: &AppState,
    token: &str,
    email: &str,
    password: &str,
) -> Result<(), AppError> {
    let expected = stored_token(&state.config.data_dir).ok_or(AppError::InvalidToken)?;
    if !tokens::looks_like_token(token) || !bool::from(expected.as_bytes().ct_eq(token.as_bytes()))
    {
        return Err(AppError::InvalidToken);
    }
    if repo::count_admins(&state.db).await? > 0 {
        return Err(AppError::InvalidToken);
    }
    service::create_verified_user(&state.db, email, password, Role::Admin).await?;
    let _ = std::fs::remove_file(file(&state.config.data_dir));
    Ok(())
}
