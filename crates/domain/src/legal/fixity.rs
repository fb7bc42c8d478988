//! Fixity: the scrub that re-reads stored files against their records, and what it records.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::content::Sha256;
use crate::legal::{CaseId, FileId, LogicalPath};

/// What a scrub found when it re-read one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FixityOutcome {
    /// The stored bytes have the recorded size and SHA-256.
    Ok,
    /// The stored bytes differ from the record (size or SHA-256).
    Mismatch,
    /// There is no object where the record says the bytes are.
    Missing,
}

impl FixityOutcome {
    /// The outcome as stored (snake case).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Mismatch => "mismatch",
            Self::Missing => "missing",
        }
    }

    /// The outcome stored as `s`, if it is one.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ok" => Some(Self::Ok),
            "mismatch" => Some(Self::Mismatch),
            "missing" => Some(Self::Missing),
            _ => None,
        }
    }
}

/// The last verification of a file, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixityRecord {
    /// When it was verified.
    pub verified_at: DateTime<Utc>,
    /// What was found.
    pub outcome: FixityOutcome,
    /// The scrub run that verified it.
    pub run: ScrubRunId,
}

/// The id of a scrub run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ScrubRunId(pub uuid::Uuid);

impl std::fmt::Display for ScrubRunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A scrub run: every completed file of its scope (one case, or all) not verified since
/// `started_at` is read once. A run that stopped (killed, crashed) is resumed by the next scrub
/// of the same scope: the files it verified are not read — nor audited — again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrubRun {
    /// Its id.
    pub id: ScrubRunId,
    /// The case it covers; `None`: every case.
    pub case_id: Option<CaseId>,
    /// When it started: files verified since are done.
    pub started_at: DateTime<Utc>,
    /// When a scrubber last showed it was alive (leadership among instances).
    pub heartbeat_at: DateTime<Utc>,
    /// When it finished, if it did.
    pub finished_at: Option<DateTime<Utc>>,
    /// Files verified so far, whatever the outcome.
    pub checked: u64,
    /// Files found mismatched or missing so far.
    pub failed: u64,
    /// Bytes read so far.
    pub bytes: u64,
}

/// What [`begin_scrub`](crate::legal::CaseRepository::begin_scrub) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScrubClaim {
    /// The caller runs this scrub (new, or resumed).
    Claimed {
        /// The run.
        run: ScrubRun,
        /// Whether it was an unfinished run, resumed.
        resumed: bool,
    },
    /// Another scrubber's heartbeat is fresh: it runs this scope now.
    Busy(ScrubRun),
}

/// How to scrub.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScrubOptions {
    /// Only this case.
    pub case_id: Option<CaseId>,
    /// Read at most this many bytes per second, all jobs together (`None`: no limit).
    pub rate_bytes_per_sec: Option<u64>,
    /// Files read at once (at least 1).
    pub jobs: usize,
    /// Only files not verified within this long (`None`: every file not verified in this run).
    pub older_than: Option<chrono::Duration>,
    /// Resume a run whose heartbeat is older than this, or leave the scope to it
    /// (`None`: always resume — an operator's explicit scrub).
    pub lease: Option<chrono::Duration>,
}

/// One file's result, as the scrub reports it while it goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScrubFileResult {
    /// The file.
    pub file_id: FileId,
    /// Its case.
    pub case_id: CaseId,
    /// Its logical path.
    pub logical_path: LogicalPath,
    /// The recorded size.
    pub size: u64,
    /// What was found; `None` when the store could not be read (then nothing was recorded and
    /// the next scrub tries again).
    pub outcome: Option<FixityOutcome>,
    /// What differed or failed, for the failures.
    pub detail: Option<String>,
    /// The SHA-256 read, when all the bytes were read.
    pub actual_sha256: Option<Sha256>,
}

/// The end of a scrub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScrubReport {
    /// The run.
    pub run: ScrubRunId,
    /// Whether it resumed an unfinished run.
    pub resumed: bool,
    /// Files verified in the whole run (its earlier, interrupted parts included).
    pub checked: u64,
    /// Files mismatched or missing in the whole run.
    pub failed: u64,
    /// Bytes read in the whole run.
    pub bytes: u64,
    /// Files that could not be read this time (store errors): not recorded, tried again.
    pub errors: u64,
    /// Every file that failed (mismatch, missing, or unreadable) in this invocation.
    pub failures: Vec<ScrubFileResult>,
    /// Set when another scrubber runs this scope (nothing was done).
    pub busy: bool,
}

impl ScrubReport {
    /// Whether everything read was intact.
    pub fn clean(&self) -> bool {
        self.failed == 0 && self.errors == 0 && self.failures.is_empty()
    }
}

/// The work left to a scrub: how many files, how many bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScrubBacklog {
    /// Files.
    pub files: u64,
    /// Bytes.
    pub bytes: u64,
}
