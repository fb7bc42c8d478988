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
    /// Signs `spr=https`: the service refuses the token over plain HTTP. Set for every real
    /// endpoint; only a loopback emulator on `http://` goes without.
    pub https_only: bool,
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
            if self.https_only { "https" } else { "" },
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
        if self.https_only {
            query.append_pair("spr", "https");
        }
        if let Some(d) = self.content_disposition {
            query.append_pair("rscd", d);
        }
        query.append_pair("sig", &signature);
        Ok(query.finish())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn https_only_is_signed_and_sent() {
        let sas = |https_only| BlobSas {
            account: "acct",
            container: "cases",
            blob: "a/b",
            permissions: "r",
            expiry: DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            content_disposition: None,
            https_only,
        };
        let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let strict = sas(true).token(&key).unwrap();
        let loose = sas(false).token(&key).unwrap();
        assert!(strict.contains("spr=https"), "{strict}");
        assert!(!loose.contains("spr="), "{loose}");
        // The protocol is part of what is signed: the signatures differ.
        let sig = |t: &str| t.split("sig=").nth(1).unwrap().to_owned();
        assert_ne!(sig(&strict), sig(&loose));
    }
}
