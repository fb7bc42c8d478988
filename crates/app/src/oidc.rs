//! Sign-in from the firm's OpenID Connect provider: bearer tokens signed with a key of the
//! provider's JSON Web Key Set (RS256/384/512, PS256/384/512, ES256/384, EdDSA).
//!
//! - Keys come from `auth.jwks_url` (fetched) or `auth.jwks_file` (read), are cached for
//!   `auth.jwks_cache_secs`, and are fetched again when a token names a `kid` the cache does not
//!   hold — at most once per `auth.jwks_min_refresh_secs`, so a flood of made-up `kid`s cannot
//!   turn casefile into a load generator against the provider. A failed refresh keeps the keys
//!   already known (and logs it).
//! - `alg: none`, every HMAC algorithm (`HS*`), symmetric (`oct`) keys and encryption keys
//!   (`use: enc`) are refused; a key that names its `alg` is used for that algorithm only, and a
//!   key is only ever used with an algorithm of its own family (no RSA-public-key-as-HMAC-secret
//!   confusion).
//! - `iss`, `aud` and `exp` are required and checked, `nbf` when present, with a leeway of
//!   `auth.leeway_secs` (default 60 s).
//! - The user is the claim `auth.user_claim` (default `sub`): a UUID is taken as it is; any other
//!   subject maps to a stable UUIDv5 — see [`user_id_for`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use casefile_domain::legal::{UserId, UserProfile};
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

/// The most bytes a JWKS document may have.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// Where the provider's keys are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// Fetched over HTTP(S).
    Url(String),
    /// Read from a file (a provider's keys exported, or an air-gapped deployment).
    File(PathBuf),
}

/// What the provider's tokens must be.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The required `iss`.
    pub issuer: String,
    /// The required `aud` (one of the token's audiences).
    pub audience: String,
    /// Where the keys are.
    pub jwks: JwksSource,
    /// The claim naming the user.
    pub user_claim: String,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
    /// How long fetched keys are trusted before they are fetched again.
    pub cache_ttl: Duration,
    /// The least time between two fetches.
    pub min_refresh: Duration,
}

/// Who a valid token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user.
    pub user: UserId,
    /// What the token says of them (name, e-mail), for member lists.
    pub profile: UserProfile,
}

/// The user id of `subject` at `issuer`: the subject itself when it is a UUID; otherwise
/// `UUIDv5(UUIDv5(NAMESPACE_URL, issuer), subject)` — stable for a given provider and subject,
/// different across providers.
pub fn user_id_for(issuer: &str, subject: &str) -> UserId {
    if let Ok(id) = uuid::Uuid::parse_str(subject) {
        return UserId(id);
    }
    let namespace = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, issuer.as_bytes());
    UserId(uuid::Uuid::new_v5(&namespace, subject.as_bytes()))
}

/// A usable verification key.
#[derive(Clone)]
struct Key {
    key: DecodingKey,
    /// The algorithm the JWK names, when it does.
    alg: Option<Algorithm>,
    family: Family,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Rsa,
    Ec,
    Ed,
}

fn family_of(alg: Algorithm) -> Option<Family> {
    use Algorithm as A;
    match alg {
        A::RS256 | A::RS384 | A::RS512 | A::PS256 | A::PS384 | A::PS512 => Some(Family::Rsa),
        A::ES256 | A::ES384 => Some(Family::Ec),
        A::EdDSA => Some(Family::Ed),
        // HMAC (a shared secret is never a provider's key), and whatever comes later.
        _ => None,
    }
}

#[derive(Default)]
struct Keys {
    by_kid: HashMap<String, Key>,
    without_kid: Vec<Key>,
    fetched_at: Option<Instant>,
}

/// Verifies the provider's tokens.
pub struct Oidc {
    settings: OidcSettings,
    http: reqwest::Client,
    keys: RwLock<Arc<Keys>>,
    /// Held while fetching; records when the last fetch was tried.
    refresh: tokio::sync::Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field("issuer", &self.settings.issuer)
            .field("audience", &self.settings.audience)
            .field("jwks", &self.settings.jwks)
            .finish_non_exhaustive()
    }
}

