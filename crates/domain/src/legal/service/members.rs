//! Members of a case: listing, adding, changing and removing them, and their profiles.

use super::*;

impl LegalFileService {
    /// The members of a case, with their roles and profiles, for any member.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when the case is missing or `user` is not a member.
    pub async fn list_members(&self, user: UserId, case_id: CaseId) -> ServiceResult<Vec<Member>> {
        self.authorize_case(user, case_id, Permission::ReadMembers)
            .await?;
        let members = self.repository.list_members(case_id).await?;
        let audit = self
            .audit(user, AuditAction::MembersListed, AuditOutcome::Success)
            .case(case_id);
        self.repository.append_audit(&audit).await?;
        Ok(members)
    }

    /// Gives `member` the role `role` in the case (adding them when they are not a member), for
    /// owners. Audited with the old and the new role; giving a member the role they have
    /// changes (and audits) nothing.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when the case is missing or `user` is not a member;
    /// [`ServiceError::Forbidden`] for editors, viewers and auditors; [`ServiceError::Conflict`]
    /// when demoting the last owner, or when the member's role changed concurrently.
    pub async fn set_member(
        &self,
        user: UserId,
        case_id: CaseId,
        member: UserId,
        role: Role,
    ) -> ServiceResult<Member> {
        self.authorize_case(user, case_id, Permission::ManageMembers)
            .await?;
        let current = self
            .repository
            .list_members(case_id)
            .await?
            .into_iter()
            .find(|m| m.user_id == member);
        let now = self.clock.now();
        let expected = current.as_ref().map(|m| m.role);
        let (action, details) = match expected {
            None => (
                AuditAction::MemberAdded,
                format!("{member} added as {role}"),
            ),
            Some(old) => (
                AuditAction::MemberRoleChanged,
                format!("{member}: {old} -> {role}"),
            ),
        };
        let record = Member {
            case_id,
            user_id: member,
            role,
            granted_by: Some(user),
            added_at: current.as_ref().map_or(now, |m| m.added_at),
            updated_at: now,
            profile: current.as_ref().and_then(|m| m.profile.clone()),
        };
        let audit = self
            .audit(user, action, AuditOutcome::Success)
            .case(case_id)
            .details(details);
        match self
            .repository
            .put_member(&record, expected, &audit)
            .await?
        {
            MemberChange::Applied { .. } => Ok(record),
            MemberChange::Unchanged => Ok(current.unwrap_or(record)),
        }
    }

    /// Removes `member` from the case, for owners; audited with the role they had.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when the case is missing, `user` is not a member (`"case"`),
    /// or `member` is not one (`"member"`); [`ServiceError::Forbidden`] for editors, viewers and
    /// auditors; [`ServiceError::Conflict`] for the last owner.
    pub async fn remove_member(
        &self,
        user: UserId,
        case_id: CaseId,
        member: UserId,
    ) -> ServiceResult<()> {
        self.authorize_case(user, case_id, Permission::ManageMembers)
            .await?;
        let Some((_, Some(role))) = self.repository.case_for_member(case_id, member).await? else {
            return Err(ServiceError::NotFound { what: "member" });
        };
        let audit = self
            .audit(user, AuditAction::MemberRemoved, AuditOutcome::Success)
            .case(case_id)
            .details(format!("{member} removed (was {role})"));
        match self
            .repository
            .remove_member(case_id, member, role, &audit)
            .await
        {
            Err(PersistenceError::NotFound { .. }) => {
                Err(ServiceError::NotFound { what: "member" })
            }
            other => Ok(other?),
        }
    }

    /// Keeps what the identity provider says about `user` (name, e-mail) for member lists.
    /// An empty profile is not kept.
    ///
    /// # Errors
    /// Persistence failures.
    pub async fn remember_user(&self, user: UserId, profile: &UserProfile) -> ServiceResult<()> {
        if profile.is_empty() {
            return Ok(());
        }
        self.repository
            .remember_user(user, profile, self.clock.now())
            .await?;
        Ok(())
    }
}
