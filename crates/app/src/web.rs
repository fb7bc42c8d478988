//! The page for people (`/`): static files compiled into the binary, on the API v1.
//!
//! Every answer carries a Content-Security-Policy without inline scripts or styles (`'self'`
//! only; uploads may go to the store's presigned URLs, hence `connect-src` beyond `'self'`),
//! `frame-ancestors 'none'`, `nosniff` and no referrer. The token is kept in the tab's
//! sessionStorage by the page, never in a URL.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The policy of the page.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self' https: http:; \
     form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const INDEX: &str = include_str!("../web/index.html");
const DOCS: &str = include_str!("../web/docs.html");
const DOCS_JS: &str = include_str!("../web/docs.js");
const APP_JS: &str = include_str!("../web/app.js");
const APP_CSS: &str = include_str!("../web/app.css");
const SHA256_JS: &str = include_str!("../web/vendor/sha256.min.js");
const SHA256_LICENSE: &str = include_str!("../web/vendor/sha256.LICENSE.txt");

fn page(content_type: &'static str, body: &'static str) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `GET /`.
pub async fn index() -> Response {
    page("text/html; charset=utf-8", INDEX)
}

/// The page's sign-in at the identity provider: authorization code with PKCE, as a public
/// client (no secret; the code verifier proves the exchange).
#[derive(Debug, Clone, serde::Serialize)]
pub struct WebSignIn {
    /// Where the browser is sent to sign in.
    pub authorization_endpoint: String,
    /// Where the page exchanges the code (the provider must allow the page's origin: CORS).
    pub token_endpoint: String,
    /// The page's client id.
    pub client_id: String,
    /// The scopes asked for.
    pub scope: String,
}

impl WebSignIn {
    /// From `[auth]`, when all three settings are there.
    pub fn from_config(auth: &crate::config::AuthConfig) -> Option<Self> {
        Some(Self {
            authorization_endpoint: auth.authorization_endpoint.clone()?,
            token_endpoint: auth.token_endpoint.clone()?,
            client_id: auth.web_client_id.clone()?,
            scope: auth.web_scope.clone(),
        })
    }
}

/// `GET /ui/config.json`: how the page signs in (`{"oidc": null}` without an identity
/// provider: paste a token).
pub async fn config(State(s): State<crate::http::AppState>) -> Response {
    let mut response = Json(serde_json::json!({ "oidc": s.web_sign_in })).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `GET /docs`: the OpenAPI document rendered for people (from `/openapi.json`, in the page).
pub async fn docs() -> Response {
    page("text/html; charset=utf-8", DOCS)
}

/// `GET /ui/{*file}`: the page's scripts, style and vendored library (with its licence).
pub async fn asset(Path(file): Path<String>) -> Response {
    match file.as_str() {
        "app.js" => page("text/javascript; charset=utf-8", APP_JS),
        "app.css" => page("text/css; charset=utf-8", APP_CSS),
        "docs.js" => page("text/javascript; charset=utf-8", DOCS_JS),
        "vendor/sha256.min.js" => page("text/javascript; charset=utf-8", SHA256_JS),
        "vendor/sha256.LICENSE.txt" => page("text/plain; charset=utf-8", SHA256_LICENSE),
        _ => crate::http::ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
            .into_response(),
    }
}