/// Why the keys could not be had.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// Fetching or reading failed.
    #[error("cannot get the JWKS: {0}")]
    Io(String),
    /// The document is not a JWKS.
    #[error("the JWKS is malformed: {0}")]
    Malformed(String),
}

impl Oidc {
    /// A verifier; keys are fetched on first use.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(settings: OidcSettings) -> Result<Self, JwksError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| JwksError::Io(e.to_string()))?;
        Ok(Self {
            settings,
            http,
            keys: RwLock::new(Arc::new(Keys::default())),
            refresh: tokio::sync::Mutex::new(None),
        })
    }

    /// The settings in force.
    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// The identity of a valid token; `None` for anything else (the reason is logged at debug
    /// level, never told to the caller).
    pub async fn verify(&self, token: &str) -> Option<Identity> {
        let header = match jsonwebtoken::decode_header(token) {
            Ok(h) => h,
            Err(e) => {
                tracing::debug!(error = %e, "token refused: malformed header");
                return None;
            }
        };
        let Some(family) = family_of(header.alg) else {
            tracing::debug!(alg = ?header.alg, "token refused: algorithm not allowed");
            return None;
        };
        let key = self
            .key_for(header.kid.as_deref(), header.alg, family)
            .await?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.settings.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let claims = match jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
            token,
            &key.key,
            &validation,
        ) {
            Ok(data) => data.claims,
            Err(e) => {
                tracing::debug!(error = %e, "token refused");
                return None;
            }
        };
        let subject = claims
            .get(&self.settings.user_claim)
            .and_then(serde_json::Value::as_str)
            .filter(|s| !s.is_empty())?;
        let text = |name: &str| {
            claims
                .get(name)
                .and_then(serde_json::Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty() && s.chars().count() <= 200)
                .map(str::to_owned)
        };
        let profile = UserProfile {
            display_name: text("name").or_else(|| text("preferred_username")),
            email: text("email").filter(|e| e.contains('@') && e.len() <= 254),
        };
        Some(Identity {
            user: user_id_for(&self.settings.issuer, subject),
            profile,
        })
    }

    /// The key for a token's `kid` and `alg`, refreshing the cache when it has expired or does
    /// not know the `kid` (rate-limited).
    async fn key_for(&self, kid: Option<&str>, alg: Algorithm, family: Family) -> Option<Key> {
        let keys = self.current();
        let expired = keys
            .fetched_at
            .is_none_or(|at| at.elapsed() >= self.settings.cache_ttl);
        if !expired && let Some(key) = Self::pick(&keys, kid, alg, family) {
            return Some(key);
        }
        let keys = self.refresh_keys().await;
        Self::pick(&keys, kid, alg, family)
    }

    fn current(&self) -> Arc<Keys> {
        match self.keys.read() {
            Ok(k) => Arc::clone(&k),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    fn pick(keys: &Keys, kid: Option<&str>, alg: Algorithm, family: Family) -> Option<Key> {
        let usable = |k: &&Key| k.family == family && k.alg.is_none_or(|a| a == alg);
        match kid {
            Some(kid) => keys.by_kid.get(kid).filter(usable).cloned(),
            None => {
                // No kid: only when exactly one key of the family could have signed it.
                let mut candidates = keys
                    .by_kid
                    .values()
                    .chain(keys.without_kid.iter())
                    .filter(usable);
                let first = candidates.next()?;
                candidates.next().is_none().then(|| first.clone())
            }
        }
    }

    /// Fetches the keys again, at most once per `min_refresh` (whatever the reason, and
    /// whether the last try worked or not): requests that queued behind a fetch use its keys.
    async fn refresh_keys(&self) -> Arc<Keys> {
        let mut last = self.refresh.lock().await;
        let current = self.current();
        if let Some(tried) = *last
            && tried.elapsed() < self.settings.min_refresh
        {
            return current;
        }
        *last = Some(Instant::now());
        match self.load().await {
            Ok(keys) => {
                let keys = Arc::new(keys);
                match self.keys.write() {
                    Ok(mut k) => *k = Arc::clone(&keys),
                    Err(poisoned) => *poisoned.into_inner() = Arc::clone(&keys),
                }
                keys
            }
            Err(e) => {
                tracing::warn!(error = %e, "JWKS refresh failed; keeping the keys already known");
                current
            }
        }
    }

    async fn load(&self) -> Result<Keys, JwksError> {
        let bytes = match &self.settings.jwks {
            JwksSource::File(path) => tokio::fs::read(path)
                .await
                .map_err(|e| JwksError::Io(format!("{}: {e}", path.display())))?,
            JwksSource::Url(url) => {
                let mut response = self
                    .http
                    .get(url)
                    .header(reqwest::header::ACCEPT, "application/json")
                    .send()
                    .await
                    .map_err(|e| JwksError::Io(e.without_url().to_string()))?;
                if !response.status().is_success() {
                    return Err(JwksError::Io(format!("HTTP {}", response.status())));
                }
                let mut body = Vec::new();
                while let Some(chunk) = response
                    .chunk()
                    .await
                    .map_err(|e| JwksError::Io(e.without_url().to_string()))?
                {
                    if body.len() + chunk.len() > MAX_JWKS_BYTES {
                        return Err(JwksError::Malformed("larger than 1 MiB".into()));
                    }
                    body.extend_from_slice(&chunk);
                }
                body
            }
        };
        parse_jwks(&bytes)
    }
}

/// The usable keys of a JWKS document: every key that parses, is a public RSA, EC or OKP key
/// and is not for encryption. A key that does not parse is skipped (a provider may publish key
/// types this library does not know), but a document with no usable key is an error.
fn parse_jwks(bytes: &[u8]) -> Result<Keys, JwksError> {
    #[derive(serde::Deserialize)]
    struct Document {
        keys: Vec<serde_json::Value>,
    }
    let doc: Document =
        serde_json::from_slice(bytes).map_err(|e| JwksError::Malformed(e.to_string()))?;
    let mut keys = Keys {
        fetched_at: Some(Instant::now()),
        ..Keys::default()
    };
    for value in doc.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            continue;
        };
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            continue;
        }
        let family = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => Family::Rsa,
            AlgorithmParameters::EllipticCurve(_) => Family::Ec,
            AlgorithmParameters::OctetKeyPair(_) => Family::Ed,
            // Symmetric keys, and key types added later, are never used.
            _ => continue,
        };
        let alg = match jwk.common.key_algorithm {
            None => None,
            Some(named) => match signing_algorithm(named) {
                Some(a) if family_of(a) == Some(family) => Some(a),
                _ => continue,
            },
        };
        let Ok(key) = DecodingKey::from_jwk(&jwk) else {
            continue;
        };
        let key = Key { key, alg, family };
        match jwk.common.key_id {
            Some(kid) => {
                keys.by_kid.insert(kid, key);
            }
            None => keys.without_kid.push(key),
        }
    }
    if keys.by_kid.is_empty() && keys.without_kid.is_empty() {
        return Err(JwksError::Malformed("no usable signing key".into()));
    }
    Ok(keys)
}

