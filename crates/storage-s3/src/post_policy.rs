//! SigV4 POST policies: what the official SDK cannot presign (awslabs/aws-sdk-rust#863).
//!
//! The policy is built here; the signing key derivation and the HMAC come from `aws-sigv4`.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// The credentials a policy is signed with.
#[derive(Clone)]
pub struct SigningCredentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token of temporary credentials.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for SigningCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// What a POST upload is bound to: every condition is exact except the size range.
#[derive(Debug, Clone)]
pub struct PostPolicy {
    /// The bucket.
    pub bucket: String,
    /// The region of the credential scope.
    pub region: String,
    /// The exact key (never `starts-with`).
    pub key: String,
    /// The exact `Content-Type`.
    pub content_type: String,
    /// The largest body accepted (`content-length-range` 0..=max).
    pub max_size: u64,
    /// Extra exact form fields that become conditions (user metadata, server-side encryption).
    pub exact_fields: BTreeMap<String, String>,
    /// When the policy is signed.
    pub now: DateTime<Utc>,
    /// How long it stays valid.
    pub expires_in: Duration,
}

/// The form a client posts: every field, in any order, then the file as the last part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPostForm {
    /// The form fields, `policy` and `x-amz-signature` included.
    pub fields: BTreeMap<String, String>,
    /// When the policy expires.
    pub expires_at: DateTime<Utc>,
}

/// The hex SigV4 signature of a base64 policy (the POST "string to sign").
pub fn sign_policy(
    secret_access_key: &str,
    date: DateTime<Utc>,
    region: &str,
    policy_b64: &str,
) -> String {
    let time: SystemTime = date.into();
    let key = aws_sigv4::sign::v4::generate_signing_key(secret_access_key, time, region, "s3");
    aws_sigv4::sign::v4::calculate_signature(key, policy_b64.as_bytes())
}

impl PostPolicy {
    /// The signed form for this policy.
    pub fn sign(&self, credentials: &SigningCredentials) -> SignedPostForm {
        let amz_date = self.now.format("%Y%m%dT%H%M%SZ").to_string();
        let scope_date = self.now.format("%Y%m%d").to_string();
        let credential = format!(
            "{}/{scope_date}/{}/s3/aws4_request",
            credentials.access_key_id, self.region
        );
        let expires_at =
            self.now + chrono::Duration::from_std(self.expires_in).unwrap_or(chrono::Duration::MAX);

        let mut fields = BTreeMap::new();
        fields.insert("key".to_owned(), self.key.clone());
        fields.insert("Content-Type".to_owned(), self.content_type.clone());
        fields.extend(self.exact_fields.clone());
        fields.insert("x-amz-algorithm".to_owned(), "AWS4-HMAC-SHA256".to_owned());
        fields.insert("x-amz-credential".to_owned(), credential);
        fields.insert("x-amz-date".to_owned(), amz_date);
        if let Some(token) = &credentials.session_token {
            fields.insert("x-amz-security-token".to_owned(), token.clone());
        }

        let mut conditions: Vec<Value> = vec![json!({ "bucket": self.bucket })];
        conditions.extend(fields.iter().map(|(name, value)| json!({ name: value })));
        conditions.push(json!(["content-length-range", 0, self.max_size]));
        let policy = json!({
            "expiration": expires_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "conditions": conditions,
        });
        let policy_b64 = base64::engine::general_purpose::STANDARD.encode(policy.to_string());
        let signature = sign_policy(
            &credentials.secret_access_key,
            self.now,
            &self.region,
            &policy_b64,
        );
        fields.insert("policy".to_owned(), policy_b64);
        fields.insert("x-amz-signature".to_owned(), signature);
        SignedPostForm { fields, expires_at }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    /// The worked example of AWS's documentation, "Example: Browser-Based Upload using HTTP POST
    /// (Using AWS Signature Version 4)": its credentials, date, base64 policy and signature
    /// (kept in `tests/data/`).
    #[test]
    fn aws_documentation_vector() {
        let policy = include_str!("../tests/data/aws-sigv4-post-example.policy.b64").trim();
        let expected = include_str!("../tests/data/aws-sigv4-post-example.signature").trim();
        let date = Utc.with_ymd_and_hms(2015, 12, 29, 0, 0, 0).unwrap();
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        assert_eq!(sign_policy(secret, date, "us-east-1", policy), expected);
        assert_ne!(sign_policy(secret, date, "eu-west-1", policy), expected);
    }

    #[test]
    fn policy_binds_every_field_exactly_and_the_size() {
        let policy = PostPolicy {
            bucket: "evidence".into(),
            region: "eu-central-1".into(),
            key: "cases/1/files/2".into(),
            content_type: "application/pdf".into(),
            max_size: 1234,
            exact_fields: [
                ("x-amz-meta-casefile-sha256".to_owned(), "ab".repeat(32)),
                (
                    "x-amz-server-side-encryption".to_owned(),
                    "AES256".to_owned(),
                ),
            ]
            .into(),
            now: Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap(),
            expires_in: Duration::from_secs(900),
        };
        let credentials = SigningCredentials {
            access_key_id: "AKID".into(),
            secret_access_key: "secret".into(),
            session_token: Some("token".into()),
        };
        let form = policy.sign(&credentials);
        assert_eq!(
            form.expires_at,
            Utc.with_ymd_and_hms(2026, 11, 29, 12, 15, 0).unwrap()
        );
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&form.fields["policy"])
            .unwrap();
        let doc: Value = serde_json::from_slice(&decoded).unwrap();
        assert_eq!(doc["expiration"], "2026-11-29T12:15:00.000Z");
        let conditions = doc["conditions"].as_array().unwrap();
        let has = |c: Value| conditions.contains(&c);
        assert!(has(json!({"bucket": "evidence"})));
        assert!(has(json!({"key": "cases/1/files/2"})));
        assert!(has(json!({"Content-Type": "application/pdf"})));
        assert!(has(json!(["content-length-range", 0, 1234])));
        assert!(has(json!({"x-amz-meta-casefile-sha256": "ab".repeat(32)})));
        assert!(has(json!({"x-amz-server-side-encryption": "AES256"})));
        assert!(has(
            json!({"x-amz-credential": "AKID/20261129/eu-central-1/s3/aws4_request"})
        ));
        assert!(has(json!({"x-amz-security-token": "token"})));
        assert!(
            !decoded.windows(11).any(|w| w == b"starts-with"),
            "never starts-with"
        );
        assert_eq!(form.fields["x-amz-date"], "20261129T120000Z");
        assert_eq!(
            form.fields["x-amz-signature"],
            sign_policy("secret", policy.now, "eu-central-1", &form.fields["policy"])
        );
        assert!(!format!("{credentials:?}").contains("secret\""));
    }
}
