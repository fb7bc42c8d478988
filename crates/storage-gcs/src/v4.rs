//! Google Cloud Storage V4 signing (GOOG4-RSA-SHA256): signed URLs and POST policies, with a
//! service account's RSA key (PKCS#1 v1.5 with SHA-256 by `aws-lc-rs`, the constant-time
//! implementation rustls already brings; not the `rsa` crate, whose decryption has the Marvin
//! timing side channel, RUSTSEC-2023-0071). Tested against Google's conformance vectors.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine;
use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};

const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
const PATH: &AsciiSet = &UNRESERVED.remove(b'/');
const ALGORITHM: &str = "GOOG4-RSA-SHA256";

/// A service account that signs: its email and its RSA private key.
#[derive(Clone)]
pub struct ServiceAccount {
    /// The account's email (the `client_email` of its JSON key).
    pub client_email: String,
    key: Arc<RsaKeyPair>,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .finish_non_exhaustive()
    }
}

/// Why a service-account key could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError(pub String);

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "service account key: {}", self.0)
    }
}

impl std::error::Error for KeyError {}

impl ServiceAccount {
    /// From a service-account JSON key (`client_email`, PKCS#8 `private_key`).
    ///
    /// # Errors
    /// [`KeyError`] when the JSON or the key is malformed.
    pub fn from_json(json: &str) -> Result<Self, KeyError> {
        let doc: Value = serde_json::from_str(json).map_err(|e| KeyError(e.to_string()))?;
        let email = doc["client_email"]
            .as_str()
            .ok_or_else(|| KeyError("no client_email".into()))?;
        let pem = doc["private_key"]
            .as_str()
            .ok_or_else(|| KeyError("no private_key".into()))?;
        let der = PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| KeyError(format!("not a PKCS#8 PEM key: {e}")))?;
        let key = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())
            .map_err(|e| KeyError(format!("not an RSA key: {e}")))?;
        Ok(Self {
            client_email: email.to_owned(),
            key: Arc::new(key),
        })
    }

    fn sign_hex(&self, data: &[u8]) -> Result<String, KeyError> {
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                data,
                &mut signature,
            )
            .map_err(|_| KeyError("signing failed".into()))?;
        Ok(hex::encode(signature))
    }
}

/// Where the bucket goes in the URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlStyle {
    /// `host/bucket/object`.
    Path,
    /// `bucket.host/object`.
    VirtualHosted,
    /// `bucket-bound-hostname/object`.
    BucketBound(String),
}

/// What a signed URL is for.
#[derive(Debug, Clone)]
pub struct UrlRequest<'a> {
    /// `GET`, `PUT`, `POST`, ...
    pub method: &'a str,
    /// `https` or `http`.
    pub scheme: &'a str,
    /// The host (and port), e.g. `storage.googleapis.com`.
    pub host: &'a str,
    /// Path, virtual-hosted or bucket-bound.
    pub style: UrlStyle,
    /// The bucket.
    pub bucket: &'a str,
    /// The object name (unencoded); empty for the bucket itself.
    pub object: &'a str,
    /// Headers the request must carry (signed).
    pub headers: Vec<(String, String)>,
    /// Extra query parameters (signed), e.g. `response-content-disposition`.
    pub query: Vec<(String, String)>,
    /// When it is signed.
    pub timestamp: DateTime<Utc>,
    /// Seconds it stays valid (at most 604800).
    pub expires_in: u64,
}

/// A signed URL, with what was signed (for tests and debugging).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedUrl {
    /// The URL.
    pub url: String,
    /// The canonical request.
    pub canonical_request: String,
    /// The string that was signed.
    pub string_to_sign: String,
}

