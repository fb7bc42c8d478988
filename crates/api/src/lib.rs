//! # casefile-api
//!
//! The wire types of casefile's HTTP API v1: what the server's handlers read and write, what
//! its OpenAPI document describes (both come from these definitions), and what
//! `casefile-client` sends and reads — one definition for the three.

use std::collections::BTreeMap;

use casefile_domain::legal::{
    AuditEntry, CaseFile, HoldScope, LegalHold, Member, MemberCase, Protection,
};
use casefile_domain::storage::{PresignedDownload, PresignedUpload, UploadMethod};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Every error: `{"error": {"code", "message"}}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The code and message of an error.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// `unauthorized`, `forbidden`, `not_found`, `invalid_input`, `conflict`, `held`,
    /// `retained`, `too_large`, `integrity_mismatch`, `upload_missing`, `too_many_uploads`,
    /// `busy`, `unavailable` or `internal`.
    #[schema(example = "not_found")]
    pub code: String,
    /// For a human.
    pub message: String,
    /// The request's id (also in the `x-request-id` response header): quote it to the
    /// operator, who finds the request's access line by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// `POST /v1/cases`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NewCase {
    /// 1 to 200 characters.
    #[schema(example = "Doe v. Roe", min_length = 1, max_length = 200)]
    pub title: String,
}

/// A case.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CaseView {
    /// Its id.
    pub id: Uuid,
    /// Its title.
    pub title: String,
    /// Who created it (its first owner).
    pub created_by: Uuid,
    /// Nothing in it can be deleted before this instant (absent: no retention).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retain_until: Option<DateTime<Utc>>,
    /// The caller's role in it: `owner`, `editor`, `viewer` or `auditor`.
    #[schema(example = "owner")]
    pub role: String,
    /// Completed files.
    pub file_count: u64,
    /// Their total size.
    pub total_size_bytes: u64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<&MemberCase> for CaseView {
    fn from(m: &MemberCase) -> Self {
        let c = &m.case;
        Self {
            id: c.id.0,
            title: c.title.clone(),
            created_by: c.created_by.0,
            retain_until: c.retain_until,
            role: m.role.as_str().to_owned(),
            file_count: c.file_count,
            total_size_bytes: c.total_size_bytes,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// The cases the caller is a member of.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CaseList {
    /// Oldest first, each with the caller's role.
    pub cases: Vec<CaseView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A member of a case.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MemberView {
    /// The user.
    pub user_id: Uuid,
    /// `owner`, `editor`, `viewer` or `auditor`.
    #[schema(example = "editor")]
    pub role: String,
    /// Their name, as their identity provider last told (when it did).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Their e-mail, as their identity provider last told (when it did).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Who gave them their current role (absent when it came with the case).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granted_by: Option<Uuid>,
    /// When they became a member.
    pub added_at: DateTime<Utc>,
    /// When their role last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<&Member> for MemberView {
    fn from(m: &Member) -> Self {
        let profile = m.profile.clone().unwrap_or_default();
        Self {
            user_id: m.user_id.0,
            role: m.role.as_str().to_owned(),
            display_name: profile.display_name,
            email: profile.email,
            granted_by: m.granted_by.map(|u| u.0),
            added_at: m.added_at,
            updated_at: m.updated_at,
        }
    }
}

/// The members of a case.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MemberList {
    /// In the order they were added.
    pub members: Vec<MemberView>,
}

/// What a legal hold covers, as sent and shown.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum HoldScopeView {
    /// Every file of the case, uploaded later included.
    Case,
    /// Every file whose logical path starts with `prefix` (a plain string prefix).
    Prefix {
        /// The prefix.
        prefix: String,
    },
    /// These files of the case.
    Files {
        /// Their ids.
        file_ids: Vec<Uuid>,
    },
}

impl From<&HoldScope> for HoldScopeView {
    fn from(s: &HoldScope) -> Self {
        match s {
            HoldScope::Case => Self::Case,
            HoldScope::Prefix { prefix } => Self::Prefix {
                prefix: prefix.clone(),
            },
            HoldScope::Files { file_ids } => Self::Files {
                file_ids: file_ids.iter().map(|f| f.0).collect(),
            },
        }
    }
}

impl From<HoldScopeView> for HoldScope {
    fn from(s: HoldScopeView) -> Self {
        match s {
            HoldScopeView::Case => Self::Case,
            HoldScopeView::Prefix { prefix } => Self::Prefix { prefix },
            HoldScopeView::Files { file_ids } => Self::Files {
                file_ids: file_ids
                    .into_iter()
                    .map(casefile_domain::legal::FileId)
                    .collect(),
            },
        }
    }
}

/// `POST /v1/cases/{case_id}/holds`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHoldBody {
    /// A name or matter reference (1 to 200 characters).
    #[schema(example = "Doe v. Roe — preservation notice")]
    pub name: String,
    /// Why (1 to 2000 characters).
    pub reason: String,
    /// What it covers; the whole case when absent.
    pub scope: Option<HoldScopeView>,
}

/// `POST /v1/holds/{hold_id}/release`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseBody {
    /// Why (1 to 2000 characters).
    pub reason: String,
}

/// `PUT /v1/cases/{case_id}/retention`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionBody {
    /// Nothing in the case can be deleted before this instant (RFC 3339; in the future, and not
    /// before the date in force).
    pub retain_until: DateTime<Utc>,
}

/// A legal hold.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HoldView {
    /// Its id.
    pub id: Uuid,
    /// Its case.
    pub case_id: Uuid,
    /// What it covers.
    pub scope: HoldScopeView,
    /// Its name or matter reference.
    pub name: String,
    /// Why it was placed.
    pub reason: String,
    /// Who placed it.
    pub placed_by: Uuid,
    /// When.
    pub placed_at: DateTime<Utc>,
    /// Whether it still holds.
    pub active: bool,
    /// Who released it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub released_by: Option<Uuid>,
    /// When.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub released_at: Option<DateTime<Utc>>,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_reason: Option<String>,
}

impl From<&LegalHold> for HoldView {
    fn from(h: &LegalHold) -> Self {
        Self {
            id: h.id.0,
            case_id: h.case_id.0,
            scope: HoldScopeView::from(&h.scope),
            name: h.name.clone(),
            reason: h.reason.clone(),
            placed_by: h.placed_by.0,
            placed_at: h.placed_at,
            active: h.is_active(),
            released_by: h.release.as_ref().map(|r| r.released_by.0),
            released_at: h.release.as_ref().map(|r| r.released_at),
            release_reason: h.release.as_ref().map(|r| r.reason.clone()),
        }
    }
}

/// The holds of a case.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HoldList {
    /// Active and released, oldest first.
    pub holds: Vec<HoldView>,
}

/// `PUT /v1/cases/{case_id}/members/{user_id}`: the role to give.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PutMember {
    /// `owner`, `editor`, `viewer` or `auditor`.
    #[schema(example = "viewer")]
    pub role: String,
}

/// `POST /v1/cases/{case_id}/uploads`: what the client is about to upload.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UploadRequest {
    /// Where the file goes in the case: `/`-separated segments, no `.` or `..`, no control
    /// characters.
    #[schema(example = "pleadings/motion.pdf", min_length = 1, max_length = 1024)]
    pub logical_path: String,
    /// The name to download it as; the last segment of the path when absent.
    pub file_name: Option<String>,
    /// Its MIME type; guessed from the file name when absent.
    pub mime_type: Option<String>,
    /// Its exact size in bytes.
    pub file_size: u64,
    /// Its SHA-256, 64 hexadecimal digits.
    #[schema(pattern = "^[0-9a-fA-F]{64}$")]
    pub content_hash: String,
}

/// How to send the bytes: for `POST` a `multipart/form-data` form of `fields` followed by a
/// `file` part; for `PUT` the raw body with `headers`. No bearer token: the signature is the
/// authorisation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UploadInstructions {
    /// `POST` or `PUT`.
    #[schema(example = "PUT")]
    pub method: String,
    /// Where to send it.
    pub url: String,
    /// For `POST`: the form fields, before the file.
    pub fields: BTreeMap<String, String>,
    /// For `PUT`: the headers to send, exactly.
    pub headers: BTreeMap<String, String>,
    /// When the URL stops working.
    pub expires_at: DateTime<Utc>,
}

impl From<&PresignedUpload> for UploadInstructions {
    fn from(u: &PresignedUpload) -> Self {
        Self {
            method: match u.method {
                UploadMethod::Post => "POST",
                UploadMethod::Put => "PUT",
            }
            .to_owned(),
            url: u.url.clone(),
            fields: u.fields.clone(),
            headers: u.headers.clone(),
            expires_at: u.expires_at,
        }
    }
}

/// A started upload.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UploadStarted {
    /// The pending file, to complete once the bytes are sent.
    pub file_id: Uuid,
    /// How to send the bytes.
    pub upload: UploadInstructions,
}

/// A file of a case.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FileView {
    /// Its id.
    pub id: Uuid,
    /// Its case.
    pub case_id: Uuid,
    /// Where it sits in the case.
    pub logical_path: String,
    /// The name it downloads as.
    pub file_name: String,
    /// Its MIME type.
    pub mime_type: String,
    /// Its size in bytes (verified once completed).
    pub file_size: u64,
    /// Its SHA-256 (verified once completed).
    pub content_hash: String,
    /// `pending` or `completed`.
    #[schema(example = "completed")]
    pub status: String,
    /// Who uploaded it.
    pub uploaded_by: Uuid,
    /// When the upload started.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Whether an active legal hold covers it (`GET /v1/files/{file_id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held: Option<bool>,
    /// The active holds that cover it (`GET /v1/files/{file_id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holds: Option<Vec<Uuid>>,
    /// Its case's retention date, when one is set (`GET /v1/files/{file_id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retain_until: Option<DateTime<Utc>>,
}

