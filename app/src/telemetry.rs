//! Structured logs with `tracing`: human-readable by default, JSON lines
//! with `log_json`. `RUST_LOG` overrides the filter.

use std::io::IsTerminal;

use tracing_subscriber::{fmt, prelude::*, EnvFilter};

pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info,lettre=warn"));
    let registry = tracing_subscriber::registry().with(filter);
    let res = if json {
        registry
            .with(fmt::layer().json().with_current_span(false))
            .try_init()
    } else {
        // Colour only on a terminal: in a file or the journal the escape
        // codes are noise.
        registry
            .with(
                fmt::layer()
                    .compact()
                    .with_ansi(std::io::stdout().is_terminal()),
            )
            .try_init()
    };
    // A second init (tests start several apps) is harmless.
    let _ = res;
}