fn encode(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

fn host_and_path(style: &UrlStyle, host: &str, bucket: &str, object: &str) -> (String, String) {
    let object = utf8_percent_encode(object, PATH).to_string();
    match style {
        UrlStyle::Path if object.is_empty() => (host.to_owned(), format!("/{bucket}")),
        UrlStyle::Path => (host.to_owned(), format!("/{bucket}/{object}")),
        UrlStyle::VirtualHosted => (format!("{bucket}.{host}"), format!("/{object}")),
        UrlStyle::BucketBound(bound) => (bound.clone(), format!("/{object}")),
    }
}

/// Lower-case name; value trimmed with inner runs of whitespace collapsed to one space.
fn canonical_header(name: &str, value: &str) -> (String, String) {
    let collapsed = value.split_whitespace().collect::<Vec<_>>().join(" ");
    (name.to_ascii_lowercase(), collapsed)
}

/// Signs a V4 URL.
///
/// # Errors
/// [`KeyError`] when the key cannot sign (it could when it was loaded: practically never).
pub fn sign_url(account: &ServiceAccount, request: &UrlRequest<'_>) -> Result<SignedUrl, KeyError> {
    let (host, path) = host_and_path(&request.style, request.host, request.bucket, request.object);
    let datetime = request.timestamp.format("%Y%m%dT%H%M%SZ").to_string();
    let date = request.timestamp.format("%Y%m%d").to_string();
    let scope = format!("{date}/auto/storage/goog4_request");

    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    // The signed host header carries no port (as Google's conformance vectors expect).
    let bare_host = host.rsplit_once(':').map_or(host.as_str(), |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            host.as_str()
        }
    });
    headers.insert("host".into(), bare_host.to_owned());
    for (name, value) in &request.headers {
        let (n, v) = canonical_header(name, value);
        headers.insert(n, v);
    }
    let signed_headers = headers.keys().cloned().collect::<Vec<_>>().join(";");

    let mut query: BTreeMap<String, String> = BTreeMap::new();
    query.insert("X-Goog-Algorithm".into(), ALGORITHM.into());
    query.insert(
        "X-Goog-Credential".into(),
        format!("{}/{scope}", account.client_email),
    );
    query.insert("X-Goog-Date".into(), datetime.clone());
    query.insert("X-Goog-Expires".into(), request.expires_in.to_string());
    query.insert("X-Goog-SignedHeaders".into(), signed_headers.clone());
    for (k, v) in &request.query {
        query.insert(k.clone(), v.clone());
    }
    let canonical_query = query
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let mut canonical_headers = String::new();
    for (k, v) in &headers {
        let _ = writeln!(canonical_headers, "{k}:{v}");
    }
    let payload = headers
        .get("x-goog-content-sha256")
        .cloned()
        .unwrap_or_else(|| "UNSIGNED-PAYLOAD".to_owned());
    let canonical_request = format!(
        "{}\n{path}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\n{payload}",
        request.method
    );
    let digest =
        hex::encode(casefile_domain::Sha256::digest(canonical_request.as_bytes()).as_bytes());
    let string_to_sign = format!("{ALGORITHM}\n{datetime}\n{scope}\n{digest}");
    let signature = account.sign_hex(string_to_sign.as_bytes())?;
    Ok(SignedUrl {
        url: format!(
            "{}://{host}{path}?{canonical_query}&X-Goog-Signature={signature}",
            request.scheme
        ),
        canonical_request,
        string_to_sign,
    })
}

/// What a POST policy binds.
#[derive(Debug, Clone)]
pub struct PolicyRequest<'a> {
    /// `https` or `http`.
    pub scheme: &'a str,
    /// The host, e.g. `storage.googleapis.com`.
    pub host: &'a str,
    /// Path, virtual-hosted or bucket-bound.
    pub style: UrlStyle,
    /// The bucket.
    pub bucket: &'a str,
    /// The exact object name.
    pub object: &'a str,
    /// Extra conditions, first in the policy (e.g. `["content-length-range", 0, 10]`).
    pub conditions: Vec<Value>,
    /// Exact form fields, each also a condition (e.g. `content-type`, `x-goog-meta-…`).
    pub fields: BTreeMap<String, String>,
    /// When it is signed.
    pub timestamp: DateTime<Utc>,
    /// Seconds it stays valid.
    pub expires_in: u64,
}

