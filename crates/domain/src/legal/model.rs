//! Cases, their files and the audit trail.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::content::Sha256;
use crate::legal::{FileName, LogicalPath};
use crate::storage::ObjectKey;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new random (v4) id.
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    };
}

id_type!(
    /// The id of a legal hold.
    HoldId
);

id_type!(
    /// The id of an authenticated user (the `sub` of their token).
    UserId
);
id_type!(
    /// The id of a case.
    CaseId
);
id_type!(
    /// The id of a file of a case.
    FileId
);
id_type!(
    /// The id of an audit entry.
    AuditId
);

/// A case: a matter worked by its members (see [`Role`]), holding files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    /// Its id.
    pub id: CaseId,
    /// Who created it (its first owner; membership, not this field, decides access).
    pub created_by: UserId,
    /// Its title (1 to 200 characters, no control characters).
    pub title: String,
    /// Nothing in the case can be deleted before this instant (extended, never shortened).
    pub retain_until: Option<DateTime<Utc>>,
    /// How many completed (live) files it holds.
    pub file_count: u64,
    /// The total size of its completed files, in bytes.
    pub total_size_bytes: u64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it, or its statistics, last changed.
    pub updated_at: DateTime<Utc>,
}

/// What a member of a case may do: one role per member per case.
///
/// | action | owner | editor | viewer | auditor |
/// |---|---|---|---|---|
/// | read the case, list and read file metadata, list members | yes | yes | yes | yes |
/// | download content, issue download URLs | yes | yes | yes | no |
/// | upload, complete, delete files | yes | yes | no | no |
/// | read the audit trail | yes | no | no | yes |
/// | add, change and remove members | yes | no | no | no |
/// | place and release legal holds, set retention (every member reads holds) | yes | no | no | no |
///
/// [`Role::allows`] is that table; the service asks it for every operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including members (and, later, holds and retention).
    Owner,
    /// Uploads, completes and deletes files, and reads them.
    Editor,
    /// Reads metadata and content.
    Viewer,
    /// Reads metadata and the audit trail, never content.
    Auditor,
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Self; 4] = [Self::Owner, Self::Editor, Self::Viewer, Self::Auditor];

    /// The role as stored and sent (`owner`, `editor`, `viewer`, `auditor`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Editor => "editor",
            Self::Viewer => "viewer",
            Self::Auditor => "auditor",
        }
    }

    /// Parses [`Role::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether this role may do `action`: the one authorization decision of the service.
    pub fn allows(self, action: Permission) -> bool {
        use Permission as P;
        match self {
            Self::Owner => true,
            Self::Editor => !matches!(action, P::ReadAudit | P::ManageMembers | P::ManageHolds),
            Self::Viewer => matches!(
                action,
                P::ReadCase | P::ReadFile | P::ReadContent | P::ReadMembers
            ),
            Self::Auditor => matches!(
                action,
                P::ReadCase | P::ReadFile | P::ReadAudit | P::ReadMembers
            ),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an operation of the service needs a member's role to allow (see [`Role::allows`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Permission {
    /// Read the case and its statistics.
    ReadCase,
    /// List files and read a file's metadata.
    ReadFile,
    /// Read a file's bytes: downloads, ranges and download URLs.
    ReadContent,
    /// Start, send and complete uploads.
    Upload,
    /// Delete files.
    DeleteFile,
    /// Read the case's audit trail.
    ReadAudit,
    /// List the members.
    ReadMembers,
    /// Add, change and remove members.
    ManageMembers,
    /// Place and release legal holds, set retention.
    ManageHolds,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Self; 9] = [
        Self::ReadCase,
        Self::ReadFile,
        Self::ReadContent,
        Self::Upload,
        Self::DeleteFile,
        Self::ReadAudit,
        Self::ReadMembers,
        Self::ManageMembers,
        Self::ManageHolds,
    ];

    /// What it is, as audited and told to a refused caller.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadCase => "read the case",
            Self::ReadFile => "read file metadata",
            Self::ReadContent => "read file content",
            Self::Upload => "upload files",
            Self::DeleteFile => "delete files",
            Self::ReadAudit => "read the audit trail",
            Self::ReadMembers => "list members",
            Self::ManageMembers => "manage members",
            Self::ManageHolds => "manage legal holds and retention",
        }
    }
}

/// A case as one of its members sees it: the case and the member's role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberCase {
    /// The case.
    pub case: Case,
    /// The caller's role in it.
    pub role: Role,
}

