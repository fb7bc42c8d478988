//! Cases: creating, reading and listing them, and their audit trail.

use super::*;

impl LegalFileService {
    /// Creates a case; `user` becomes its owner.
    ///
    /// # Errors
    /// [`ServiceError::InvalidInput`] for an empty, over-long or control-character title.
    pub async fn create_case(&self, user: UserId, title: &str) -> ServiceResult<Case> {
        let title = title.trim();
        if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
            return Err(ServiceError::invalid(
                "title",
                "must be 1 to 200 characters",
            ));
        }
        if title.chars().any(char::is_control) {
            return Err(ServiceError::invalid(
                "title",
                "must not contain control characters",
            ));
        }
        let now = self.clock.now();
        let case = Case {
            id: CaseId::new(),
            created_by: user,
            title: title.to_owned(),
            retain_until: (self.config.default_retention_days() > 0).then(|| {
                now + chrono::Duration::days(i64::from(self.config.default_retention_days()))
            }),
            file_count: 0,
            total_size_bytes: 0,
            created_at: now,
            updated_at: now,
        };
        let audit = self
            .audit(user, AuditAction::CaseCreated, AuditOutcome::Success)
            .case(case.id);
        self.repository.create_case(&case, &audit).await?;
        Ok(case)
    }

    /// The case, with its statistics and the caller's role, for any member.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when it is missing or `user` is not a member (audited as
    /// denied).
    pub async fn get_case(&self, user: UserId, case_id: CaseId) -> ServiceResult<MemberCase> {
        let case = self
            .authorize_case(user, case_id, Permission::ReadCase)
            .await?;
        let audit = self
            .audit(user, AuditAction::CaseViewed, AuditOutcome::Success)
            .case(case_id);
        self.repository.append_audit(&audit).await?;
        Ok(case)
    }

    /// The cases `user` is a member of, with their role, and only those.
    ///
    /// # Errors
    /// Persistence failures.
    pub async fn list_cases(&self, user: UserId, request: ListCases) -> ServiceResult<CasePage> {
        let limit = request.limit.unwrap_or(DEFAULT_FILE_PAGE);
        if !(1..=MAX_FILE_PAGE).contains(&limit) {
            return Err(ServiceError::invalid("limit", "must be within 1..=1000"));
        }
        let not_a_cursor = || ServiceError::invalid("cursor", "not a cursor of this listing");
        let after = request
            .cursor
            .as_deref()
            .map(|c| {
                uuid::Uuid::parse_str(c)
                    .map(CaseId)
                    .map_err(|_| not_a_cursor())
            })
            .transpose()?;
        let mut cases = match self.repository.list_cases(user, after, limit + 1).await {
            Ok(cases) => cases,
            Err(PersistenceError::NotFound { .. }) => return Err(not_a_cursor()),
            Err(e) => return Err(e.into()),
        };
        let next_cursor = if cases.len() > limit {
            cases.truncate(limit);
            cases.last().map(|c| c.case.id.0.to_string())
        } else {
            None
        };
        let audit = self.audit(user, AuditAction::CasesListed, AuditOutcome::Success);
        self.repository.append_audit(&audit).await?;
        Ok(CasePage { cases, next_cursor })
    }

    /// A page of the audit trail of a case, oldest first, for its owners and auditors.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when the case is missing or `user` is not a member;
    /// [`ServiceError::Forbidden`] for editors and viewers;
    /// [`ServiceError::InvalidInput`] for a limit outside 1..=[`MAX_FILE_PAGE`] or a cursor that
    /// is not a `next_cursor` of this trail.
    pub async fn audit_trail(
        &self,
        user: UserId,
        case_id: CaseId,
        request: AuditTrailQuery,
    ) -> ServiceResult<AuditTrailPage> {
        let limit = request.limit.unwrap_or(DEFAULT_FILE_PAGE);
        if !(1..=MAX_FILE_PAGE).contains(&limit) {
            return Err(ServiceError::invalid("limit", "must be within 1..=1000"));
        }
        let after = request
            .cursor
            .as_deref()
            .map(|c| {
                uuid::Uuid::parse_str(c)
                    .map(AuditId)
                    .map_err(|_| ServiceError::invalid("cursor", "not a cursor of this trail"))
            })
            .transpose()?;
        self.authorize_case(user, case_id, Permission::ReadAudit)
            .await?;
        let query = AuditQuery {
            case_id: Some(case_id),
            after,
            limit: Some(limit + 1),
            ..AuditQuery::default()
        };
        let mut entries = match self.repository.list_audit(&query).await {
            Ok(entries) => entries,
            Err(PersistenceError::NotFound { .. }) => {
                return Err(ServiceError::invalid(
                    "cursor",
                    "not a cursor of this trail",
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let next_cursor = if entries.len() > limit {
            entries.truncate(limit);
            entries.last().map(|e| e.id.0.to_string())
        } else {
            None
        };
        Ok(AuditTrailPage {
            entries,
            next_cursor,
        })
    }
}
