//! The HTTP API v1 (axum).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use casefile_domain::StorageError;
use casefile_domain::legal::{
    AuditTrailQuery, CaseFile, CaseId, FileId, HoldId, LegalFileService, ListCases, ListFiles,
    MemberCase, NewHold, NewUpload, Role, ServiceError, UserId,
};
use casefile_domain::storage::{ByteRange, ByteStream, ObjectStorage};
use futures::TryStreamExt;
use serde_json::json;
use tower_http::timeout::RequestBodyTimeoutLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{
    AuditEntryView, AuditPage, CaseList, CaseView, ConsistencyProofView, ConsistencyQuery,
    DirectUploadQuery, DownloadUrl, ErrorBody, FileList, FileListQuery, FileView, Health, HoldList,
    HoldView, InclusionProofView, MemberList, MemberView, NewCase, NewHoldBody, PageQuery,
    ProofQuery, PutMember, ReleaseBody, RetentionBody, UploadInstructions, UploadRequest,
    UploadStarted,
};
use crate::auth::Authenticator;

mod cases;
pub(crate) mod error;
pub(crate) mod extract;
pub(crate) mod files;
mod holds;
mod members;
pub(crate) mod state;

use cases::*;
pub use error::ApiError;
pub(crate) use extract::body_stream;
pub use extract::{ApiJson, ApiQuery, Caller, CasePath, FilePath, HoldPath, MemberPath};
use files::*;
use holds::*;
use members::*;
pub use state::{AppState, Profiles};

/// The `{case_id}` path parameter's documentation.
const CASE_ID: &str = "the case's id";
/// The `{file_id}` path parameter's documentation.
const FILE_ID: &str = "the file's id";

/// How long a probe waits for the database and the store.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Whether the store and the database answer, each within [`PROBE_TIMEOUT`].
async fn probe(s: &AppState) -> (bool, bool) {
    let storage = async {
        let Ok(key) = casefile_domain::storage::ObjectKey::new("casefile-health/probe") else {
            return false;
        };
        matches!(
            tokio::time::timeout(PROBE_TIMEOUT, s.storage.head(&key)).await,
            Ok(Ok(_))
        )
    };
    let database = async {
        matches!(
            tokio::time::timeout(PROBE_TIMEOUT, s.repository.get_case(CaseId::new())).await,
            Ok(Ok(_))
        )
    };
    tokio::join!(storage, database)
}

/// Whether storage and database answer (no token).
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses(
        (status = 200, description = "both answer", body = Health),
        (status = 503, description = "one does not", body = Health),
    ))]
async fn healthz(State(s): State<AppState>) -> Response {
    let (storage, database) = probe(&s).await;
    let status = if storage && database {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(Health { storage, database })).into_response()
}

/// Liveness: the process answers (no token, touches nothing). A failing liveness probe means
/// restart the process.
#[utoipa::path(get, path = "/livez", tag = "operations",
    responses((status = 200, description = "the process answers")))]
async fn livez() -> Response {
    (StatusCode::OK, Json(json!({ "status": "ok" }))).into_response()
}

/// Readiness: the database and the store answer within 2 s, and the schema is current (no
/// token). A failing readiness probe means send this instance no traffic for now; it becomes
/// ready again by itself when they answer.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "ready", body = crate::api::Readiness),
        (status = 503, description = "the database or the store does not answer", body = crate::api::Readiness),
    ))]
async fn readyz(State(s): State<AppState>) -> Response {
    let (storage, database) = probe(&s).await;
    let ready = crate::api::Readiness {
        database,
        storage,
        migrations: true,
    };
    let status = if storage && database {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(ready)).into_response()
}

/// This document (no token).
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "the OpenAPI 3.1 document of this API",
        content_type = "application/json")))]
#[allow(dead_code)] // documents the route `router` serves with the generated document
fn openapi_json() {}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "not_found",
        "this route does not answer this method",
    )
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

/// The OpenAPI document's fixed parts; the `/v1` and `/healthz` operations are added from the
/// handlers the router serves.
#[derive(OpenApi)]
#[openapi(
    info(title = "casefile", description = "Legal case files: cases shared by members with roles, verified uploads and downloads, audit trail."),
    paths(openapi_json),
    modifiers(&BearerAuth),
    tags(
        (name = "cases", description = "Cases and their audit trail"),
        (name = "files", description = "Uploads, downloads and listings of a case's files"),
        (name = "members", description = "Who works a case, and in which role"),
        (name = "holds", description = "Legal holds and retention: what cannot be deleted"),
        (name = "blobs", description = "The local store's presigned URLs"),
        (name = "operations", description = "Probes and this document"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("HS256, `sub` = user UUID, `exp` required"))
                    .build(),
            ),
        );
    }
}