/// A member of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The case.
    pub case_id: CaseId,
    /// The user.
    pub user_id: UserId,
    /// Their role.
    pub role: Role,
    /// Who gave them their current role (`None` when it came with the case, or from a
    /// migration).
    pub granted_by: Option<UserId>,
    /// When they became a member.
    pub added_at: DateTime<Utc>,
    /// When their role last changed.
    pub updated_at: DateTime<Utc>,
    /// Their name and e-mail, as their identity provider last told (when it did).
    pub profile: Option<UserProfile>,
}

/// What an identity provider says about a user, kept so that member lists are readable.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UserProfile {
    /// A display name (the token's `name`, else `preferred_username`).
    pub display_name: Option<String>,
    /// An e-mail address (the token's `email`).
    pub email: Option<String>,
}

impl UserProfile {
    /// Whether it says nothing.
    pub fn is_empty(&self) -> bool {
        self.display_name.is_none() && self.email.is_none()
    }
}

/// Where a file is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// Initiated: the upload has not been completed (verified) yet.
    Pending,
    /// Uploaded and verified: size and SHA-256 match what was declared.
    Completed,
    /// Verification failed; the object is (or will be) removed.
    Failed,
    /// Deleted by its owner (a tombstone); the object is (or will be) removed.
    Deleted,
}

impl FileStatus {
    /// The status as stored (`pending`, `completed`, `failed`, `deleted`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Deleted => "deleted",
        }
    }

    /// Parses [`FileStatus::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "completed" => Some(Self::Completed),
            "failed" => Some(Self::Failed),
            "deleted" => Some(Self::Deleted),
            _ => None,
        }
    }

    /// Whether a file in this status holds its logical path (pending or completed).
    pub fn is_live(self) -> bool {
        matches!(self, Self::Pending | Self::Completed)
    }
}

/// A file of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseFile {
    /// Its id.
    pub id: FileId,
    /// The case it belongs to.
    pub case_id: CaseId,
    /// Where it sits in the case, as the user sees it (unique among live files of the case).
    pub logical_path: LogicalPath,
    /// The name to download it as.
    pub file_name: FileName,
    /// Its declared MIME type.
    pub mime_type: String,
    /// The size declared when the upload was initiated.
    pub declared_size: u64,
    /// The size verified on completion.
    pub actual_size: Option<u64>,
    /// The SHA-256 declared when the upload was initiated (verified on completion).
    pub sha256: Sha256,
    /// Where its bytes are stored: generated by casefile, never derived from user input.
    pub storage_key: ObjectKey,
    /// Its status.
    pub status: FileStatus,
    /// Who uploaded it.
    pub uploaded_by: UserId,
    /// When the upload was initiated.
    pub created_at: DateTime<Utc>,
    /// When it last changed status.
    pub updated_at: DateTime<Utc>,
    /// When it was completed.
    pub completed_at: Option<DateTime<Utc>>,
    /// When its object was removed from storage (failed and deleted files only).
    pub purged_at: Option<DateTime<Utc>>,
}

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditAction {
    /// A case was created.
    CaseCreated,
    /// A case was read.
    CaseViewed,
    /// A user listed their cases.
    CasesListed,
    /// An upload was initiated (a pending file recorded).
    UploadInitiated,
    /// An upload was verified and completed.
    UploadCompleted,
    /// An upload failed verification (or could not be completed yet).
    UploadFailed,
    /// A file's metadata was read.
    FileViewed,
    /// A file was downloaded through the service.
    FileDownloaded,
    /// A download URL was issued.
    DownloadUrlIssued,
    /// The files of a case were listed.
    FilesListed,
    /// A file was deleted (tombstoned).
    FileDeleted,
    /// The object of a deleted or failed file was removed from storage.
    ObjectPurged,
    /// A user tried to act on a case or file they are not a member of (or that does not exist),
    /// or to do what their role does not allow (details: the role and the action).
    AccessDenied,
    /// Stored bytes did not match the recorded size and SHA-256 when read (a download was cut
    /// off before its end).
    FixityFailed,
    /// A pending upload outlived its upload URL and was marked failed.
    UploadExpired,
    /// A pending upload whose URL had expired gave its logical path to a new upload.
    UploadSuperseded,
    /// The members of a case were listed.
    MembersListed,
    /// A user became a member of a case (details: the member and the role).
    MemberAdded,
    /// A member's role changed (details: the member, the old and the new role).
    MemberRoleChanged,
    /// A member was removed (details: the member and the role they had).
    MemberRemoved,
    /// A legal hold was placed (details: the hold, its name and scope).
    HoldPlaced,
    /// A legal hold was released (details: the hold and the reason).
    HoldReleased,
    /// The holds of a case were listed.
    HoldsListed,
    /// A case's retention was set or extended (details: from and to).
    RetentionSet,
    /// A delete was refused because the file is held or retained (details: the holds or date).
    DeleteRefused,
    /// A fixity scrub run ended (details: the run, files checked and failed, bytes read).
    ScrubCompleted,
    /// The store was reconciled with the records and garbage removed (details: what was
    /// removed).
    StorageReconciled,
    /// A case was exported as a production set (details: files, bytes, and the destination).
    CaseExported,
}

