//! Result messages under forms: green for success, red for errors.

use leptos::prelude::*;
use leptos::reactive::signal::MappedSignal;

use crate::error::AppError;

/// The user-facing text of a server function error: its public message
/// (internal causes never reach the browser).
pub fn error_text(e: &AppError) -> String {
    e.to_string()
}

/// A refusal as the user sees it: the message, and next to it the link to
/// where it is fixed when its code has one (`refusal_fix`), so a plan
/// limit is one click from the upgrade.
pub fn error_notice(e: &AppError) -> impl IntoView + use<> {
    let code = e.code();
    let fix = refusal_fix(code).map(|(href, label)| {
        view! { " " <a class="notice-fix" href=href data-fix=code>{label}</a> }
    });
    view! { <p class="notice error" role="alert" data-code=code>{error_text(e)}{fix}</p> }
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
            Err(e) => Some(error_notice(&e).into_any()),
        })
    }
}

/// Shows only the error of an action whose success output is not a message.
#[component]
pub fn ActionError<T>(value: MappedSignal<Option<Result<T, AppError>>>) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
{
    move || value.get().and_then(|r| r.err()).map(|e| error_notice(&e))
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
            let err = leptos::server_fn::error::ServerFnUrlError::<AppError>::decode_err(e.err());
            error_notice(&err)
        })
}

