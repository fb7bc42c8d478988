//! Bearer tokens: HS256 JWTs with `sub` = the user's UUID, and `iat` and `exp` required.
//!
//! A token's lifetime (`exp - iat`) is at most [`TokenPolicy::max_lifetime_secs`] (default 24 h),
//! checked when minting and again when verifying (a token minted elsewhere with a longer life is
//! refused). `iss` and `aud` are checked when configured. Several verification secrets may be in
//! force at once for rotation: tokens are signed with the first, accepted with any.

use casefile_domain::legal::UserId;
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// The default longest token lifetime: 24 hours.
pub const DEFAULT_MAX_TOKEN_LIFETIME_SECS: u64 = 24 * 60 * 60;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
    iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aud: Option<String>,
}

/// What a token must carry beyond its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPolicy {
    /// The `iss` minted and required, if any.
    pub issuer: Option<String>,
    /// The `aud` minted and required, if any.
    pub audience: Option<String>,
    /// The longest `exp - iat`, seconds.
    pub max_lifetime_secs: u64,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        Self {
            issuer: None,
            audience: None,
            max_lifetime_secs: DEFAULT_MAX_TOKEN_LIFETIME_SECS,
        }
    }
}

/// Why a token cannot be minted.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The lifetime asked for is not within 1 second to the configured maximum.
    #[error("a token lifetime must be within 1..={max} seconds, not {asked}")]
    Lifetime {
        /// What was asked.
        asked: i64,
        /// The maximum.
        max: u64,
    },
    /// Signing failed.
    #[error("cannot sign the token: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// Mints and checks tokens.
#[derive(Clone)]
pub struct Tokens {
    encoding: EncodingKey,
    decoding: Vec<DecodingKey>,
    policy: TokenPolicy,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("secrets", &self.decoding.len())
            .field("policy", &self.policy)
            .finish()
    }
}

impl Tokens {
    /// Tokens signed and checked with `secret`, with the default policy.
    pub fn new(secret: &[u8]) -> Self {
        Self::with_policy(secret, &[], TokenPolicy::default())
    }

