//! Routes of cases: create, list, read, and the audit trail.

use super::*;

/// The audit log's latest signed checkpoint (C2SP signed note: origin, tree size, base64 root,
/// then an Ed25519 signature line), made now when the log has grown since the last one. Any
/// signed-in user; check it offline with `casefile audit public-key`'s key.
#[utoipa::path(get, path = "/v1/audit/checkpoint", tag = "cases", security(("bearer" = [])),
    responses(
        (status = 200, description = "the signed checkpoint", content_type = "text/plain"),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
    ))]
pub(super) async fn checkpoint(
    State(s): State<AppState>,
    Caller(_user): Caller,
) -> Result<Response, ApiError> {
    let note = s.service.make_checkpoint(&s.checkpoints).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response())
}

fn hex(hash: &[u8; 32]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// The proof that an audit entry is in the log: against the latest signed checkpoint (which
/// comes with it), or the tree of `tree_size` entries. Owners and auditors of the entry's case.
#[utoipa::path(get, path = "/v1/audit/entries/{index}/proof", tag = "cases", security(("bearer" = [])),
    params(("index" = u64, Path, description = "the entry's log index"), ProofQuery),
    responses(
        (status = 200, description = "the proof", body = InclusionProofView),
        (status = 400, description = "an index past the end of the log, or a tree size larger than the log", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 404, description = "an entry of a case whose trail the caller may not read", body = ErrorBody),
    ))]
pub(super) async fn entry_proof(
    State(s): State<AppState>,
    Caller(user): Caller,
    Path(index): Path<String>,
    ApiQuery(query): ApiQuery<ProofQuery>,
) -> Result<Json<InclusionProofView>, ApiError> {
    let index: u64 = index
        .parse()
        .map_err(|_| ApiError::invalid("invalid index: a log index is a number"))?;
    let p = s
        .service
        .prove_entry(user, index, query.tree_size, &s.checkpoints)
        .await?;
    Ok(Json(InclusionProofView::from(p)))
}

/// The proof that the log of `to` entries extends the log of `from` entries. Any signed-in user.
#[utoipa::path(get, path = "/v1/audit/consistency", tag = "cases", security(("bearer" = [])),
    params(ConsistencyQuery),
    responses(
        (status = 200, description = "the proof", body = ConsistencyProofView),
        (status = 400, description = "unless from <= to <= the log's size", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
    ))]
pub(super) async fn consistency(
    State(s): State<AppState>,
    Caller(_user): Caller,
    ApiQuery(query): ApiQuery<ConsistencyQuery>,
) -> Result<Json<ConsistencyProofView>, ApiError> {
    let p = s.service.prove_consistency(query.from, query.to).await?;
    Ok(Json(ConsistencyProofView {
        from: p.from.0,
        from_root: hex(&p.from.1),
        to: p.to.0,
        to_root: hex(&p.to.1),
        proof: p.proof.iter().map(hex).collect(),
    }))
}

/// Creates a case; the caller becomes its owner.
#[utoipa::path(post, path = "/v1/cases", tag = "cases", security(("bearer" = [])),
    request_body = NewCase,
    responses(
        (status = 201, description = "created", body = CaseView),
        (status = 400, description = "invalid title or body", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
    ))]
pub(super) async fn create_case(
    State(s): State<AppState>,
    Caller(user): Caller,
    ApiJson(body): ApiJson<NewCase>,
) -> Result<Response, ApiError> {
    let case = s.service.create_case(user, &body.title).await?;
    let view = CaseView::from(&MemberCase {
        case,
        role: Role::Owner,
    });
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// The cases the caller is a member of, with their role, a page at a time.
#[utoipa::path(get, path = "/v1/cases", tag = "cases", security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "a page of the caller's cases, oldest first", body = CaseList),
        (status = 400, description = "a bad limit or cursor", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
    ))]
