//! Extractors: the authenticated caller, the id path segments, JSON bodies and queries whose
//! rejections speak the API's error format, and request bodies as byte streams.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use super::*;

/// The authenticated caller.
pub struct Caller(pub UserId);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(ApiError::unauthorized)?;
        let identity = state
            .auth
            .authenticate(token.trim())
            .await
            .ok_or_else(ApiError::unauthorized)?;
        let user = identity.user;
        if let Some(slot) = parts.extensions.get::<crate::observe::CallerSlot>() {
            slot.set(user);
        }
        if !identity.profile.is_empty() && state.profiles.changed(user, &identity.profile) {
            // A label for member lists: failing to keep it never fails the request.
            if let Err(e) = state.service.remember_user(user, &identity.profile).await {
                state.profiles.forget(user);
                tracing::warn!(error = %e, "could not keep the caller's profile");
            }
        }
        Ok(Caller(user))
    }
}

/// Extractors of the `{case_id}` and `{file_id}` path segments. A malformed id names nothing:
/// it answers exactly like a missing case or file.
macro_rules! id_path {
    ($name:ident, $id:ty, $what:literal) => {
        #[doc = concat!("The `{", $what, "_id}` path segment.")]
        pub struct $name(pub $id);

        impl<S: Send + Sync> FromRequestParts<S> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(
                parts: &mut Parts,
                state: &S,
            ) -> Result<Self, Self::Rejection> {
                let missing = || {
                    ApiError::new(
                        StatusCode::NOT_FOUND,
                        "not_found",
                        concat!($what, " not found"),
                    )
                };
                let Path(raw) = Path::<String>::from_request_parts(parts, state)
                    .await
                    .map_err(|_| missing())?;
                uuid::Uuid::parse_str(&raw)
                    .map(|id| Self(<$id>::from(id)))
                    .map_err(|_| missing())
            }
        }
    };
}
id_path!(CasePath, CaseId, "case");
id_path!(FilePath, FileId, "file");
id_path!(HoldPath, HoldId, "hold");

pub(crate) fn body_stream(body: Body) -> ByteStream {
    Box::pin(
        body.into_data_stream()
            .map_err(|e| StorageError::invalid_input("body", e.to_string())),
    )
}

/// The `{case_id}` and `{user_id}` path segments of a member route: a malformed case id
/// answers like a missing case; a user id that is not a UUID is `invalid_input`.
pub struct MemberPath(pub CaseId, pub UserId);

impl<S: Send + Sync> FromRequestParts<S> for MemberPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let missing = || ApiError::new(StatusCode::NOT_FOUND, "not_found", "case not found");
        let Path((case, user)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|_| missing())?;
        let case = uuid::Uuid::parse_str(&case).map_err(|_| missing())?;
        let user = uuid::Uuid::parse_str(&user)
            .map_err(|_| ApiError::invalid("invalid user_id: must be a UUID"))?;
        Ok(Self(CaseId(case), UserId(user)))
    }
}

/// A JSON body whose rejection is an [`ApiError`] in the API's error format.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "the JSON body is too large",
        );
    }
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::invalid("a JSON body needs `Content-Type: application/json`")
        }
        other => ApiError::invalid(other.body_text()),
    }
}

/// Query parameters whose rejection is an [`ApiError`] in the API's error format.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(query_rejection(&rejection)),
        }
    }
}

fn query_rejection(rejection: &QueryRejection) -> ApiError {
    ApiError::invalid(rejection.body_text())
}
