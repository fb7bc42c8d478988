//! Service SAS tokens for one blob, signed here so that they can carry the
//! `Content-Disposition` override (`rscd`), which `azure_storage` 0.21 cannot sign.
//! The HMAC is the `hmac`/`sha2` crates'; the string-to-sign is Azure's for version
//! [`SAS_VERSION`].

use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};

/// The service version the tokens are signed for.
pub const SAS_VERSION: &str = "2022-11-02";

/// What a token allows on one blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobSas<'a> {
    /// The storage account.
    pub account: &'a str,
    /// The container.
    pub container: &'a str,
    /// The blob name (unencoded).
    pub blob: &'a str,
    /// Permissions in Azure's order, e.g. `r`, or `cw`.
    pub permissions: &'a str,
    /// When it expires.
    pub expiry: DateTime<Utc>,
    /// The `Content-Disposition` the service answers with, for downloads.
    pub content_disposition: Option<&'a str>,
}

impl BlobSas<'_> {
    /// The query string of the token (without `?`), signed with the base64 `account_key`.
    ///
    /// # Errors
    /// When the key is not base64.
    pub fn token(&self, account_key: &str) -> Result<String, base64::DecodeError> {
        let key = base64::engine::general_purpose::STANDARD.decode(account_key)?;
        let expiry = self.expiry.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let resource = format!("/blob/{}/{}/{}", self.account, self.container, self.blob);
        let rscd = self.content_disposition.unwrap_or("");
        let to_sign = [
            self.permissions,
            "",
            &expiry,
            &resource,
            "",
            "",
            "",
            SAS_VERSION,
            "b",
            "",
            "",
            "",
            rscd,
            "",
            "",
            "",
        ]
        .join("\n");
        let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(to_sign.as_bytes());
        let signature =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("sv", SAS_VERSION);
        query.append_pair("sp", self.permissions);
        query.append_pair("sr", "b");
        query.append_pair("se", &expiry);
        if let Some(d) = self.content_disposition {
            query.append_pair("rscd", d);
        }
        query.append_pair("sig", &signature);
        Ok(query.finish())
    }
}