pub(super) async fn list_cases(
    State(s): State<AppState>,
    Caller(user): Caller,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<CaseList>, ApiError> {
    let page = s
        .service
        .list_cases(
            user,
            ListCases {
                cursor: q.cursor,
                limit: q.limit,
            },
        )
        .await?;
    Ok(Json(CaseList {
        cases: page.cases.iter().map(CaseView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// A case the caller is a member of, with their role.
#[utoipa::path(get, path = "/v1/cases/{case_id}", tag = "cases", security(("bearer" = [])),
    params(("case_id" = Uuid, Path, description = CASE_ID)),
    responses(
        (status = 200, description = "the case", body = CaseView),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 404, description = "no such case, or the caller is not a member", body = ErrorBody),
    ))]
pub(super) async fn get_case(
    State(s): State<AppState>,
    Caller(user): Caller,
    CasePath(case_id): CasePath,
) -> Result<Json<CaseView>, ApiError> {
    let case = s.service.get_case(user, case_id).await?;
    Ok(Json(CaseView::from(&case)))
}

/// A case's audit trail, oldest first, a page at a time.
#[utoipa::path(get, path = "/v1/cases/{case_id}/audit", tag = "cases", security(("bearer" = [])),
    params(("case_id" = Uuid, Path, description = CASE_ID), PageQuery),
    responses(
        (status = 200, description = "a page of entries", body = AuditPage),
        (status = 400, description = "malformed cursor or limit", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "an editor or viewer of the case: the trail is for owners and auditors (`forbidden`)", body = ErrorBody),
        (status = 404, description = "no such case, or the caller is not a member", body = ErrorBody),
    ))]
pub(super) async fn audit(
    State(s): State<AppState>,
    Caller(user): Caller,
    CasePath(case): CasePath,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let page = s
        .service
        .audit_trail(
            user,
            case,
            AuditTrailQuery {
                cursor: q.cursor,
                limit: q.limit,
            },
        )
        .await?;
    Ok(Json(AuditPage {
        entries: page.entries.iter().map(AuditEntryView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// The case as a production set, streamed as a ZIP (entries stored): natives under their
/// logical paths, Concordance DAT and CSV load files, `manifest.json`, and — for owners — the
/// case's audit entries with a signed checkpoint and an inclusion proof each (docs/export.md).
/// Every native is verified against its SHA-256 as it streams: on a mismatch the archive is cut
/// off before its central directory (an unreadable ZIP), and the failure is audited. Members who
/// may read content; check the result with `casefile export verify`.
#[utoipa::path(get, path = "/v1/cases/{case_id}/export.zip", tag = "cases", security(("bearer" = [])),
    params(("case_id" = Uuid, Path, description = CASE_ID)),
    responses(
        (status = 200, description = "the ZIP, streamed", content_type = "application/zip"),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "an auditor: auditors never read content (`forbidden`)", body = ErrorBody),
        (status = 404, description = "no such case, or the caller is not a member", body = ErrorBody),
        (status = 503, description = "every streaming slot is taken (`Retry-After`)", body = ErrorBody),
    ))]
pub(super) async fn export_zip(
    State(s): State<AppState>,
    Caller(user): Caller,
    CasePath(case): CasePath,
) -> Result<Response, ApiError> {
    let slot = s.streams.acquire()?;
    let export = s
        .service
        .begin_export(Some(user), case, "a ZIP streamed over HTTP")
        .await?;
    // The archive is written into one end of a pipe while the response reads the other: no
    // temporary file, memory bounded by the pipe and one chunk.
    let (reader, writer) = tokio::io::duplex(256 * 1024);
    let service = s.service.clone();
    let signer = Arc::clone(&s.checkpoints);
    tokio::spawn(async move {
        let sink = crate::export::Sink::zip(writer);
        if let Err(e) =
            crate::export::write_export(&service, &export, &signer, sink, &|_| {}, &|_| {}).await
        {
            // Dropping the writer ends the body short: the client gets no central directory.
            tracing::error!(case = %export.case.id, error = %e, "export over HTTP stopped");
        }
    });
    let body = crate::limits::holding(tokio_util::io::ReaderStream::new(reader), slot);
    let disposition = format!("attachment; filename=\"case-{}.zip\"", case.0.simple());
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(body),
    )
        .into_response())
}
