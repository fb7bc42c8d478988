//! Legal holds and retention: what must be preserved, and until when.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::legal::{CaseId, FileId, HoldId, UserId};

/// What a legal hold covers. A hold on a case or a prefix also covers files uploaded later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HoldScope {
    /// Every file of the case.
    Case,
    /// Every file whose logical path starts with this string (a plain string prefix, as in
    /// listings: `pleadings/` covers what is inside `pleadings`).
    Prefix {
        /// The prefix, normalised as logical paths are.
        prefix: String,
    },
    /// These files of the case.
    Files {
        /// Their ids.
        file_ids: Vec<FileId>,
    },
}

impl HoldScope {
    /// How the scope is stored: `case`, `prefix` or `files`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Case => "case",
            Self::Prefix { .. } => "prefix",
            Self::Files { .. } => "files",
        }
    }

    /// Whether the scope covers a file of its case with this id and logical path.
    pub fn covers(&self, file: FileId, logical_path: &str) -> bool {
        match self {
            Self::Case => true,
            Self::Prefix { prefix } => logical_path.starts_with(prefix.as_str()),
            Self::Files { file_ids } => file_ids.contains(&file),
        }
    }
}

/// A legal hold: while it is active, nothing it covers can be deleted or purged. Holds are never
/// deleted, only released (once); a file is held while at least one active hold covers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalHold {
    /// Its id.
    pub id: HoldId,
    /// The case.
    pub case_id: CaseId,
    /// What it covers.
    pub scope: HoldScope,
    /// A name or matter reference (1 to 200 characters).
    pub name: String,
    /// Why (1 to 2000 characters).
    pub reason: String,
    /// Who placed it.
    pub placed_by: UserId,
    /// When.
    pub placed_at: DateTime<Utc>,
    /// Its release, once released.
    pub release: Option<HoldRelease>,
}

impl LegalHold {
    /// Whether it still holds.
    pub fn is_active(&self) -> bool {
        self.release.is_none()
    }
}

/// How a hold ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldRelease {
    /// Who released it.
    pub released_by: UserId,
    /// When.
    pub released_at: DateTime<Utc>,
    /// Why (1 to 2000 characters).
    pub reason: String,
}

/// What keeps a file from being deleted now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Protection {
    /// The active holds that cover it.
    pub holds: Vec<HoldId>,
    /// The later of the file's own and its case's retention dates, when one is set (it protects
    /// while in the future).
    pub retain_until: Option<DateTime<Utc>>,
}

impl Protection {
    /// Whether an active hold covers the file.
    pub fn held(&self) -> bool {
        !self.holds.is_empty()
    }

    /// Whether retention protects the file at `now`.
    pub fn retained_at(&self, now: DateTime<Utc>) -> bool {
        self.retain_until.is_some_and(|until| until > now)
    }
}

/// A hold to place (see [`LegalFileService::place_hold`](crate::legal::LegalFileService::place_hold)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHold {
    /// A name or matter reference.
    pub name: String,
    /// Why.
    pub reason: String,
    /// What it covers (the whole case when `None`).
    pub scope: Option<HoldScope>,
}
