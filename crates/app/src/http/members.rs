//! Routes of a case's members.

use super::*;

/// The `{user_id}` path parameter's documentation.
const USER_ID: &str = "the member's user id (a UUID)";

/// The members of a case, with their roles, for any member.
#[utoipa::path(get, path = "/v1/cases/{case_id}/members", tag = "members", security(("bearer" = [])),
    params(("case_id" = Uuid, Path, description = CASE_ID)),
    responses(
        (status = 200, description = "the members, in the order they were added", body = MemberList),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 404, description = "no such case, or the caller is not a member", body = ErrorBody),
    ))]
pub(super) async fn list_members(
    State(s): State<AppState>,
    Caller(user): Caller,
    CasePath(case_id): CasePath,
) -> Result<Json<MemberList>, ApiError> {
    let members = s.service.list_members(user, case_id).await?;
    Ok(Json(MemberList {
        members: members.iter().map(MemberView::from).collect(),
    }))
}

/// Gives a user a role in the case: adds them, or changes their role. Owners only.
#[utoipa::path(put, path = "/v1/cases/{case_id}/members/{user_id}", tag = "members", security(("bearer" = [])),
    params(("case_id" = Uuid, Path, description = CASE_ID), ("user_id" = Uuid, Path, description = USER_ID)),
    request_body = PutMember,
    responses(
        (status = 200, description = "the member, with the role given", body = MemberView),
        (status = 400, description = "an unknown role, or a user id that is not a UUID", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "the caller is a member but not an owner (`forbidden`)", body = ErrorBody),
        (status = 404, description = "no such case, or the caller is not a member", body = ErrorBody),
        (status = 409, description = "the change would leave the case without an owner", body = ErrorBody),
    ))]
pub(super) async fn put_member(
    State(s): State<AppState>,
    Caller(user): Caller,
    MemberPath(case_id, member): MemberPath,
    ApiJson(body): ApiJson<PutMember>,
) -> Result<Json<MemberView>, ApiError> {
    let role = Role::parse(&body.role).ok_or_else(|| {
        ApiError::invalid(format!(
            "invalid role: {:?} is not one of owner, editor, viewer, auditor",
            body.role
        ))
    })?;
    let member = s.service.set_member(user, case_id, member, role).await?;
    Ok(Json(MemberView::from(&member)))
}

/// Removes a member from the case. Owners only.
#[utoipa::path(delete, path = "/v1/cases/{case_id}/members/{user_id}", tag = "members", security(("bearer" = [])),
    params(("case_id" = Uuid, Path, description = CASE_ID), ("user_id" = Uuid, Path, description = USER_ID)),
    responses(
        (status = 204, description = "removed"),
        (status = 400, description = "a user id that is not a UUID", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "the caller is a member but not an owner (`forbidden`)", body = ErrorBody),
        (status = 404, description = "no such case, the caller is not a member, or the user is not one", body = ErrorBody),
        (status = 409, description = "the last owner cannot be removed", body = ErrorBody),
    ))]
pub(super) async fn remove_member(
    State(s): State<AppState>,
    Caller(user): Caller,
    MemberPath(case_id, member): MemberPath,
) -> Result<StatusCode, ApiError> {
    s.service.remove_member(user, case_id, member).await?;
    Ok(StatusCode::NO_CONTENT)
}