impl FileView {
    /// The view with what protects the file.
    pub fn protected(mut self, p: &Protection) -> Self {
        self.held = Some(p.held());
        self.holds = Some(p.holds.iter().map(|h| h.0).collect());
        self.retain_until = p.retain_until;
        self
    }
}

impl From<&CaseFile> for FileView {
    fn from(f: &CaseFile) -> Self {
        Self {
            id: f.id.0,
            case_id: f.case_id.0,
            logical_path: f.logical_path.as_str().to_owned(),
            file_name: f.file_name.as_str().to_owned(),
            mime_type: f.mime_type.clone(),
            file_size: f.actual_size.unwrap_or(f.declared_size),
            content_hash: f.sha256.to_hex(),
            status: f.status.as_str().to_owned(),
            uploaded_by: f.uploaded_by.0,
            created_at: f.created_at,
            updated_at: f.updated_at,
            held: None,
            holds: None,
            retain_until: None,
        }
    }
}

/// A page of a case's files, by logical path.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FileList {
    /// The files of this page.
    pub files: Vec<FileView>,
    /// With `delimiter=/`: the sub-folders of this page, each once, ending in `/` (open one by
    /// passing it as `prefix`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folders: Option<Vec<String>>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// A short-lived download URL (no bearer token needed).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DownloadUrl {
    /// A plain `GET` downloads the file as an attachment.
    pub url: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

