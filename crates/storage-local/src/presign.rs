//! Presigned URLs for the local stores: HMAC-SHA256 signed grants.
//!
//! A local store has no HTTP server of its own. The URLs it hands out point at a base URL served
//! by the application (the `casefile` binary), which calls [`UrlSigner::verify`] on every request
//! and honours the returned [`Grant`]: the method, the key, the expiry, and for uploads the
//! content type, the maximum size and the SHA-256 the body must have.
//!
//! A URL is `{base}/{key}?cf-method=…&cf-expires=…[&cf-max-size=…][&cf-content-type=…]
//! [&cf-sha256=…][&cf-filename=…]&cf-signature=…`, the key percent-encoded segment by segment.
//! The signature is the hex HMAC-SHA256, under the store's secret, of a canonical string of all of
//! these values, one per line; no value may contain a line break, so the string is unambiguous.

use std::fmt;
use std::time::Duration;

use casefile_domain::storage::{
    ObjectKey, PresignDownloadRequest, PresignUploadRequest, PresignedDownload, PresignedUpload,
    UploadMethod, validate_expiry,
};
use casefile_domain::{Sha256, StorageError, StorageResult};
use chrono::{DateTime, TimeZone, Utc};
use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use url::Url;

type HmacSha256 = Hmac<sha2::Sha256>;

/// The shortest secret accepted, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

const VERSION: &str = "casefile-local-v1";
const P_METHOD: &str = "cf-method";
const P_EXPIRES: &str = "cf-expires";
const P_MAX_SIZE: &str = "cf-max-size";
const P_CONTENT_TYPE: &str = "cf-content-type";
const P_SHA256: &str = "cf-sha256";
const P_FILENAME: &str = "cf-filename";
const P_SIGNATURE: &str = "cf-signature";

/// Characters left unencoded in a key segment (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The HTTP method a grant allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantMethod {
    /// Download the object.
    Get,
    /// Upload the object (the body is the content).
    Put,
}

impl GrantMethod {
    fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Put => "PUT",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "GET" => Some(Self::Get),
            "PUT" => Some(Self::Put),
            _ => None,
        }
    }
}

/// What a verified URL allows, for the server that honours it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The one method allowed.
    pub method: GrantMethod,
    /// The one object.
    pub key: ObjectKey,
    /// Until when.
    pub expires_at: DateTime<Utc>,
    /// Uploads: the largest body to accept; the server MUST stop reading past it.
    pub max_size: Option<u64>,
    /// Uploads: the `Content-Type` the request must carry.
    pub content_type: Option<String>,
    /// Uploads: the SHA-256 the body must have; the server MUST discard a body that differs.
    pub sha256: Option<Sha256>,
    /// Downloads: the file name for `Content-Disposition: attachment`.
    pub file_name: Option<String>,
}

/// Why a URL was refused by [`UrlSigner::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    /// Not a URL of this signer, or a parameter is missing or malformed.
    Malformed(String),
    /// The signature does not match: tampered URL or another secret.
    BadSignature,
    /// Signed correctly, but expired.
    Expired {
        /// When it expired.
        at: DateTime<Utc>,
    },
    /// Signed correctly, but for another method.
    WrongMethod {
        /// The method the URL allows.
        allowed: GrantMethod,
    },
}

impl std::error::Error for SignatureError {}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "malformed presigned URL: {why}"),
            Self::BadSignature => f.write_str("presigned URL signature does not match"),
            Self::Expired { at } => write!(f, "presigned URL expired at {at}"),
            Self::WrongMethod { allowed } => {
                write!(f, "presigned URL allows {} only", allowed.as_str())
            }
        }
    }
}

/// Signs and verifies presigned URLs of a local store.
#[derive(Clone)]
pub struct UrlSigner {
    base: Url,
    secret: Vec<u8>,
}

