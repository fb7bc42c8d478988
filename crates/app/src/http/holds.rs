//! Routes of legal holds and retention.

use super::*;

/// Places a legal hold (the whole case when no scope is given). Owners only. From now on nothing
/// it covers — files uploaded later included, for a case or prefix scope — can be deleted or
/// purged until it is released.
#[utoipa::path(post, path = "/v1/cases/{case_id}/holds", tag = "holds", security(("bearer" = [])),
    params(("case_id" = Uuid, Path, description = CASE_ID)),
    request_body = NewHoldBody,
    responses(
        (status = 201, description = "the hold", body = HoldView),
        (status = 400, description = "an empty or over-long name or reason, a bad prefix, an empty file list", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "the caller is a member but not an owner (`forbidden`)", body = ErrorBody),
        (status = 404, description = "no such case, the caller is not a member, or a listed file is not a file of this case", body = ErrorBody),
    ))]
pub(super) async fn place_hold(
    State(s): State<AppState>,
    Caller(user): Caller,
    CasePath(case_id): CasePath,
    ApiJson(body): ApiJson<NewHoldBody>,
) -> Result<Response, ApiError> {
    let request = NewHold {
        name: body.name,
        reason: body.reason,
        scope: body.scope.map(Into::into),
    };
    let hold = s.service.place_hold(user, case_id, request).await?;
    Ok((StatusCode::CREATED, Json(HoldView::from(&hold))).into_response())
}

/// The legal holds of a case, active and released, for any member.
#[utoipa::path(get, path = "/v1/cases/{case_id}/holds", tag = "holds", security(("bearer" = [])),
    params(("case_id" = Uuid, Path, description = CASE_ID)),
    responses(
        (status = 200, description = "the holds, oldest first", body = HoldList),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 404, description = "no such case, or the caller is not a member", body = ErrorBody),
    ))]
pub(super) async fn list_holds(
    State(s): State<AppState>,
    Caller(user): Caller,
    CasePath(case_id): CasePath,
) -> Result<Json<HoldList>, ApiError> {
    let holds = s.service.list_holds(user, case_id).await?;
    Ok(Json(HoldList {
        holds: holds.iter().map(HoldView::from).collect(),
    }))
}

/// Releases a legal hold. Owners of its case only; a hold is released once, and what it covered
/// stays held while another active hold covers it.
#[utoipa::path(post, path = "/v1/holds/{hold_id}/release", tag = "holds", security(("bearer" = [])),
    params(("hold_id" = Uuid, Path, description = "the hold's id")),
    request_body = ReleaseBody,
    responses(
        (status = 200, description = "the released hold", body = HoldView),
        (status = 400, description = "an empty or over-long reason", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "the caller is a member of the hold's case but not an owner (`forbidden`)", body = ErrorBody),
        (status = 404, description = "no such hold in a case of the caller's", body = ErrorBody),
        (status = 409, description = "the hold is released already", body = ErrorBody),
    ))]
pub(super) async fn release_hold(
    State(s): State<AppState>,
    Caller(user): Caller,
    HoldPath(hold_id): HoldPath,
    ApiJson(body): ApiJson<ReleaseBody>,
) -> Result<Json<HoldView>, ApiError> {
    let hold = s.service.release_hold(user, hold_id, &body.reason).await?;
    Ok(Json(HoldView::from(&hold)))
}

/// Sets or extends the case's retention: nothing in it can be deleted before `retain_until`.
/// Owners only; extended, never shortened.
#[utoipa::path(put, path = "/v1/cases/{case_id}/retention", tag = "holds", security(("bearer" = [])),
    params(("case_id" = Uuid, Path, description = CASE_ID)),
    request_body = RetentionBody,
    responses(
        (status = 200, description = "the case, with its retention", body = CaseView),
        (status = 400, description = "a date that is not in the future", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "the caller is a member but not an owner (`forbidden`)", body = ErrorBody),
        (status = 404, description = "no such case, or the caller is not a member", body = ErrorBody),
        (status = 409, description = "a date before the retention in force (`conflict`)", body = ErrorBody),
    ))]
pub(super) async fn set_retention(
    State(s): State<AppState>,
    Caller(user): Caller,
    CasePath(case_id): CasePath,
    ApiJson(body): ApiJson<RetentionBody>,
) -> Result<Json<CaseView>, ApiError> {
    let case = s
        .service
        .set_retention(user, case_id, body.retain_until)
        .await?;
    Ok(Json(CaseView::from(&case)))
}

/// Gives a completed file its own retention date, later than its case's: nothing deletes it
/// before. Owners only; extended, never shortened.
#[utoipa::path(put, path = "/v1/files/{file_id}/retention", tag = "holds", security(("bearer" = [])),
    params(("file_id" = Uuid, Path, description = FILE_ID)),
    request_body = RetentionBody,
    responses(
        (status = 200, description = "the file, with what protects it", body = FileView),
        (status = 400, description = "a date that is not in the future, or not later than the case's retention", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "the caller is a member of the file's case but not an owner (`forbidden`)", body = ErrorBody),
        (status = 404, description = "no such completed file in a case of the caller's", body = ErrorBody),
        (status = 409, description = "a date before the file's retention in force (`conflict`)", body = ErrorBody),
    ))]
pub(super) async fn set_file_retention(
    State(s): State<AppState>,
    Caller(user): Caller,
    FilePath(file_id): FilePath,
    ApiJson(body): ApiJson<RetentionBody>,
) -> Result<Json<FileView>, ApiError> {
    let (file, protection) = s
        .service
        .set_file_retention(user, file_id, body.retain_until)
        .await?;
    Ok(Json(FileView::from(&file).protected(&protection)))
}
