//! Bearer tokens: HS256 JWTs with `sub` = the user's UUID and a required `exp`.

use casefile_domain::legal::UserId;
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
    iat: i64,
}

/// Mints and checks tokens with one secret.
#[derive(Clone)]
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokens(<secret>)")
    }
}

impl Tokens {
    /// Tokens signed with `secret`.
    pub fn new(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    /// A token for `user`, valid for `ttl_secs`.
    ///
    /// # Errors
    /// When signing fails.
    pub fn mint(&self, user: UserId, ttl_secs: i64) -> Result<String, jsonwebtoken::errors::Error> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user.to_string(),
            exp: now + ttl_secs,
            iat: now,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// The user of a valid token; `None` for a missing, expired, forged or malformed one.
    pub fn verify(&self, token: &str) -> Option<UserId> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).ok()?;
        uuid::Uuid::parse_str(&data.claims.sub).ok().map(UserId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_refuse_forgery_and_expiry() {
        let tokens = Tokens::new(&[7u8; 32]);
        let user = UserId::new();
        assert_eq!(tokens.verify(&tokens.mint(user, 60).unwrap()), Some(user));
        assert_eq!(
            tokens.verify(&tokens.mint(user, -10).unwrap()),
            None,
            "expired"
        );
        let other = Tokens::new(&[8u8; 32]);
        assert_eq!(
            other.verify(&tokens.mint(user, 60).unwrap()),
            None,
            "forged"
        );
        assert_eq!(tokens.verify("not.a.token"), None);
    }
}
