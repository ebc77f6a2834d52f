//! Structured JSON logs for functions and tools.

use tracing_subscriber::EnvFilter;

/// Installs a JSON log subscriber on stdout, filtered by `RUST_LOG` (default `info`).
///
/// Lambda ships stdout to CloudWatch Logs, where one JSON object a line is queryable with Logs
/// Insights. Spans are flattened into each line so that `eventId` and `traceId` sit beside the
/// message.
pub fn init() {
    init_with_default("info");
}

/// [`init`] with another default level, for tools whose output is meant for a person.
pub fn init_with_default(level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        .without_time()
        .try_init();
}