impl fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UrlSigner")
            .field("base", &self.base.as_str())
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl UrlSigner {
    /// A signer for URLs under `base_url` (e.g. `http://127.0.0.1:8080/v1/blobs`), with `secret`
    /// of at least [`MIN_SECRET_LEN`] bytes.
    ///
    /// # Errors
    /// [`StorageError::InvalidInput`] for a base URL that is not http(s) or a short secret.
    pub fn new(base_url: &str, secret: impl Into<Vec<u8>>) -> StorageResult<Self> {
        let mut base = Url::parse(base_url)
            .map_err(|e| StorageError::invalid_input("base_url", e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(StorageError::invalid_input(
                "base_url",
                "must be an http or https URL",
            ));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(StorageError::invalid_input(
                "base_url",
                "must have no query or fragment",
            ));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let secret = secret.into();
        if secret.len() < MIN_SECRET_LEN {
            return Err(StorageError::invalid_input(
                "secret",
                format!("must be at least {MIN_SECRET_LEN} bytes"),
            ));
        }
        Ok(Self { base, secret })
    }

    /// A signer with a fresh random secret: URLs it signs are valid for this process only.
    ///
    /// # Errors
    /// As [`UrlSigner::new`].
    pub fn with_random_secret(base_url: &str) -> StorageResult<Self> {
        let secret: [u8; 32] = rand::random();
        Self::new(base_url, secret.to_vec())
    }

    /// The base URL, ending with `/`.
    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    /// A PUT upload URL for `key` bound to the request's content type, maximum size and SHA-256.
    ///
    /// # Errors
    /// [`StorageError::InvalidInput`] for an expiry outside (0, 7 days] or a malformed content
    /// type.
    pub fn sign_upload(
        &self,
        key: &ObjectKey,
        request: &PresignUploadRequest,
        now: DateTime<Utc>,
    ) -> StorageResult<PresignedUpload> {
        casefile_domain::content::validate_content_type(&request.content_type)?;
        let expires_at = expiry(now, request.expires_in)?;
        let grant = Grant {
            method: GrantMethod::Put,
            key: key.clone(),
            expires_at,
            max_size: Some(request.max_size),
            content_type: Some(request.content_type.clone()),
            sha256: request.sha256,
            file_name: None,
        };
        let headers = [("content-type".to_owned(), request.content_type.clone())].into();
        Ok(PresignedUpload {
            method: UploadMethod::Put,
            url: self.url_for(&grant),
            fields: Default::default(),
            headers,
            expires_at,
        })
    }

    /// A GET download URL for `key`, with the file name for `Content-Disposition` if asked.
    ///
    /// # Errors
    /// [`StorageError::InvalidInput`] for an expiry outside (0, 7 days] or a file name with
    /// control characters.
    pub fn sign_download(
        &self,
        key: &ObjectKey,
        request: &PresignDownloadRequest,
        now: DateTime<Utc>,
    ) -> StorageResult<PresignedDownload> {
        if let Some(name) = &request.file_name
            && (name.is_empty() || name.chars().any(char::is_control))
        {
            return Err(StorageError::invalid_input(
                "file_name",
                "must be non-empty without control characters",
            ));
        }
        let expires_at = expiry(now, request.expires_in)?;
        let grant = Grant {
            method: GrantMethod::Get,
            key: key.clone(),
            expires_at,
            max_size: None,
            content_type: None,
            sha256: None,
            file_name: request.file_name.clone(),
        };
        Ok(PresignedDownload {
            url: self.url_for(&grant),
            expires_at,
        })
    }

    /// Verifies a request for `url` with HTTP `method` at `now`, and returns what it may do.
    ///
    /// The signature is checked first, so a tampered or foreign URL is [`BadSignature`]
    /// whatever else is wrong with it.
    ///
    /// # Errors
    /// The [`SignatureError`] naming why the request is refused.
    ///
    /// [`BadSignature`]: SignatureError::BadSignature
    pub fn verify(
        &self,
        method: &str,
        url: &str,
        now: DateTime<Utc>,
    ) -> Result<Grant, SignatureError> {
        let malformed = |why: &str| SignatureError::Malformed(why.to_owned());
        let url = Url::parse(url).map_err(|e| malformed(&e.to_string()))?;
        if url.scheme() != self.base.scheme()
            || url.host_str() != self.base.host_str()
            || url.port_or_known_default() != self.base.port_or_known_default()
        {
            return Err(malformed("not a URL of this store"));
        }
        let encoded_key = url
            .path()
            .strip_prefix(self.base.path())
            .ok_or_else(|| malformed("not a URL of this store"))?;
        let segments: Result<Vec<String>, _> = encoded_key
            .split('/')
            .map(|s| percent_decode_str(s).decode_utf8().map(|c| c.into_owned()))
            .collect();
        let segments = segments.map_err(|_| malformed("key is not UTF-8"))?;
        let key = ObjectKey::new(segments.join("/")).map_err(|e| malformed(&e.to_string()))?;

        let mut params = std::collections::BTreeMap::new();
        for (name, value) in url.query_pairs() {
            if params
                .insert(name.into_owned(), value.into_owned())
                .is_some()
            {
                return Err(malformed("repeated parameter"));
            }
        }
        let take = |name: &str| params.get(name).cloned();
        let signature = take(P_SIGNATURE).ok_or_else(|| malformed("no signature"))?;
        let method_str = take(P_METHOD).ok_or_else(|| malformed("no method"))?;
        let allowed = GrantMethod::parse(&method_str).ok_or_else(|| malformed("bad method"))?;
        let expires: i64 = take(P_EXPIRES)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| malformed("bad expiry"))?;
        let expires_at = Utc
            .timestamp_opt(expires, 0)
            .single()
            .ok_or_else(|| malformed("bad expiry"))?;
        let max_size = match take(P_MAX_SIZE) {
            Some(v) => Some(v.parse().map_err(|_| malformed("bad max size"))?),
            None => None,
        };
        let sha256 = match take(P_SHA256) {
            Some(v) => Some(Sha256::from_hex(&v).map_err(|_| malformed("bad sha256"))?),
            None => None,
        };
        let known = [
            P_SIGNATURE,
            P_METHOD,
            P_EXPIRES,
            P_MAX_SIZE,
            P_CONTENT_TYPE,
            P_SHA256,
            P_FILENAME,
        ];
        if params.keys().any(|k| !known.contains(&k.as_str())) {
            return Err(malformed("unknown parameter"));
        }
        let grant = Grant {
            method: allowed,
            key,
            expires_at,
            max_size,
            content_type: take(P_CONTENT_TYPE),
            sha256,
            file_name: take(P_FILENAME),
        };
        let signature = hex::decode(signature).map_err(|_| SignatureError::BadSignature)?;
        self.mac(&grant)
            .verify_slice(&signature)
            .map_err(|_| SignatureError::BadSignature)?;
        if now >= grant.expires_at {
            return Err(SignatureError::Expired {
                at: grant.expires_at,
            });
        }
        if !method.eq_ignore_ascii_case(allowed.as_str()) {
            return Err(SignatureError::WrongMethod { allowed });
        }
        Ok(grant)
    }

    fn mac(&self, grant: &Grant) -> HmacSha256 {
        let canonical = [
            VERSION.to_owned(),
            grant.method.as_str().to_owned(),
            grant.key.as_str().to_owned(),
            grant.expires_at.timestamp().to_string(),
            grant.max_size.map(|n| n.to_string()).unwrap_or_default(),
            grant.content_type.clone().unwrap_or_default(),
            grant.sha256.map(|h| h.to_hex()).unwrap_or_default(),
            grant.file_name.clone().unwrap_or_default(),
        ]
        .join("\n");
        // A key of any length is valid for HMAC; the length was checked in `new`.
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"));
        mac.update(canonical.as_bytes());
        mac
    }

    fn url_for(&self, grant: &Grant) -> String {
        let path: Vec<String> = grant
            .key
            .segments()
            .map(|s| utf8_percent_encode(s, SEGMENT).to_string())
            .collect();
        let mut url = self.base.clone();
        url.set_path(&format!("{}{}", self.base.path(), path.join("/")));
        {
            let mut q = url.query_pairs_mut();
            q.append_pair(P_METHOD, grant.method.as_str());
            q.append_pair(P_EXPIRES, &grant.expires_at.timestamp().to_string());
            if let Some(n) = grant.max_size {
                q.append_pair(P_MAX_SIZE, &n.to_string());
            }
            if let Some(ct) = &grant.content_type {
                q.append_pair(P_CONTENT_TYPE, ct);
            }
            if let Some(h) = &grant.sha256 {
                q.append_pair(P_SHA256, &h.to_hex());
            }
            if let Some(name) = &grant.file_name {
                q.append_pair(P_FILENAME, name);
            }
            let signature = hex::encode(self.mac(grant).finalize().into_bytes());
            q.append_pair(P_SIGNATURE, &signature);
        }
        url.into()
    }
}

fn expiry(now: DateTime<Utc>, expires_in: Duration) -> StorageResult<DateTime<Utc>> {
    validate_expiry(expires_in)?;
    let secs = i64::try_from(expires_in.as_secs()).unwrap_or(i64::MAX);
    // Whole seconds: the URL carries a Unix timestamp.
    Ok(Utc
        .timestamp_opt(now.timestamp().saturating_add(secs), 0)
        .single()
        .unwrap_or(now))
}