impl From<&PresignedDownload> for DownloadUrl {
    fn from(d: &PresignedDownload) -> Self {
        Self {
            url: d.url.clone(),
            expires_at: d.expires_at,
        }
    }
}

/// One audit entry.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditEntryView {
    /// Its id.
    pub id: Uuid,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (absent for the system).
    pub actor: Option<Uuid>,
    /// What, e.g. `upload_completed`, `file_downloaded`, `access_denied`.
    pub action: String,
    /// The case concerned.
    pub case_id: Option<Uuid>,
    /// The file concerned.
    pub file_id: Option<Uuid>,
    /// `success`, `denied` or `failure`.
    pub outcome: String,
    /// More about it.
    pub details: Option<String>,
    /// Its position in the audit log: the index of its leaf in the log's Merkle tree
    /// (`docs/audit-log.md`).
    pub log_index: Option<u64>,
}

/// `GET /v1/audit/entries/{index}/proof` query.
#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProofQuery {
    /// The size of the tree to prove against (past the entry, at most the log's size); the
    /// latest signed checkpoint when absent.
    pub tree_size: Option<u64>,
}

/// `GET /v1/audit/consistency` query.
#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    /// The earlier tree size.
    pub from: u64,
    /// The later tree size (at most the log's size).
    pub to: u64,
}

