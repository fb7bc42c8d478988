//! Legal holds and retention, and their projection onto a store that locks objects itself.

use super::*;

impl LegalFileService {
    /// Places a legal hold on the case (whole case when `request.scope` is `None`), for owners.
    /// From now on nothing it covers — files uploaded later included, for a case or prefix
    /// scope — can be deleted or purged until it is released. Audited `hold_placed`.
    ///
    /// # Errors
    /// [`ServiceError::InvalidInput`] for an empty or over-long name or reason, an invalid
    /// prefix or an empty file list; [`ServiceError::NotFound`] when the case is missing or
    /// `user` is not a member, or a listed file is not a file of this case;
    /// [`ServiceError::Forbidden`] for editors, viewers and auditors.
    pub async fn place_hold(
        &self,
        user: UserId,
        case_id: CaseId,
        request: NewHold,
    ) -> ServiceResult<LegalHold> {
        let name = Self::hold_text("name", &request.name, 200)?;
        let reason = Self::hold_text("reason", &request.reason, 2000)?;
        let scope = match request.scope.unwrap_or(HoldScope::Case) {
            HoldScope::Case => HoldScope::Case,
            HoldScope::Prefix { prefix } => match Self::list_prefix(Some(&prefix))? {
                Some(prefix) => HoldScope::Prefix { prefix },
                None => {
                    return Err(ServiceError::invalid(
                        "scope",
                        "an empty prefix: hold the case instead",
                    ));
                }
            },
            HoldScope::Files { mut file_ids } => {
                file_ids.sort();
                file_ids.dedup();
                if file_ids.is_empty() || file_ids.len() > 10_000 {
                    return Err(ServiceError::invalid(
                        "scope",
                        "between 1 and 10000 file ids",
                    ));
                }
                HoldScope::Files { file_ids }
            }
        };
        self.authorize_case(user, case_id, Permission::ManageHolds)
            .await?;
        let hold = LegalHold {
            id: HoldId::new(),
            case_id,
            scope,
            name,
            reason,
            placed_by: user,
            placed_at: self.clock.now(),
            release: None,
        };
        let audit = self
            .audit(user, AuditAction::HoldPlaced, AuditOutcome::Success)
            .case(case_id)
            .details(format!(
                "hold {} ({}) on {}",
                hold.id,
                hold.name,
                Self::scope_text(&hold.scope)
            ));
        // The repository checks, in its transaction, that every listed file is of this case.
        match self.repository.place_hold(&hold, &audit).await {
            Err(PersistenceError::NotFound { .. }) => {
                return Err(ServiceError::NotFound { what: "file" });
            }
            other => other?,
        }
        self.project_scope(case_id, Some(&hold.scope)).await?;
        Ok(hold)
    }

    /// The holds of a case, active and released, oldest first, for any member. Audited
    /// `holds_listed`.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when the case is missing or `user` is not a member.
    pub async fn list_holds(&self, user: UserId, case_id: CaseId) -> ServiceResult<Vec<LegalHold>> {
        self.authorize_case(user, case_id, Permission::ReadCase)
            .await?;
        let holds = self.repository.list_holds(case_id).await?;
        let audit = self
            .audit(user, AuditAction::HoldsListed, AuditOutcome::Success)
            .case(case_id);
        self.repository.append_audit(&audit).await?;
        Ok(holds)
    }

    /// Releases a hold, for owners of its case; what it covered stays held while another active
    /// hold covers it. Audited `hold_released`.
    ///
    /// # Errors
    /// [`ServiceError::InvalidInput`] for an empty or over-long reason; [`ServiceError::NotFound`]
    /// for an unknown hold or one of a case `user` is not a member of; [`ServiceError::Forbidden`]
    /// for editors, viewers and auditors; [`ServiceError::Conflict`] when it is released already.
    pub async fn release_hold(
        &self,
        user: UserId,
        hold_id: HoldId,
        reason: &str,
    ) -> ServiceResult<LegalHold> {
        let reason = Self::hold_text("reason", reason, 2000)?;
        let Some(hold) = self.repository.get_hold(hold_id).await? else {
            self.deny(user, None, None, Some(format!("unknown hold {hold_id}")))
                .await?;
            return Err(ServiceError::NotFound { what: "hold" });
        };
        match self
            .authorize_case(user, hold.case_id, Permission::ManageHolds)
            .await
        {
            Err(ServiceError::NotFound { .. }) => {
                return Err(ServiceError::NotFound { what: "hold" });
            }
            other => other?,
        };
        if !hold.is_active() {
            return Err(ServiceError::Conflict {
                reason: "the hold is released already".into(),
            });
        }
        let release = HoldRelease {
            released_by: user,
            released_at: self.clock.now(),
            reason,
        };
        let audit = self
            .audit(user, AuditAction::HoldReleased, AuditOutcome::Success)
            .case(hold.case_id)
            .details(format!(
                "hold {} ({}) released: {}",
                hold.id, hold.name, release.reason
            ));
        self.repository
            .release_hold(hold.id, &release, &audit)
            .await?;
        self.project_scope(hold.case_id, Some(&hold.scope)).await?;
        Ok(LegalHold {
            release: Some(release),
            ..hold
        })
    }

