//! What an operator sees of a running server: request ids, one access line per request, and
//! Prometheus metrics.
//!
//! - Every request gets an id: the client's `x-request-id` when it is 1–128 visible ASCII
//!   characters, else a new one. It is echoed in the `x-request-id` response header and in
//!   every error body, and named by the access line.
//! - The access line (target `casefile::access`, level info) is written when the response body
//!   has been sent — or abandoned — so that a streamed download's duration and bytes are whole.
//!   It names the route template (`/v1/files/{file_id}`), never the path or the query: a query
//!   may be a capability (a presigned URL's signature).
//! - Metrics go to the process's `metrics` recorder, installed by [`install_metrics`]; without
//!   one (embedding without `metrics.listen`) they cost nothing.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use casefile_domain::legal::UserId;
use http_body::{Frame, SizeHint};

/// The request id header.
pub const REQUEST_ID: &str = "x-request-id";

tokio::task_local! {
    static CURRENT_ID: Arc<str>;
}

/// The id of the request being handled on this task, if any (error bodies carry it).
pub fn current_request_id() -> Option<Arc<str>> {
    CURRENT_ID.try_with(Arc::clone).ok()
}

/// The client's request id when it is fit to echo and log: 1–128 visible ASCII characters (no
/// space, no control character).
pub fn accepted_request_id(value: Option<&HeaderValue>) -> Option<String> {
    let bytes = value?.as_bytes();
    let fits = (1..=128).contains(&bytes.len()) && bytes.iter().all(|b| (0x21..=0x7e).contains(b));
    fits.then(|| String::from_utf8_lossy(bytes).into_owned())
}

/// Who the request was authenticated as: the `Caller` extractor fills it, the access line reads
/// it.
#[derive(Clone, Default)]
pub struct CallerSlot(Arc<OnceLock<UserId>>);

impl CallerSlot {
    /// Notes the authenticated caller.
    pub fn set(&self, user: UserId) {
        let _ = self.0.set(user);
    }
}

/// The middleware: request id, access line, request metrics.
pub async fn access(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id: Arc<str> = accepted_request_id(request.headers().get(REQUEST_ID))
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
        .into();
    let route: Arc<str> = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .into();
    let method = request.method().clone();
    let caller = CallerSlot::default();
    request.extensions_mut().insert(caller.clone());
    let received = Arc::new(AtomicU64::new(0));
    let request = request.map(|body| {
        Body::new(Counted {
            inner: body,
            bytes: Arc::clone(&received),
            line: None,
            ended: false,
            length: None,
        })
    });
    let mut response = CURRENT_ID.scope(Arc::clone(&id), next.run(request)).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    // hyper stops polling a body once it has sent its declared length.
    let declared = response
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let head = method == Method::HEAD;
    let line = AccessLine {
        started,
        method,
        route,
        status: response.status(),
        id,
        caller,
        received,
        aborted: AtomicBool::new(false),
    };
    response.map(|body| {
        let length = if head {
            Some(0)
        } else {
            http_body::Body::size_hint(&body).exact().or(declared)
        };
        Body::new(Counted {
            inner: body,
            bytes: Arc::new(AtomicU64::new(0)),
            line: Some(line),
            ended: false,
            length,
        })
    })
}

/// What the access line says, written when the response body is dropped.
struct AccessLine {
    started: Instant,
    method: Method,
    route: Arc<str>,
    status: StatusCode,
    id: Arc<str>,
    caller: CallerSlot,
    received: Arc<AtomicU64>,
    aborted: AtomicBool,
}

impl AccessLine {
    fn write(&self, sent: u64, complete: bool) {
        let elapsed = self.started.elapsed();
        let received = self.received.load(Ordering::Relaxed);
        let user = self.caller.0.get().map(ToString::to_string);
        let complete = complete && !self.aborted.load(Ordering::Relaxed);
        tracing::info!(
            target: "casefile::access",
            method = %self.method,
            route = %self.route,
            status = self.status.as_u16(),
            duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            bytes_in = received,
            bytes_out = sent,
            user = %user.as_deref().unwrap_or("-"),
            request_id = %self.id,
            complete,
            "request"
        );
        let route = self.route.to_string();
        let method = self.method.as_str().to_owned();
        metrics::counter!(
            "casefile_http_requests_total",
            "method" => method.clone(),
            "route" => route.clone(),
            "status" => self.status.as_u16().to_string(),
        )
        .increment(1);
        metrics::histogram!(
            "casefile_http_request_duration_seconds",
            "method" => method,
            "route" => route.clone(),
        )
        .record(elapsed.as_secs_f64());
        metrics::counter!("casefile_http_received_bytes_total", "route" => route.clone())
            .increment(received);
        metrics::counter!("casefile_http_sent_bytes_total", "route" => route).increment(sent);
    }
}