/// `1 device`, `3 devices`: the count and the word, said properly.
pub fn plural(n: impl Into<i64>, one: &str, many: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Where a refusal is fixed, by its stable error code: a plan limit links
/// to the plans, a lapsed session to signing in.
pub fn refusal_fix(code: &str) -> Option<(&'static str, &'static str)> {
    match code {
        "DEVICE_LIMIT_EXCEEDED"
        | "IDENTITY_LIMIT_EXCEEDED"
        | "CAMERA_LIMIT_EXCEEDED"
        | "MESH_NOT_IN_PLAN"
        | "MESH_MEMBER_LIMIT" => Some(("/billing", "Upgrade your plan")),
        "UNAUTHENTICATED" => Some(("/login", "Sign in again")),
        _ => None,
    }
}

/// Civil date and time of a unix timestamp: (year, month 1-12, day,
/// hour, minute), without a date library in the browser bundle.
fn civil(ts: i64) -> (i64, i64, i64, i64, i64) {
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
    (y, m, d, secs / 3600, (secs % 3600) / 60)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Formats a unix timestamp as `YYYY-MM-DD HH:MM UTC`: the exact time,
/// shown on hover and in print.
pub fn format_time(ts: i64) -> String {
    if ts <= 0 {
        return "—".into();
    }
    let (y, m, d, h, min) = civil(ts);
    format!("{y:04}-{m:02}-{d:02} {h:02}:{min:02} UTC")
}

/// A day as people write it: `3 Dec`, or `3 Dec 2025` outside `now`'s year.
pub fn format_day(ts: i64, now: i64, offset_secs: i64) -> String {
    let (y, m, d, ..) = civil(ts + offset_secs);
    let (ny, ..) = civil(now + offset_secs);
    let month = MONTHS[(m - 1) as usize];
    if y == ny {
        format!("{d} {month}")
    } else {
        format!("{d} {month} {y}")
    }
}

/// A past moment as people read it, relative to `now` in a time zone
/// `offset_secs` east of UTC: `12 s ago`, `5 min ago`, `today 14:05`,
/// `yesterday 14:05`, `3 Dec 14:05`; future moments read `in 3 days`.
pub fn human_time(ts: i64, now: i64, offset_secs: i64) -> String {
    if ts <= 0 {
        return "—".into();
    }
    let ago = now - ts;
    if ago < 0 {
        let ahead = -ago;
        return match ahead {
            0..=59 => "in a moment".into(),
            60..=3599 => format!("in {} min", ahead / 60),
            3600..=86_399 => format!("in {} h", ahead / 3600),
            _ => format!("on {}", format_day(ts, now, offset_secs)),
        };
    }
    if ago < 5 {
        return "just now".into();
    }
    if ago < 60 {
        return format!("{ago} s ago");
    }
    if ago < 3600 {
        return format!("{} min ago", ago / 60);
    }
    let day = (ts + offset_secs).div_euclid(86_400);
    let today = (now + offset_secs).div_euclid(86_400);
    let (.., h, min) = civil(ts + offset_secs);
    match today - day {
        0 => format!("today {h:02}:{min:02}"),
        1 => format!("yesterday {h:02}:{min:02}"),
        _ => format!("{} {h:02}:{min:02}", format_day(ts, now, offset_secs)),
    }
}

/// Now and the viewer's time zone (seconds east of UTC). The server renders
/// in UTC; the browser knows the viewer's zone and re-renders on hydration.
pub fn clock_now() -> (i64, i64) {
    #[cfg(feature = "hydrate")]
    {
        let d = web_sys::js_sys::Date::new_0();
        (
            (d.get_time() / 1000.0) as i64,
            -(d.get_timezone_offset() as i64) * 60,
        )
    }
    #[cfg(not(feature = "hydrate"))]
    {
        #[cfg(feature = "ssr")]
        let now = crate::db::now();
        #[cfg(not(feature = "ssr"))]
        let now = 0;
        (now, 0)
    }
}

/// Whether times show exactly, in UTC, instead of in the viewer's words;
/// switched in the footer.
#[derive(Clone, Copy)]
pub struct ExactTimes(pub RwSignal<bool>);

/// The footer's switch between times in words and exact UTC times. It
/// works only once the page is live, on every page.
#[component]
pub fn TimeSwitch() -> impl IntoView {
    let exact = expect_context::<ExactTimes>().0;
    view! {
        <button type="button" class="btn btn-ghost small" data-testid="time-switch"
            aria-pressed=move || exact.get().to_string()
            on:click=move |_| exact.update(|e| *e = !*e)>
            {move || if exact.get() { "Times: exact, in UTC" } else { "Times: in your time zone" }}
        </button>
    }
}

/// A moment in the viewer's words (`5 min ago`, `yesterday 14:05`), with
/// the exact UTC time on hover. Rendered in UTC on the server, then in the
/// viewer's zone once the page is live.
#[component]
pub fn Time(ts: i64, #[prop(optional)] day_only: bool) -> impl IntoView {
    let render = move |(now, offset): (i64, i64)| {
        if day_only {
            format_day(ts, now, offset)
        } else {
            let t = human_time(ts, now, offset);
            if offset == 0 && !t.ends_with("ago") && !t.starts_with("in ") && t != "just now" {
                format!("{t} UTC")
            } else {
                t
            }
        }
    };
    let text = RwSignal::new(render((clock_now().0, 0)));
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| text.set(render(clock_now())));
    if ts <= 0 {
        return view! { <span>"—"</span> }.into_any();
    }
    // The footer's switch shows exact UTC times everywhere instead.
    let utc = use_context::<ExactTimes>().map(|e| e.0);
    let shown = move || {
        if utc.is_some_and(|u| u.get()) {
            format_time(ts)
        } else {
            text.get()
        }
    };
    view! { <time datetime=ts.to_string() title=format_time(ts)>{shown}</time> }.into_any()
}

/// Bytes in words: `sent 2.3 KiB · received 2.1 KiB` (as the device sees it).
pub fn traffic_text(sent: i64, received: i64) -> String {
    use crate::vpn::model::format_bytes;
    format!(
        "sent {} · received {}",
        format_bytes(sent),
        format_bytes(received)
    )
}

/// A duration as `2 h 05 min`, `12 min`, `40 s`.
pub fn duration_text(secs: i64) -> String {
    let secs = secs.max(0);
    if secs < 60 {
        format!("{secs} s")
    } else if secs < 3600 {
        format!("{} min", secs / 60)
    } else {
        format!("{} h {:02} min", secs / 3600, (secs % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_times() {
        assert_eq!(format_time(0), "—");
        assert_eq!(format_time(1_700_000_000), "2023-11-14 22:13 UTC");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00 UTC");
    }

    #[test]
    fn times_read_as_people_say_them() {
        // 2023-11-14 22:13:20 UTC
        let now = 1_700_000_000;
        assert_eq!(human_time(now - 2, now, 0), "just now");
        assert_eq!(human_time(now - 12, now, 0), "12 s ago");
        assert_eq!(human_time(now - 5 * 60, now, 0), "5 min ago");
        assert_eq!(human_time(now - 3 * 3600, now, 0), "today 19:13");
        assert_eq!(human_time(now - 86_400, now, 0), "yesterday 22:13");
        assert_eq!(human_time(now - 5 * 86_400, now, 0), "9 Nov 22:13");
        assert_eq!(human_time(now - 400 * 86_400, now, 0), "10 Oct 2022 22:13");
        // Two hours east of UTC it is already the 15th: that evening was yesterday.
        assert_eq!(human_time(now - 3 * 3600, now, 7200), "yesterday 21:13");
        assert_eq!(human_time(now + 3 * 86_400, now, 0), "on 17 Nov");
        assert_eq!(traffic_text(2355, 2150), "sent 2.3 KiB · received 2.1 KiB");
        assert_eq!(duration_text(7500), "2 h 05 min");
        assert_eq!(plural(1, "device", "devices"), "1 device");
        assert_eq!(plural(0, "device", "devices"), "0 devices");
        assert_eq!(
            refusal_fix("DEVICE_LIMIT_EXCEEDED").map(|f| f.0),
            Some("/billing")
        );
        assert_eq!(refusal_fix("VALIDATION_FAILED"), None);
    }
}