fn signing_algorithm(named: KeyAlgorithm) -> Option<Algorithm> {
    use KeyAlgorithm as K;
    Some(match named {
        K::RS256 => Algorithm::RS256,
        K::RS384 => Algorithm::RS384,
        K::RS512 => Algorithm::RS512,
        K::PS256 => Algorithm::PS256,
        K::PS384 => Algorithm::PS384,
        K::PS512 => Algorithm::PS512,
        K::ES256 => Algorithm::ES256,
        K::ES384 => Algorithm::ES384,
        K::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn subjects_map_to_stable_user_ids() {
        let uuid = "6f1c1a52-4a0e-4a59-9a4b-6f0e7a3f0c11";
        assert_eq!(user_id_for("https://idp.example", uuid).0.to_string(), uuid);
        let a = user_id_for("https://idp.example", "alice@firm.example");
        assert_eq!(a, user_id_for("https://idp.example", "alice@firm.example"));
        assert_ne!(
            a,
            user_id_for("https://other.example", "alice@firm.example")
        );
        assert_eq!(a.0.get_version_num(), 5);
    }

    #[test]
    fn symmetric_and_encryption_keys_are_never_used() {
        let doc = serde_json::json!({"keys": [
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"},
            {"kty": "nonsense"},
        ]});
        assert!(parse_jwks(doc.to_string().as_bytes()).is_err());
        assert!(parse_jwks(b"not json").is_err());
    }
}
