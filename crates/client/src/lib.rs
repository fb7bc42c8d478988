//! # casefile-client
//!
//! A typed async client of casefile's HTTP API v1 (reqwest + rustls), for scripts, services
//! and the `casefile` command line.
//!
//! - Every route of the API has a method (see [`ROUTES`]; a test keeps that list in step with
//!   the server's `/openapi.json`); bodies are the [`casefile_api`] types the server itself
//!   uses.
//! - Errors are typed from the server's `{"error": {"code", "message"}}` ([`ClientError`]).
//! - [`Client::upload_file`] does the two-phase upload right: hash the file locally, begin the
//!   upload, send the bytes wherever and however the server says (an S3 POST form, a PUT with
//!   headers to S3, Azure, GCS or the local store), complete. [`Client::download_to`] streams to a
//!   temporary name, checks size and SHA-256 against the record, then renames; an interrupted
//!   download resumes with `Range`. Both stream: memory stays bounded whatever the file's size.
//!
//! ```no_run
//! # async fn example() -> Result<(), casefile_client::ClientError> {
//! let client = casefile_client::Client::new("http://127.0.0.1:8080", Some("TOKEN".into()))?;
//! let case = client.create_case("Doe v. Roe").await?;
//! let file = client
//!     .upload_file(case.id, "pleadings/motion.pdf", "motion.pdf".as_ref(), &|_| {})
//!     .await?;
//! client.download_to(file.id, "copy.pdf".as_ref(), &|_| {}).await?;
//! # Ok(()) }
//! ```

mod error;
mod transfer;

use casefile_api::{
    AuditPage, CaseList, CaseView, ConsistencyProofView, DownloadUrl, ErrorBody, FileList,
    FileView, Health, HoldList, HoldView, InclusionProofView, MemberList, MemberView, NewCase,
    NewHoldBody, PutMember, Readiness, ReleaseBody, RetentionBody, UploadRequest, UploadStarted,
};
use chrono::{DateTime, Utc};
use futures::Stream;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use uuid::Uuid;

pub use error::{ClientError, ClientResult};
pub use transfer::{OnProgress, Progress, hash_file, partial_path};

/// Every route of the API v1 and the method of [`Client`] that calls it (`method`, `path`,
/// client method). The local store's `/v1/blobs/{key}` routes are the targets of presigned
/// URLs: [`Client::send_upload`] and the download URL reach them.
pub const ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/healthz", "health"),
    ("GET", "/livez", "live"),
    ("GET", "/readyz", "ready"),
    ("GET", "/openapi.json", "openapi"),
    ("POST", "/v1/cases", "create_case"),
    ("GET", "/v1/cases", "list_cases"),
    ("GET", "/v1/cases/{case_id}", "case"),
    ("POST", "/v1/cases/{case_id}/uploads", "begin_upload"),
    ("PUT", "/v1/cases/{case_id}/files", "put_file"),
    ("GET", "/v1/cases/{case_id}/files", "list_files"),
    ("GET", "/v1/cases/{case_id}/audit", "audit_page"),
    ("GET", "/v1/cases/{case_id}/export.zip", "export_zip"),
    ("GET", "/v1/files/{file_id}", "file"),
    ("DELETE", "/v1/files/{file_id}", "delete_file"),
    ("POST", "/v1/files/{file_id}/complete", "complete"),
    ("GET", "/v1/files/{file_id}/content", "content"),
    ("GET", "/v1/files/{file_id}/download-url", "download_url"),
    ("PUT", "/v1/blobs/{key}", "send_upload"),
    ("GET", "/v1/blobs/{key}", "download_url"),
    ("GET", "/v1/cases/{case_id}/members", "members"),
    ("PUT", "/v1/cases/{case_id}/members/{user_id}", "put_member"),
    (
        "DELETE",
        "/v1/cases/{case_id}/members/{user_id}",
        "remove_member",
    ),
    ("POST", "/v1/cases/{case_id}/holds", "place_hold"),
    ("GET", "/v1/cases/{case_id}/holds", "holds"),
    ("POST", "/v1/holds/{hold_id}/release", "release_hold"),
    ("PUT", "/v1/cases/{case_id}/retention", "set_case_retention"),
    ("PUT", "/v1/files/{file_id}/retention", "set_file_retention"),
    ("GET", "/v1/audit/checkpoint", "checkpoint"),
    ("GET", "/v1/audit/entries/{index}/proof", "entry_proof"),
    ("GET", "/v1/audit/consistency", "consistency"),
];