/// The router of the API, and the OpenAPI document of what it serves. Streamed bodies have no
/// size limit here (the service and the store enforce the declared or signed size) but must not
/// stall for longer than `body_idle`.
fn routes(body_idle: std::time::Duration) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let streamed = OpenApiRouter::new()
        .routes(routes!(direct_upload, list_files))
        // Completion hashes the whole object: minutes for a large file, bounded by the store.
        .routes(routes!(complete))
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyTimeoutLayer::new(body_idle));
    let (router, mut api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(create_case, list_cases))
        .routes(routes!(get_case))
        .routes(routes!(export_zip))
        .routes(routes!(init_upload))
        .routes(routes!(audit))
        .routes(routes!(list_members))
        .routes(routes!(put_member, remove_member))
        .routes(routes!(place_hold, list_holds))
        .routes(routes!(release_hold))
        .routes(routes!(set_retention))
        .routes(routes!(set_file_retention))
        .routes(routes!(checkpoint))
        .routes(routes!(entry_proof))
        .routes(routes!(consistency))
        .routes(routes!(get_file, delete_file))
        .routes(routes!(content))
        .routes(routes!(download_url))
        .routes(routes!(healthz))
        .routes(routes!(livez))
        .routes(routes!(readyz))
        .layer(DefaultBodyLimit::max(64 * 1024))
        // JSON routes answer within 30 s (streamed routes are bounded by the client's pace).
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            std::time::Duration::from_secs(30),
        ))
        .merge(streamed)
        .split_for_parts();
    api.info.version = env!("CARGO_PKG_VERSION").to_owned();
    #[cfg(feature = "fs")]
    let router = {
        api.merge(crate::blobs::BlobsDoc::openapi());
        router.route(
            "/v1/blobs/{*key}",
            get(crate::blobs::blob)
                .put(crate::blobs::blob)
                .layer::<_, std::convert::Infallible>(DefaultBodyLimit::disable())
                .layer::<_, std::convert::Infallible>(RequestBodyTimeoutLayer::new(body_idle)),
        )
    };
    (router, api)
}

/// The OpenAPI document of the API (what `GET /openapi.json` serves).
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes(std::time::Duration::from_secs(60)).1
}

/// Cross-origin access for the configured origins (none: no CORS headers at all, so a browser
/// keeps other sites' pages out). Allowed: the API's methods, the headers its clients send, and
/// the request id and content headers readable in return. Credentials are bearer tokens, never
/// cookies: `Access-Control-Allow-Credentials` is not sent.
fn cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use axum::http::Method;
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::RANGE,
                header::HeaderName::from_static("x-request-id"),
                header::HeaderName::from_static("x-content-sha256"),
            ])
            .expose_headers([
                header::HeaderName::from_static("x-request-id"),
                header::CONTENT_RANGE,
                header::CONTENT_LENGTH,
                header::CONTENT_DISPOSITION,
            ])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// The router of the API.
pub fn router(state: AppState) -> Router {
    let cors = cors(&state.cors_allowed_origins);
    let (router, api) = routes(state.body_idle_timeout);
    // Rendered once; serialising this document cannot fail (string keys, no floats).
    let document = bytes::Bytes::from(api.to_json().unwrap_or_default());
    let app = router
        .route("/", get(crate::web::index))
        .route("/ui/config.json", get(crate::web::config))
        .route("/ui/{*file}", get(crate::web::asset))
        .route("/docs", get(crate::web::docs))
        .route(
            "/openapi.json",
            get(move || {
                let document = document.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], document) }
            }),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // After routing (the route template is known) and around everything else: request id,
        // access line, request metrics.
        .layer(axum::middleware::from_fn(crate::observe::access))
        // Spans name the method and the path only: a query may be a capability (the
        // signature of a presigned URL) and must never reach a log.
        .layer(
            tower_http::trace::TraceLayer::new_for_http().make_span_with(
                |request: &axum::http::Request<Body>| {
                    tracing::debug_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                    )
                },
            ),
        );
    // Outermost: a preflight is answered before routing, and every answer carries the headers.
    match cors {
        Some(cors) => app.layer(cors),
        None => app,
    }
    .with_state(state)
}