    /// Sets or extends the case's retention: nothing in it can be deleted before `until`.
    /// Retention is extended, never shortened. For owners; audited `retention_set`.
    ///
    /// # Errors
    /// [`ServiceError::InvalidInput`] for a date that is not in the future;
    /// [`ServiceError::NotFound`] when the case is missing or `user` is not a member;
    /// [`ServiceError::Forbidden`] for editors, viewers and auditors; [`ServiceError::Conflict`]
    /// for a date before the one in force.
    pub async fn set_retention(
        &self,
        user: UserId,
        case_id: CaseId,
        until: chrono::DateTime<chrono::Utc>,
    ) -> ServiceResult<MemberCase> {
        if until <= self.clock.now() {
            return Err(ServiceError::invalid(
                "retain_until",
                "must be in the future",
            ));
        }
        let mut case = self
            .authorize_case(user, case_id, Permission::ManageHolds)
            .await?;
        if let Some(current) = case.case.retain_until
            && until < current
        {
            return Err(ServiceError::Conflict {
                reason: format!(
                    "retention can be extended, never shortened (it runs until {current})"
                ),
            });
        }
        let details = match case.case.retain_until {
            Some(current) => format!("retention extended from {current} to {until}"),
            None => format!("retention set until {until}"),
        };
        let audit = self
            .audit(user, AuditAction::RetentionSet, AuditOutcome::Success)
            .case(case_id)
            .details(details);
        self.repository
            .set_retention(case_id, until, &audit)
            .await?;
        self.project_scope(case_id, None).await?;
        case.case.retain_until = Some(until);
        Ok(case)
    }

    /// Gives a completed file its own retention date, later than its case's: nothing deletes it
    /// before `until`. Extended, never shortened. For owners of its case; audited
    /// `retention_set` on the file.
    ///
    /// # Errors
    /// [`ServiceError::InvalidInput`] for a date that is not in the future or not later than the
    /// case's retention; [`ServiceError::NotFound`] for a file that is not completed, or of a case
    /// `user` is not a member of; [`ServiceError::Forbidden`] for editors, viewers and auditors;
    /// [`ServiceError::Conflict`] for a date before the file's date in force.
    pub async fn set_file_retention(
        &self,
        user: UserId,
        file_id: FileId,
        until: chrono::DateTime<chrono::Utc>,
    ) -> ServiceResult<(CaseFile, Protection)> {
        if until <= self.clock.now() {
            return Err(ServiceError::invalid(
                "retain_until",
                "must be in the future",
            ));
        }
        let file = self
            .authorize_file(user, file_id, Permission::ManageHolds)
            .await?;
        if file.status != FileStatus::Completed {
            return Err(ServiceError::NotFound { what: "file" });
        }
        let case = self.repository.get_case(file.case_id).await?;
        if let Some(of_case) = case.and_then(|c| c.retain_until)
            && until <= of_case
        {
            return Err(ServiceError::invalid(
                "retain_until",
                format!("the case keeps the file until {of_case} already: give a later date"),
            ));
        }
        let audit = self
            .audit(user, AuditAction::RetentionSet, AuditOutcome::Success)
            .case(file.case_id)
            .file(file.id)
            .details(format!("file retention set until {until}"));
        self.repository
            .set_file_retention(file.id, until, &audit)
            .await?;
        self.project_quietly(&file).await;
        let protection = self.repository.protection(file.id).await?;
        Ok((file, protection))
    }
}