/// An audit entry's proof of inclusion (hashes in lowercase hex).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InclusionProofView {
    /// The entry.
    pub entry: AuditEntryView,
    /// Its leaf hash: SHA-256(0x00 ‖ canonical bytes), docs/audit-log.md.
    pub leaf_hash: String,
    /// The size of the tree proven against.
    pub tree_size: u64,
    /// That tree's root.
    pub root: String,
    /// The audit path, leaf to root (RFC 6962).
    pub proof: Vec<String>,
    /// The signed checkpoint of that tree (when no `tree_size` was asked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
}

/// A consistency proof between two sizes of the log (hashes in lowercase hex).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConsistencyProofView {
    /// The earlier size.
    pub from: u64,
    /// Its root.
    pub from_root: String,
    /// The later size.
    pub to: u64,
    /// Its root.
    pub to_root: String,
    /// The proof (RFC 6962).
    pub proof: Vec<String>,
}

impl From<casefile_domain::legal::InclusionProof> for InclusionProofView {
    fn from(p: casefile_domain::legal::InclusionProof) -> Self {
        let hex = |h: &[u8; 32]| h.iter().map(|b| format!("{b:02x}")).collect::<String>();
        Self {
            entry: AuditEntryView::from(&p.entry),
            leaf_hash: hex(&p.leaf),
            tree_size: p.tree_size,
            root: hex(&p.root),
            proof: p.proof.iter().map(hex).collect(),
            checkpoint: p.checkpoint,
        }
    }
}

impl From<&AuditEntry> for AuditEntryView {
    fn from(e: &AuditEntry) -> Self {
        Self {
            id: e.id.0,
            at: e.at,
            actor: e.actor.map(|u| u.0),
            action: e.action.as_str().to_owned(),
            case_id: e.case_id.map(|c| c.0),
            file_id: e.file_id.map(|f| f.0),
            outcome: e.outcome.as_str().to_owned(),
            details: e.details.clone(),
            log_index: e.log_index,
        }
    }
}

/// A page of a case's audit trail, oldest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    /// The entries of this page.
    pub entries: Vec<AuditEntryView>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// Whether the server's dependencies answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// The object store answered.
    pub storage: bool,
    /// The database answered.
    pub database: bool,
}

/// Whether this instance should be sent traffic (`/readyz`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Readiness {
    /// The database answered within the probe's time.
    pub database: bool,
    /// The object store answered within the probe's time.
    pub storage: bool,
    /// The schema had every migration of this build when the instance started (an instance
    /// does not start on a schema behind it).
    pub migrations: bool,
}

/// Paging of the audit trail.
#[derive(Debug, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Where to continue: a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// Filter and paging of a case's files.
#[derive(Debug, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FileListQuery {
    /// Only files whose logical path starts with this string: `pleadings/` lists what is in
    /// `pleadings`, `pleadings/com` finds `pleadings/complaint.bin` (a plain string prefix).
    pub prefix: Option<String>,
    /// Where to continue: a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// `/`: list one folder level (files directly under `prefix`, and its sub-folders in
    /// `folders`), as S3 does. No other delimiter is supported.
    #[param(example = "/")]
    pub delimiter: Option<String>,
}

/// `PUT /v1/cases/{case_id}/files`: where the uploaded body goes.
#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DirectUploadQuery {
    /// Where the file goes in the case.
    #[param(min_length = 1, max_length = 1024)]
    pub logical_path: String,
    /// The name to download it as; the last segment of the path when absent.
    pub file_name: Option<String>,
    /// Its MIME type; the `Content-Type` header, else guessed from the file name, when absent.
    pub mime_type: Option<String>,
}