/// A signed POST policy: where to post and the form fields (the file goes last, as `file`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPolicy {
    /// The URL to post to.
    pub url: String,
    /// Every form field, `policy` and `x-goog-signature` included.
    pub fields: BTreeMap<String, String>,
    /// The policy document as signed (before base64).
    pub policy: String,
}

/// Signs a V4 POST policy.
///
/// # Errors
/// [`KeyError`] when the key cannot sign.
pub fn sign_policy(
    account: &ServiceAccount,
    request: &PolicyRequest<'_>,
) -> Result<SignedPolicy, KeyError> {
    let datetime = request.timestamp.format("%Y%m%dT%H%M%SZ").to_string();
    let date = request.timestamp.format("%Y%m%d").to_string();
    let credential = format!("{}/{date}/auto/storage/goog4_request", account.client_email);
    let expiration = (request.timestamp
        + chrono::Duration::seconds(i64::try_from(request.expires_in).unwrap_or(i64::MAX)))
    .format("%Y-%m-%dT%H:%M:%SZ")
    .to_string();

    let mut conditions = request.conditions.clone();
    conditions.extend(request.fields.iter().map(|(k, v)| json!({ k: v })));
    conditions.push(json!({ "bucket": request.bucket }));
    conditions.push(json!({ "key": request.object }));
    conditions.push(json!({ "x-goog-date": datetime }));
    conditions.push(json!({ "x-goog-credential": credential }));
    conditions.push(json!({ "x-goog-algorithm": ALGORITHM }));
    let policy = json!({ "conditions": conditions, "expiration": expiration }).to_string();
    // Google signs the policy with non-ASCII characters escaped as JSON \uXXXX.
    let mut ascii = String::with_capacity(policy.len());
    for c in policy.chars() {
        if c.is_ascii() {
            ascii.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(ascii, "\\u{unit:04x}");
            }
        }
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(ascii.as_bytes());
    let signature = account.sign_hex(encoded.as_bytes())?;

    let mut fields = request.fields.clone();
    fields.insert("key".into(), request.object.to_owned());
    fields.insert("x-goog-date".into(), datetime);
    fields.insert("x-goog-credential".into(), credential);
    fields.insert("x-goog-algorithm".into(), ALGORITHM.into());
    fields.insert("policy".into(), encoded);
    fields.insert("x-goog-signature".into(), signature);
    let (host, path) = host_and_path(&request.style, request.host, request.bucket, "");
    let url = match request.style {
        UrlStyle::Path => format!("{}://{host}{path}/", request.scheme),
        _ => format!("{}://{host}/", request.scheme),
    };
    Ok(SignedPolicy {
        url,
        fields,
        policy,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    const VECTORS: &str = include_str!("../tests/data/v4_signatures.json");
    const KEY: &str = include_str!("../tests/data/test_service_account.not-a-test.json");

    fn account() -> ServiceAccount {
        ServiceAccount::from_json(KEY).unwrap()
    }

    fn time(v: &Value) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(v.as_str().unwrap())
            .unwrap()
            .with_timezone(&Utc)
    }

    fn style(t: &Value) -> UrlStyle {
        match t["urlStyle"].as_str() {
            Some("VIRTUAL_HOSTED_STYLE") => UrlStyle::VirtualHosted,
            Some("BUCKET_BOUND_HOSTNAME") => {
                UrlStyle::BucketBound(t["bucketBoundHostname"].as_str().unwrap().to_owned())
            }
            _ => UrlStyle::Path,
        }
    }

    fn pairs(v: &Value) -> Vec<(String, String)> {
        v.as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The host (and scheme) a client would use: what the vectors' client-configuration fields
    /// select, in their order of precedence.
    fn endpoint(t: &Value) -> (String, String) {
        let scheme = t["scheme"].as_str().unwrap_or("https").to_owned();
        if let Some(host) = t["hostname"].as_str() {
            return (scheme, host.to_owned());
        }
        for field in ["clientEndpoint", "emulatorHostname"] {
            if let Some(e) = t[field].as_str() {
                return match e.split_once("://") {
                    Some((s, h)) => (s.to_owned(), h.to_owned()),
                    None => (scheme, e.to_owned()),
                };
            }
        }
        if let Some(universe) = t["universeDomain"].as_str() {
            return (scheme, format!("storage.{universe}"));
        }
        (scheme, "storage.googleapis.com".to_owned())
    }

    #[test]
    fn signed_url_conformance_vectors() {
        let doc: Value = serde_json::from_str(VECTORS).unwrap();
        let tests = doc["signingV4Tests"].as_array().unwrap();
        let mut failures = Vec::new();
        for t in tests {
            let (scheme, host) = endpoint(t);
            let request = UrlRequest {
                method: t["method"].as_str().unwrap(),
                scheme: &scheme,
                host: &host,
                style: style(t),
                bucket: t["bucket"].as_str().unwrap(),
                object: t["object"].as_str().unwrap_or(""),
                headers: pairs(&t["headers"]),
                query: pairs(&t["queryParameters"]),
                timestamp: time(&t["timestamp"]),
                expires_in: t["expiration"].as_u64().unwrap(),
            };
            let signed = sign_url(&account(), &request).unwrap();
            // URL (signature included) and string-to-sign must match. The canonical request
            // must too, except in "Universe domain with virtual hosted style", whose
            // expectedCanonicalRequest keeps the bucket in the path although its expected
            // signature is that of the bucket-less path (the URL and string-to-sign match).
            let canonical_ok = signed.canonical_request
                == t["expectedCanonicalRequest"].as_str().unwrap()
                || t["description"] == "Universe domain with virtual hosted style";
            let ok = canonical_ok
                && signed.string_to_sign == t["expectedStringToSign"].as_str().unwrap()
                && signed.url == t["expectedUrl"].as_str().unwrap();
            if !ok {
                failures.push(format!(
                    "{}\n  got  {}\n  want {}\n  got  {:?}\n  want {:?}",
                    t["description"],
                    signed.url,
                    t["expectedUrl"],
                    signed.canonical_request,
                    t["expectedCanonicalRequest"]
                ));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} vectors differ:\n{}",
            failures.len(),
            tests.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn post_policy_conformance_vectors() {
        let doc: Value = serde_json::from_str(VECTORS).unwrap();
        let tests = doc["postPolicyV4Tests"].as_array().unwrap();
        let mut failures = Vec::new();
        for t in tests {
            let input = &t["policyInput"];
            let (scheme, host) = endpoint(input);
            let mut conditions = Vec::new();
            if let Some(c) = input["conditions"].as_object() {
                if let Some(s) = c.get("startsWith") {
                    conditions.push(json!(["starts-with", s[0], s[1]]));
                }
                if let Some(r) = c.get("contentLengthRange") {
                    conditions.push(json!(["content-length-range", r[0], r[1]]));
                }
            }
            let request = PolicyRequest {
                scheme: &scheme,
                host: &host,
                style: style(input),
                bucket: input["bucket"].as_str().unwrap(),
                object: input["object"].as_str().unwrap(),
                conditions,
                fields: pairs(&input["fields"]).into_iter().collect(),
                timestamp: time(&input["timestamp"]),
                expires_in: input["expiration"].as_u64().unwrap(),
            };
            let signed = sign_policy(&account(), &request).unwrap();
            let output = &t["policyOutput"];
            let want: BTreeMap<String, String> = pairs(&output["fields"]).into_iter().collect();
            let ok = signed.url == output["url"].as_str().unwrap()
                && signed.policy == output["expectedDecodedPolicy"].as_str().unwrap()
                && signed.fields == want;
            if !ok {
                failures.push(format!(
                    "{}\n  got  {}\n  want {}\n  url {} vs {}",
                    t["description"],
                    signed.policy,
                    output["expectedDecodedPolicy"],
                    signed.url,
                    output["url"]
                ));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} vectors differ:\n{}",
            failures.len(),
            tests.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn a_broken_key_is_refused() {
        assert!(ServiceAccount::from_json("{}").is_err());
        assert!(ServiceAccount::from_json(r#"{"client_email":"a","private_key":"nope"}"#).is_err());
        let _ = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0);
    }
}