/// A client of one casefile server, as one user (or none, for the probes).
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    /// A client of the server at `base` (e.g. `https://casefile.firm.example`), sending `token`
    /// as its bearer token.
    ///
    /// # Errors
    /// [`ClientError::Invalid`] for a base that is not an http(s) URL.
    pub fn new(base: &str, token: Option<String>) -> ClientResult<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| ClientError::Invalid(format!("HTTP client: {e}")))?;
        Self::with_http(http, base, token)
    }

    /// As [`new`](Self::new), with a reqwest client of the caller's (timeouts, proxies, roots).
    ///
    /// # Errors
    /// [`ClientError::Invalid`] for a base that is not an http(s) URL.
    pub fn with_http(
        http: reqwest::Client,
        base: &str,
        token: Option<String>,
    ) -> ClientResult<Self> {
        let parsed = url::Url::parse(base)
            .map_err(|e| ClientError::Invalid(format!("server URL {base:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ClientError::Invalid(format!(
                "server URL {base:?}: http or https"
            )));
        }
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token,
        })
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, self.url(path));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends `request`; an error status becomes a typed error.
    async fn send(&self, request: RequestBuilder) -> ClientResult<reqwest::Response> {
        let (client, request) = request.build_split();
        let request = request.map_err(ClientError::Transport)?;
        let url = request.url().as_str().to_owned();
        let response = client
            .execute(request)
            .await
            .map_err(|e| ClientError::from_reqwest(&url, e))?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(api_error(response).await)
    }

    async fn json<T: DeserializeOwned>(&self, request: RequestBuilder) -> ClientResult<T> {
        let response = self.send(request).await?;
        response
            .json()
            .await
            .map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// `GET /healthz`: whether the server's store and database answer.
    ///
    /// # Errors
    /// [`ClientError::Unreachable`]; a 503 is returned as its body, not as an error.
    pub async fn health(&self) -> ClientResult<Health> {
        self.probe("/healthz").await
    }

    /// `GET /readyz`: whether this server should get traffic.
    ///
    /// # Errors
    /// As [`health`](Self::health).
    pub async fn ready(&self) -> ClientResult<Readiness> {
        self.probe("/readyz").await
    }

    /// `GET /livez`: whether the process answers.
    ///
    /// # Errors
    /// [`ClientError::Unreachable`], or an error status.
    pub async fn live(&self) -> ClientResult<()> {
        self.send(self.http.get(self.url("/livez"))).await.map(drop)
    }

    async fn probe<T: DeserializeOwned>(&self, path: &str) -> ClientResult<T> {
        let url = self.url(path);
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| ClientError::from_reqwest(&url, e))?;
        response
            .json()
            .await
            .map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// `GET /openapi.json`: the API's OpenAPI document.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn openapi(&self) -> ClientResult<serde_json::Value> {
        self.json(self.http.get(self.url("/openapi.json"))).await
    }

    /// `POST /v1/cases`: a new case, the caller its owner.
    ///
    /// # Errors
    /// [`ClientError::Api`] `invalid_input` for a bad title.
    pub async fn create_case(&self, title: &str) -> ClientResult<CaseView> {
        let body = NewCase {
            title: title.to_owned(),
        };
        self.json(self.request(Method::POST, "/v1/cases").json(&body))
            .await
    }

    /// `GET /v1/cases`, every page: the caller's cases, oldest first.
    ///
    /// # Errors
    /// As any call.
    pub async fn list_cases(&self) -> ClientResult<Vec<CaseView>> {
        let mut cases = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut request = self.request(Method::GET, "/v1/cases");
            if let Some(c) = &cursor {
                request = request.query(&[("cursor", c)]);
            }
            let page: CaseList = self.json(request).await?;
            cases.extend(page.cases);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(cases),
            }
        }
    }

    /// `GET /v1/cases/{case_id}`: the case, its statistics and the caller's role.
    ///
    /// # Errors
    /// `not_found` for a case that does not exist or is not the caller's.
    pub async fn case(&self, case: Uuid) -> ClientResult<CaseView> {
        self.json(self.request(Method::GET, &format!("/v1/cases/{case}")))
            .await
    }

    /// `GET /v1/cases/{case_id}/files`: the completed files under `prefix` (a plain string
    /// prefix of the logical path), in path order, page after page as one stream.
    pub fn list_files<'a>(
        &'a self,
        case: Uuid,
        prefix: Option<&'a str>,
    ) -> impl Stream<Item = ClientResult<FileView>> + 'a {
        enum Next {
            Start,
            Cursor(String),
            Done,
        }
        let pages = futures::stream::try_unfold(Next::Start, move |next| async move {
            let cursor = match next {
                Next::Done => return Ok(None),
                Next::Start => None,
                Next::Cursor(c) => Some(c),
            };
            let mut request = self
                .request(Method::GET, &format!("/v1/cases/{case}/files"))
                .query(&[("limit", "1000")]);
            if let Some(p) = prefix {
                request = request.query(&[("prefix", p)]);
            }
            if let Some(c) = &cursor {
                request = request.query(&[("cursor", c)]);
            }
            let page: FileList = self.json(request).await?;
            let next = page.next_cursor.map_or(Next::Done, Next::Cursor);
            Ok::<_, ClientError>(Some((
                futures::stream::iter(page.files.into_iter().map(Ok)),
                next,
            )))
        });
        futures::TryStreamExt::try_flatten(pages)
    }

    /// `GET /v1/cases/{case_id}/files?delimiter=/`: one page of one folder level — the files
    /// directly under `prefix` (a folder: `a/b/`, or `None` for the top) and its sub-folders.
    ///
    /// # Errors
    /// As any call.
    pub async fn list_level(
        &self,
        case: Uuid,
        prefix: Option<&str>,
        cursor: Option<&str>,
        limit: Option<usize>,
    ) -> ClientResult<FileList> {
        let mut request = self
            .request(Method::GET, &format!("/v1/cases/{case}/files"))
            .query(&[("delimiter", "/")]);
        if let Some(p) = prefix {
            request = request.query(&[("prefix", p)]);
        }
        if let Some(c) = cursor {
            request = request.query(&[("cursor", c)]);
        }
        if let Some(l) = limit {
            request = request.query(&[("limit", l)]);
        }
        self.json(request).await
    }

    /// `GET /v1/files/{file_id}`: the file (pending or completed) and what protects it.
    ///
    /// # Errors
    /// `not_found` for a file not in a case of the caller's.
    pub async fn file(&self, file: Uuid) -> ClientResult<FileView> {
        self.json(self.request(Method::GET, &format!("/v1/files/{file}")))
            .await
    }

    /// `DELETE /v1/files/{file_id}`.
    ///
    /// # Errors
    /// `held` or `retained` (409) for a protected file; `forbidden` below editor.
    pub async fn delete_file(&self, file: Uuid) -> ClientResult<()> {
        self.send(self.request(Method::DELETE, &format!("/v1/files/{file}")))
            .await
            .map(drop)
    }

    /// `POST /v1/cases/{case_id}/uploads`: begins an upload; send the bytes as the answer says,
    /// then [`complete`](Self::complete).
    ///
    /// # Errors
    /// `conflict` when a live file holds the path, `too_large`, `too_many_uploads`, …
    pub async fn begin_upload(
        &self,
        case: Uuid,
        request: &UploadRequest,
    ) -> ClientResult<UploadStarted> {
        self.json(
            self.request(Method::POST, &format!("/v1/cases/{case}/uploads"))
                .json(request),
        )
        .await
    }

    /// `POST /v1/files/{file_id}/complete`: the server verifies the bytes it was sent and
    /// records the file.
    ///
    /// # Errors
    /// `integrity_mismatch` (the upload is failed), `upload_missing` (nothing arrived yet).
    pub async fn complete(&self, file: Uuid) -> ClientResult<FileView> {
        self.json(self.request(Method::POST, &format!("/v1/files/{file}/complete")))
            .await
    }

    /// `PUT /v1/cases/{case_id}/files`: a one-request upload through the server (the bytes are
    /// verified against `sha256` when given).
    ///
    /// # Errors
    /// As [`begin_upload`](Self::begin_upload), and `integrity_mismatch`.
    pub async fn put_file(
        &self,
        case: Uuid,
        logical_path: &str,
        body: impl Into<reqwest::Body>,
        size: u64,
        sha256: Option<&str>,
    ) -> ClientResult<FileView> {
        let mut request = self
            .request(Method::PUT, &format!("/v1/cases/{case}/files"))
            .query(&[("logical_path", logical_path)])
            .header(reqwest::header::CONTENT_LENGTH, size)
            .body(body);
        if let Some(hash) = sha256 {
            request = request.header("x-content-sha256", hash);
        }
        self.json(request).await
    }

    /// `GET /v1/files/{file_id}/content`: the bytes (a `range` of them when given, as
    /// `(first, last)` inclusive), streamed. A whole file is verified by the server as it
    /// streams; [`download_to`](Self::download_to) verifies again on arrival.
    ///
    /// # Errors
    /// `not_found`, `forbidden` (auditors), 416 for a range outside the file.
    pub async fn content(
        &self,
        file: Uuid,
        range: Option<(u64, Option<u64>)>,
    ) -> ClientResult<reqwest::Response> {
        let mut request = self.request(Method::GET, &format!("/v1/files/{file}/content"));
        if let Some((first, last)) = range {
            let last = last.map(|l| l.to_string()).unwrap_or_default();
            request = request.header(reqwest::header::RANGE, format!("bytes={first}-{last}"));
        }
        self.send(request).await
    }

    /// `GET /v1/files/{file_id}/download-url`: a short-lived URL that needs no token.
    ///
    /// # Errors
    /// As [`content`](Self::content).
    pub async fn download_url(&self, file: Uuid) -> ClientResult<DownloadUrl> {
        self.json(self.request(Method::GET, &format!("/v1/files/{file}/download-url")))
            .await
    }

    /// `GET /v1/cases/{case_id}/audit`: one page of the case's audit trail, oldest first.
    ///
    /// # Errors
    /// As any call.
    pub async fn audit_page(
        &self,
        case: Uuid,
        cursor: Option<&str>,
        limit: Option<usize>,
    ) -> ClientResult<AuditPage> {
        let mut request = self.request(Method::GET, &format!("/v1/cases/{case}/audit"));
        if let Some(c) = cursor {
            request = request.query(&[("cursor", c)]);
        }
        if let Some(l) = limit {
            request = request.query(&[("limit", l)]);
        }
        self.json(request).await
    }

    /// `GET /v1/cases/{case_id}/export.zip`: the case's production set, streamed (read it with
    /// `bytes_stream`).
    ///
    /// # Errors
    /// `forbidden` for auditors.
    pub async fn export_zip(&self, case: Uuid) -> ClientResult<reqwest::Response> {
        self.send(self.request(Method::GET, &format!("/v1/cases/{case}/export.zip")))
            .await
    }

    /// `GET /v1/cases/{case_id}/members`.
    ///
    /// # Errors
    /// As any call.
    pub async fn members(&self, case: Uuid) -> ClientResult<MemberList> {
        self.json(self.request(Method::GET, &format!("/v1/cases/{case}/members")))
            .await
    }

    /// `PUT /v1/cases/{case_id}/members/{user_id}`: adds the user, or changes their role
    /// (`owner`, `editor`, `viewer`, `auditor`).
    ///
    /// # Errors
    /// `forbidden` unless an owner; `conflict` for removing the last owner's role.
    pub async fn put_member(&self, case: Uuid, user: Uuid, role: &str) -> ClientResult<MemberView> {
        let body = PutMember {
            role: role.to_owned(),
        };
        self.json(
            self.request(Method::PUT, &format!("/v1/cases/{case}/members/{user}"))
                .json(&body),
        )
        .await
    }

    /// `DELETE /v1/cases/{case_id}/members/{user_id}`.
    ///
    /// # Errors
    /// As [`put_member`](Self::put_member).
    pub async fn remove_member(&self, case: Uuid, user: Uuid) -> ClientResult<()> {
        self.send(self.request(Method::DELETE, &format!("/v1/cases/{case}/members/{user}")))
            .await
            .map(drop)
    }

    /// `POST /v1/cases/{case_id}/holds`: places a legal hold.
    ///
    /// # Errors
    /// `forbidden` unless an owner.
    pub async fn place_hold(&self, case: Uuid, hold: &NewHoldBody) -> ClientResult<HoldView> {
        self.json(
            self.request(Method::POST, &format!("/v1/cases/{case}/holds"))
                .json(hold),
        )
        .await
    }

    /// `GET /v1/cases/{case_id}/holds`.
    ///
    /// # Errors
    /// As any call.
    pub async fn holds(&self, case: Uuid) -> ClientResult<HoldList> {
        self.json(self.request(Method::GET, &format!("/v1/cases/{case}/holds")))
            .await
    }

    /// `POST /v1/holds/{hold_id}/release`.
    ///
    /// # Errors
    /// `forbidden` unless an owner.
    pub async fn release_hold(&self, hold: Uuid, reason: &str) -> ClientResult<HoldView> {
        let body = ReleaseBody {
            reason: reason.to_owned(),
        };
        self.json(
            self.request(Method::POST, &format!("/v1/holds/{hold}/release"))
                .json(&body),
        )
        .await
    }

    /// `PUT /v1/cases/{case_id}/retention`: keeps everything in the case until `until`
    /// (extended only).
    ///
    /// # Errors
    /// `conflict` for a shorter date.
    pub async fn set_case_retention(
        &self,
        case: Uuid,
        until: DateTime<Utc>,
    ) -> ClientResult<CaseView> {
        let body = RetentionBody {
            retain_until: until,
        };
        self.json(
            self.request(Method::PUT, &format!("/v1/cases/{case}/retention"))
                .json(&body),
        )
        .await
    }

    /// `PUT /v1/files/{file_id}/retention`: keeps the file until `until` (later than its
    /// case's, extended only).
    ///
    /// # Errors
    /// As [`set_case_retention`](Self::set_case_retention).
    pub async fn set_file_retention(
        &self,
        file: Uuid,
        until: DateTime<Utc>,
    ) -> ClientResult<FileView> {
        let body = RetentionBody {
            retain_until: until,
        };
        self.json(
            self.request(Method::PUT, &format!("/v1/files/{file}/retention"))
                .json(&body),
        )
        .await
    }

    /// `GET /v1/audit/checkpoint`: the latest signed checkpoint of the audit log (a signed
    /// note).
    ///
    /// # Errors
    /// As any call.
    pub async fn checkpoint(&self) -> ClientResult<String> {
        self.send(self.request(Method::GET, "/v1/audit/checkpoint"))
            .await?
            .text()
            .await
            .map_err(ClientError::Transport)
    }

    /// `GET /v1/audit/entries/{index}/proof`: an entry with its inclusion proof (against
    /// `tree_size`, else the latest checkpoint).
    ///
    /// # Errors
    /// As any call.
    pub async fn entry_proof(
        &self,
        index: u64,
        tree_size: Option<u64>,
    ) -> ClientResult<InclusionProofView> {
        let mut request = self.request(Method::GET, &format!("/v1/audit/entries/{index}/proof"));
        if let Some(size) = tree_size {
            request = request.query(&[("tree_size", size)]);
        }
        self.json(request).await
    }

    /// `GET /v1/audit/consistency`: the proof that the log of size `to` extends the one of size
    /// `from`.
    ///
    /// # Errors
    /// As any call.
    pub async fn consistency(&self, from: u64, to: u64) -> ClientResult<ConsistencyProofView> {
        self.json(
            self.request(Method::GET, "/v1/audit/consistency")
                .query(&[("from", from), ("to", to)]),
        )
        .await
    }
}

/// The typed error of an error response.
async fn api_error(response: reqwest::Response) -> ClientError {
    let status = response.status();
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if status == StatusCode::UNAUTHORIZED {
        return ClientError::Unauthorized;
    }
    let text = response.text().await.unwrap_or_default();
    match serde_json::from_str::<ErrorBody>(&text) {
        Ok(body) => ClientError::Api {
            status: status.as_u16(),
            code: body.error.code,
            message: body.error.message,
            request_id: body.error.request_id.or(request_id),
        },
        Err(_) => ClientError::Api {
            status: status.as_u16(),
            code: "http".into(),
            message: text.chars().take(200).collect(),
            request_id,
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_server_url_is_http_or_https() {
        assert!(Client::new("http://127.0.0.1:8080/", None).is_ok());
        assert_eq!(
            Client::new("https://casefile.example/", None)
                .unwrap()
                .base(),
            "https://casefile.example"
        );
        for bad in ["ftp://x", "casefile.example", ""] {
            assert!(matches!(
                Client::new(bad, None),
                Err(ClientError::Invalid(_))
            ));
        }
    }
}