    /// Tokens signed with `secret` and accepted when signed with it or any of `previous`
    /// (rotation), under `policy`.
    pub fn with_policy(secret: &[u8], previous: &[&[u8]], policy: TokenPolicy) -> Self {
        let mut decoding = vec![DecodingKey::from_secret(secret)];
        decoding.extend(previous.iter().map(|s| DecodingKey::from_secret(s)));
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding,
            policy,
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &TokenPolicy {
        &self.policy
    }

    /// A token for `user`, valid for `ttl_secs`.
    ///
    /// # Errors
    /// [`TokenError::Lifetime`] for a lifetime outside `1..=max_lifetime_secs` (no overflow,
    /// whatever is asked); [`TokenError::Sign`] when signing fails.
    pub fn mint(&self, user: UserId, ttl_secs: i64) -> Result<String, TokenError> {
        let max = self.policy.max_lifetime_secs;
        let within = u64::try_from(ttl_secs).is_ok_and(|t| (1..=max).contains(&t));
        if !within {
            return Err(TokenError::Lifetime {
                asked: ttl_secs,
                max,
            });
        }
        let now = Utc::now().timestamp();
        let exp = now.checked_add(ttl_secs).ok_or(TokenError::Lifetime {
            asked: ttl_secs,
            max,
        })?;
        let claims = Claims {
            sub: user.to_string(),
            exp,
            iat: now,
            iss: self.policy.issuer.clone(),
            aud: self.policy.audience.clone(),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// The user of a valid token; `None` for a missing, expired, forged, malformed, over-long,
    /// wrong-issuer or wrong-audience one.
    pub fn verify(&self, token: &str) -> Option<UserId> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        let mut required = vec!["exp", "sub", "iat"];
        if let Some(iss) = &self.policy.issuer {
            validation.set_issuer(&[iss]);
            required.push("iss");
        }
        match &self.policy.audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        let data = self
            .decoding
            .iter()
            .find_map(|key| jsonwebtoken::decode::<Claims>(token, key, &validation).ok())?;
        let claims = data.claims;
        let lifetime = claims.exp.checked_sub(claims.iat)?;
        let max = i64::try_from(self.policy.max_lifetime_secs).unwrap_or(i64::MAX);
        if lifetime <= 0 || lifetime > max || claims.iat > Utc::now().timestamp() + 60 {
            return None;
        }
        uuid::Uuid::parse_str(&claims.sub).ok().map(UserId)
    }
}

/// How API requests are authenticated: the embedded default (HS256 tokens of the local secret,
/// minted by `casefile token`), or the firm's OpenID Connect provider — then only the provider's
/// tokens are accepted, and every HS* token is refused.
#[derive(Debug, Clone)]
pub enum Authenticator {
    /// HS256 with the local secret.
    Local(Tokens),
    /// The provider's JWKS.
    Oidc(std::sync::Arc<crate::oidc::Oidc>),
}

impl Authenticator {
    /// Who a valid bearer token names; `None` for any token that is not valid.
    pub async fn authenticate(&self, token: &str) -> Option<crate::oidc::Identity> {
        match self {
            Self::Local(tokens) => tokens.verify(token).map(|user| crate::oidc::Identity {
                user,
                profile: casefile_domain::legal::UserProfile::default(),
            }),
            Self::Oidc(oidc) => oidc.verify(token).await,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sign(claims: &serde_json::Value, secret: &[u8]) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(secret),
        )
        .unwrap()
    }

    #[test]
    fn tokens_round_trip_and_refuse_forgery_and_expiry() {
        let tokens = Tokens::new(&[7u8; 32]);
        let user = UserId::new();
        assert_eq!(tokens.verify(&tokens.mint(user, 60).unwrap()), Some(user));
        let now = Utc::now().timestamp();
        let expired = sign(
            &serde_json::json!({"sub": user.to_string(), "iat": now - 100, "exp": now - 10}),
            &[7u8; 32],
        );
        assert_eq!(tokens.verify(&expired), None, "expired");
        let other = Tokens::new(&[8u8; 32]);
        assert_eq!(
            other.verify(&tokens.mint(user, 60).unwrap()),
            None,
            "forged"
        );
        assert_eq!(tokens.verify("not.a.token"), None);
    }

    #[test]
    fn lifetimes_are_bounded_when_minting_and_verifying() {
        let tokens = Tokens::new(&[7u8; 32]);
        let user = UserId::new();
        for ttl in [0, -10, i64::MAX, i64::MIN, 24 * 3600 + 1] {
            assert!(
                matches!(tokens.mint(user, ttl), Err(TokenError::Lifetime { .. })),
                "{ttl}"
            );
        }
        assert!(tokens.mint(user, 24 * 3600).is_ok());
        // Minted elsewhere with the same secret but a 30-day life, or without iat: refused.
        let now = Utc::now().timestamp();
        let long = sign(
            &serde_json::json!({"sub": user.to_string(), "iat": now, "exp": now + 30 * 86400}),
            &[7u8; 32],
        );
        assert_eq!(tokens.verify(&long), None);
        let no_iat = sign(
            &serde_json::json!({"sub": user.to_string(), "exp": now + 60}),
            &[7u8; 32],
        );
        assert_eq!(tokens.verify(&no_iat), None);
    }

    #[test]
    fn issuer_and_audience_are_checked_when_configured() {
        let policy = TokenPolicy {
            issuer: Some("https://casefile.firm.example".into()),
            audience: Some("casefile".into()),
            ..TokenPolicy::default()
        };
        let tokens = Tokens::with_policy(&[7u8; 32], &[], policy);
        let user = UserId::new();
        assert_eq!(tokens.verify(&tokens.mint(user, 60).unwrap()), Some(user));
        let now = Utc::now().timestamp();
        for claims in [
            serde_json::json!({"sub": user.to_string(), "iat": now, "exp": now + 60}),
            serde_json::json!({"sub": user.to_string(), "iat": now, "exp": now + 60,
                "iss": "https://evil.example", "aud": "casefile"}),
            serde_json::json!({"sub": user.to_string(), "iat": now, "exp": now + 60,
                "iss": "https://casefile.firm.example", "aud": "other"}),
        ] {
            assert_eq!(tokens.verify(&sign(&claims, &[7u8; 32])), None, "{claims}");
        }
    }

    #[test]
    fn previous_secrets_verify_during_rotation() {
        let user = UserId::new();
        let old = Tokens::new(&[1u8; 32]);
        let token = old.mint(user, 60).unwrap();
        let rotated = Tokens::with_policy(&[2u8; 32], &[&[1u8; 32]], TokenPolicy::default());
        assert_eq!(rotated.verify(&token), Some(user));
        // New tokens are signed with the new secret only.
        let fresh = rotated.mint(user, 60).unwrap();
        assert_eq!(old.verify(&fresh), None);
        assert_eq!(Tokens::new(&[2u8; 32]).verify(&fresh), Some(user));
        // Once the old secret is dropped, its tokens stop working.
        assert_eq!(Tokens::new(&[2u8; 32]).verify(&token), None);
    }
}
