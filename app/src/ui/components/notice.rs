//! Result messages under forms: green for success, red for errors.

use leptos::prelude::*;
use leptos::reactive::signal::MappedSignal;

use crate::error::AppError;

/// The user-facing text of a server function error: its public message
/// (internal causes never reach the browser).
pub fn error_text(e: &AppError) -> String {
    e.to_string()
}

/// Shows the last result of an action whose output displays as a message.
#[component]
pub fn ActionNotice<T>(value: MappedSignal<Option<Result<T, AppError>>>) -> impl IntoView
where
    T: std::fmt::Display + Clone + Send + Sync + 'static,
{
    move || {
        value.get().map(|r| match r {
            Ok(msg) => {
                let text = msg.to_string();
                (!text.is_empty()).then(|| {
                    view! { <p class="notice success" role="status">{text}</p> }.into_any()
                })
            }
            Err(e) => {
                Some(view! { <p class="notice error" role="alert" data-code=e.code()>{error_text(&e)}</p> }.into_any())
            }
        })
    }
}

/// Shows only the error of an action whose success output is not a message.
#[component]
pub fn ActionError<T>(value: MappedSignal<Option<Result<T, AppError>>>) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
{
    move || {
        value
            .get()
            .and_then(|r| r.err())
            .map(|e| view! { <p class="notice error" role="alert" data-code=e.code()>{error_text(&e)}</p> })
    }
}

/// The error of a plain (no-JavaScript) form post to `path`, carried back
/// in the page URL. Actions created inside a route pick this up by
/// themselves; the sign-in actions live above the routes, so their pages
/// show it with this.
#[component]
pub fn UrlActionError(path: &'static str) -> impl IntoView {
    use_context::<leptos::server::ServerActionError>()
        .filter(|e| e.path() == path)
        .map(|e| {
            let err =
                leptos::server_fn::error::ServerFnUrlError::<AppError>::decode_err(e.err());
            view! { <p class="notice error" role="alert" data-code=err.code()>{error_text(&err)}</p> }
        })
}

/// Formats a unix timestamp as `YYYY-MM-DD HH:MM UTC` without a date library
/// in the browser bundle.
pub fn format_time(ts: i64) -> String {
    if ts <= 0 {
        return "—".into();
    }
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        (secs % 3600) / 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_utc_times() {
        assert_eq!(super::format_time(0), "—");
        assert_eq!(super::format_time(1_700_000_000), "2023-11-14 22:13 UTC");
        assert_eq!(super::format_time(951_782_400), "2000-02-29 00:00 UTC");
    }
}