impl AuditAction {
    /// The action as stored (snake case).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CaseCreated => "case_created",
            Self::CaseViewed => "case_viewed",
            Self::CasesListed => "cases_listed",
            Self::UploadInitiated => "upload_initiated",
            Self::UploadCompleted => "upload_completed",
            Self::UploadFailed => "upload_failed",
            Self::FileViewed => "file_viewed",
            Self::FileDownloaded => "file_downloaded",
            Self::DownloadUrlIssued => "download_url_issued",
            Self::FilesListed => "files_listed",
            Self::FileDeleted => "file_deleted",
            Self::ObjectPurged => "object_purged",
            Self::AccessDenied => "access_denied",
            Self::FixityFailed => "fixity_failed",
            Self::UploadExpired => "upload_expired",
            Self::UploadSuperseded => "upload_superseded",
            Self::MembersListed => "members_listed",
            Self::MemberAdded => "member_added",
            Self::MemberRoleChanged => "member_role_changed",
            Self::MemberRemoved => "member_removed",
            Self::HoldPlaced => "hold_placed",
            Self::HoldReleased => "hold_released",
            Self::HoldsListed => "holds_listed",
            Self::RetentionSet => "retention_set",
            Self::DeleteRefused => "delete_refused",
            Self::ScrubCompleted => "scrub_completed",
            Self::StorageReconciled => "storage_reconciled",
            Self::CaseExported => "case_exported",
        }
    }

    /// Every action.
    pub const ALL: [Self; 28] = [
        Self::CaseCreated,
        Self::CaseViewed,
        Self::CasesListed,
        Self::UploadInitiated,
        Self::UploadCompleted,
        Self::UploadFailed,
        Self::FileViewed,
        Self::FileDownloaded,
        Self::DownloadUrlIssued,
        Self::FilesListed,
        Self::FileDeleted,
        Self::ObjectPurged,
        Self::AccessDenied,
        Self::FixityFailed,
        Self::UploadExpired,
        Self::UploadSuperseded,
        Self::MembersListed,
        Self::MemberAdded,
        Self::MemberRoleChanged,
        Self::MemberRemoved,
        Self::HoldPlaced,
        Self::HoldReleased,
        Self::HoldsListed,
        Self::RetentionSet,
        Self::DeleteRefused,
        Self::ScrubCompleted,
        Self::StorageReconciled,
        Self::CaseExported,
    ];

    /// Parses [`AuditAction::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// How the audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    /// It was done.
    Success,
    /// It was refused for lack of access.
    Denied,
    /// It failed (verification, missing upload, ...).
    Failure,
}

impl AuditOutcome {
    /// The outcome as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Denied => "denied",
            Self::Failure => "failure",
        }
    }

    /// Parses [`AuditOutcome::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Success, Self::Denied, Self::Failure]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

/// One entry of the append-only audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Its id.
    pub id: AuditId,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Who did it; `None` for casefile itself (purges).
    pub actor: Option<UserId>,
    /// The case concerned, if any.
    pub case_id: Option<CaseId>,
    /// The file concerned, if any.
    pub file_id: Option<FileId>,
    /// What was done.
    pub action: AuditAction,
    /// How it ended.
    pub outcome: AuditOutcome,
    /// Free-form details (what differed, why it failed, ...).
    pub details: Option<String>,
    /// Its position in the audit log — the index of its leaf in the log's Merkle tree, dense
    /// and in commit order — once appended; `None` before.
    pub log_index: Option<u64>,
}

impl AuditEntry {
    /// A new entry with a fresh id.
    pub fn new(
        at: DateTime<Utc>,
        actor: Option<UserId>,
        action: AuditAction,
        outcome: AuditOutcome,
    ) -> Self {
        Self {
            id: AuditId::new(),
            at,
            actor,
            case_id: None,
            file_id: None,
            action,
            outcome,
            details: None,
            log_index: None,
        }
    }

    /// This entry, about `case`.
    pub fn case(mut self, case: CaseId) -> Self {
        self.case_id = Some(case);
        self
    }

    /// This entry, about `file`.
    pub fn file(mut self, file: FileId) -> Self {
        self.file_id = Some(file);
        self
    }

    /// This entry, with details.
    pub fn details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }
}