/// A body that counts the bytes passing through it; a response body also writes the access line
/// when it is dropped (sent in full, or abandoned by the client).
struct Counted {
    inner: Body,
    bytes: Arc<AtomicU64>,
    line: Option<AccessLine>,
    ended: bool,
    /// The body's exact length when known: hyper stops polling once it has sent that much.
    length: Option<u64>,
}

impl http_body::Body for Counted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
                }
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(line) = &self.line {
                    line.aborted.store(true, Ordering::Relaxed);
                }
            }
            Poll::Ready(None) => self.ended = true,
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        if let Some(line) = self.line.take() {
            let sent = self.bytes.load(Ordering::Relaxed);
            let whole = self.ended
                || http_body::Body::is_end_stream(&self.inner)
                || self.length == Some(sent);
            line.write(sent, whole);
        }
    }
}

static PROMETHEUS: OnceLock<Result<metrics_exporter_prometheus::PrometheusHandle, String>> =
    OnceLock::new();

/// Installs the process's Prometheus recorder (once; later calls return the same handle).
///
/// # Errors
/// When another `metrics` recorder was installed in this process first.
pub fn install_metrics() -> Result<metrics_exporter_prometheus::PrometheusHandle, String> {
    PROMETHEUS.get_or_init(build_recorder).clone()
}

fn build_recorder() -> Result<metrics_exporter_prometheus::PrometheusHandle, String> {
    let seconds = [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
        300.0,
    ];
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Suffix("_seconds".into()),
            &seconds,
        )
        .map_err(|e| e.to_string())?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)
        .map_err(|e| format!("another metrics recorder is installed: {e}"))?;
    describe();
    Ok(handle)
}

/// The metrics' help texts.
fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "casefile_http_requests_total",
        "HTTP requests answered, by method, route template and status"
    );
    describe_histogram!(
        "casefile_http_request_duration_seconds",
        Unit::Seconds,
        "Time from a request's arrival to the end of its response body"
    );
    describe_counter!(
        "casefile_http_received_bytes_total",
        Unit::Bytes,
        "Request body bytes received (uploads through the server), by route"
    );
    describe_counter!(
        "casefile_http_sent_bytes_total",
        Unit::Bytes,
        "Response body bytes sent (downloads through the server), by route"
    );
    describe_counter!(
        "casefile_storage_operations_total",
        "Object store operations, by backend, operation and outcome"
    );
    describe_histogram!(
        "casefile_storage_operation_duration_seconds",
        Unit::Seconds,
        "Object store operation latency (a streamed read: until its first byte), by backend and operation"
    );
    describe_gauge!(
        "casefile_uploads_pending",
        "Uploads begun and neither completed nor failed, in every case"
    );
    describe_gauge!(
        "casefile_db_pool_connections",
        "This instance's database pool: connections in use and idle, by state"
    );
    describe_gauge!(
        "casefile_db_pool_waiting",
        "Requests of this instance waiting for a database connection"
    );
    describe_counter!(
        "casefile_purge_total",
        "Purge results: objects purged or failed, uploads expired, staging objects swept"
    );
    describe_counter!(
        "casefile_scrub_files_total",
        "Files the fixity scrub checked, by outcome (ok, failed: mismatched or missing, unreadable)"
    );
    describe_counter!(
        "casefile_scrub_bytes_total",
        Unit::Bytes,
        "Bytes the fixity scrub read"
    );
    describe_counter!(
        "casefile_jobs_total",
        "Background job runs on this instance, by job and outcome (ok, failed, skipped: another instance leads)"
    );
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn request_ids_are_echoed_only_when_harmless() {
        let ok = HeaderValue::from_static("abc-123_XYZ.9:/=");
        assert_eq!(
            accepted_request_id(Some(&ok)).as_deref(),
            Some("abc-123_XYZ.9:/=")
        );
        let long = HeaderValue::from_str(&"a".repeat(129)).unwrap();
        assert_eq!(accepted_request_id(Some(&long)), None, "too long");
        let spaced = HeaderValue::from_static("two words");
        assert_eq!(accepted_request_id(Some(&spaced)), None, "a space");
        let tab = HeaderValue::from_bytes(b"a\tb").unwrap();
        assert_eq!(accepted_request_id(Some(&tab)), None, "a control character");
        let high = HeaderValue::from_bytes(&[0x61, 0xc3, 0xa9]).unwrap();
        assert_eq!(accepted_request_id(Some(&high)), None, "not ASCII");
        let empty = HeaderValue::from_static("");
        assert_eq!(accepted_request_id(Some(&empty)), None);
        assert_eq!(accepted_request_id(None), None);
    }
}
