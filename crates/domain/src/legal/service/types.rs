//! What the service's operations take and return.

#[allow(unused_imports)]
use super::*;

/// What a client declares to start an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUpload {
    /// Where the file goes in the case (see [`LogicalPath`]).
    pub logical_path: String,
    /// The name to download it as; the last segment of the path when `None`.
    pub file_name: Option<String>,
    /// Its MIME type; guessed from the file name when `None`.
    pub mime_type: Option<String>,
    /// Its exact size in bytes.
    pub file_size: u64,
    /// Its SHA-256, 64 hexadecimal digits. Required to initiate a presigned upload; optional for
    /// [`LegalFileService::upload_file`], which then computes it as the bytes pass.
    pub content_hash: Option<String>,
}

/// A started upload: the pending file and how to send its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitiatedUpload {
    /// The pending file.
    pub file: CaseFile,
    /// Where and how to upload the bytes.
    pub upload: PresignedUpload,
}

/// A download through the service.
pub struct FileDownload {
    /// The file.
    pub file: CaseFile,
    /// Its bytes, verified against the recorded SHA-256 as they pass: a mismatch ends the stream
    /// with [`StorageError::ChecksumMismatch`].
    pub body: ByteStream,
}

impl std::fmt::Debug for FileDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileDownload")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

/// Which page of the caller's cases to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListCases {
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// The page size: 1 to [`MAX_FILE_PAGE`], [`DEFAULT_FILE_PAGE`] when `None`.
    pub limit: Option<usize>,
}

/// A page of cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CasePage {
    /// The cases the caller is a member of, with their role, oldest first.
    pub cases: Vec<MemberCase>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Which files of a case to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFiles {
    /// Only files whose logical path starts with this string (a plain string prefix; one
    /// trailing `/` allowed: `pleadings/` for what is inside `pleadings`, `pleadings/com` for
    /// `pleadings/complaint.bin`).
    pub prefix: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// The page size: 1 to [`MAX_FILE_PAGE`], [`DEFAULT_FILE_PAGE`] when `None`.
    pub limit: Option<usize>,
    /// Folders: list one level under `prefix` — its files, and each sub-folder once (in
    /// [`FilePage::folders`], as `prefix…name/`) instead of the files inside it. Files and
    /// folders together, in path order, make the page.
    pub delimiter: bool,
}

/// A page of files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePage {
    /// Completed files, by logical path.
    pub files: Vec<CaseFile>,
    /// With [`ListFiles::delimiter`]: the sub-folders of this page, each ending in `/`.
    pub folders: Vec<String>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Which page of a case's audit trail to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditTrailQuery {
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// The page size: 1 to [`MAX_FILE_PAGE`], [`DEFAULT_FILE_PAGE`] when `None`.
    pub limit: Option<usize>,
}

/// A page of a case's audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditTrailPage {
    /// Entries, oldest first.
    pub entries: Vec<AuditEntry>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// What a purge did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Objects removed (and recorded as removed).
    pub purged: usize,
    /// Objects whose removal failed; they are tried again by the next purge.
    pub failed: usize,
    /// Pending uploads whose URL had expired, marked failed (their bytes purged with the rest).
    pub expired: usize,
    /// Staging objects removed because their upload was no longer pending (bytes sent to an
    /// upload URL after the upload was completed, failed or deleted).
    pub staging_swept: usize,
}
