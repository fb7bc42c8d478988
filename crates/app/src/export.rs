//! E-discovery export: a case as a production set — natives under their logical paths,
//! Concordance DAT and CSV load files, a manifest, and the case's audit trail with a signed
//! checkpoint and an inclusion proof per entry — in a folder or a ZIP, and its offline check.
//!
//! The layout is documented in docs/export.md.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use async_zip::base::write::ZipFileWriter;
use async_zip::{Compression, ZipEntryBuilder};
use casefile_domain::legal::audit_log::CheckpointSigner;
use casefile_domain::legal::{AuditId, CaseExport, LegalFileService, LogicalPath, ServiceError};
use casefile_domain::storage::ByteStream;
use futures::{AsyncWriteExt as _, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt as _;
use tokio_util::compat::Compat;

use crate::api::{AuditEntryView, InclusionProofView};

/// The manifest's format name.
pub const FORMAT: &str = "casefile-export/1";
/// The Concordance field delimiter (DC4, 0x14).
pub const DAT_DELIMITER: char = '\u{14}';
/// The Concordance text qualifier (þ, U+00FE).
pub const DAT_QUOTE: char = '\u{FE}';
/// The load files' columns, in order.
pub const LOAD_FILE_FIELDS: [&str; 9] = [
    "DOCID",
    "FILENAME",
    "LOGICAL_PATH",
    "FILESIZE",
    "SHA256",
    "MIMETYPE",
    "UPLOADED_BY",
    "UPLOADED_AT",
    "NATIVE",
];

/// One file of an export, as the manifest and the load files list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedFile {
    /// The document id in the production (`CF000001`, …, in logical-path order).
    pub docid: String,
    /// casefile's id of the file.
    pub file_id: uuid::Uuid,
    /// Its logical path in the case.
    pub logical_path: String,
    /// Its file name.
    pub file_name: String,
    /// Where its bytes are in the export (`natives/<logical path>`).
    pub native: String,
    /// Its size, in bytes.
    pub size: u64,
    /// Its SHA-256, lowercase hex.
    pub sha256: String,
    /// Its MIME type.
    pub mime_type: String,
    /// Who uploaded it.
    pub uploaded_by: uuid::Uuid,
    /// When it was completed (RFC 3339).
    pub uploaded_at: String,
}

impl ExportedFile {
    fn load_file_row(&self) -> [String; 9] {
        [
            self.docid.clone(),
            self.file_name.clone(),
            self.logical_path.clone(),
            self.size.to_string(),
            self.sha256.clone(),
            self.mime_type.clone(),
            self.uploaded_by.to_string(),
            self.uploaded_at.clone(),
            self.native.clone(),
        ]
    }
}

/// Where the audit trail is in an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedAudit {
    /// The entries, one JSON object per line (as `GET /v1/cases/{id}/audit` gives them).
    pub entries: String,
    /// One inclusion proof per entry, one JSON object per line (as
    /// `GET /v1/audit/entries/{index}/proof` gives them: `casefile audit verify-entry` reads
    /// each).
    pub proofs: String,
    /// The signed checkpoint the proofs are against.
    pub checkpoint: String,
    /// Its tree size.
    pub tree_size: u64,
    /// The log's verifier key, as the exporter gave it: compare it with the key the firm
    /// publishes.
    pub verifier_key: String,
    /// How many entries.
    pub count: u64,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The case's id.
    pub case_id: uuid::Uuid,
    /// The case's title.
    pub case_title: String,
    /// When the export began.
    pub exported_at: String,
    /// Who exported it (absent: the operator, on the command line).
    pub exported_by: Option<uuid::Uuid>,
    /// The `case_exported` audit entry's id.
    pub export_entry: uuid::Uuid,
    /// The files, in logical-path order.
    pub files: Vec<ExportedFile>,
    /// The audit trail, when the exporter may read it.
    pub audit: Option<ExportedAudit>,
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The service refused or failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// A file's bytes did not verify or could not be read: the export is incomplete.
    #[error("file {file_id} ({path}): {source}")]
    File {
        /// The file.
        file_id: uuid::Uuid,
        /// Its logical path.
        path: String,
        /// What went wrong.
        source: casefile_domain::StorageError,
    },
    /// Writing the export failed.
    #[error("writing the export: {0}")]
    Write(String),
}

fn write_err(e: impl std::fmt::Display) -> ExportError {
    ExportError::Write(e.to_string())
}

/// Where an export is written.
pub enum Sink<W: tokio::io::AsyncWrite + Unpin> {
    /// A folder (files written under a temporary name, renamed when complete).
    Dir(PathBuf),
    /// A ZIP, streamed (entries stored, not compressed; ZIP64 when needed).
    Zip(ZipFileWriter<Compat<W>>),
}

impl<W: tokio::io::AsyncWrite + Unpin> Sink<W> {
    /// A ZIP written to `writer`.
    pub fn zip(writer: W) -> Self {
        Self::Zip(ZipFileWriter::with_tokio(writer))
    }

    async fn write_stream(
        &mut self,
        path: &str,
        mut body: ByteStream,
        on_bytes: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<Result<u64, casefile_domain::StorageError>, ExportError> {
        let mut written = 0u64;
        match self {
            Self::Dir(root) => {
                let target = root.join(path);
                if let Some(parent) = target.parent() {
                    tokio::fs::create_dir_all(parent).await.map_err(write_err)?;
                }
                let partial = partial_name(&target);
                let mut file = tokio::fs::File::create(&partial).await.map_err(write_err)?;
                while let Some(chunk) = body.next().await {
                    match chunk {
                        Ok(chunk) => {
                            file.write_all(&chunk).await.map_err(write_err)?;
                            written += chunk.len() as u64;
                            on_bytes(chunk.len() as u64);
                        }
                        Err(e) => {
                            drop(file);
                            let _ = tokio::fs::remove_file(&partial).await;
                            return Ok(Err(e));
                        }
                    }
                }
                file.sync_all().await.map_err(write_err)?;
                drop(file);
                tokio::fs::rename(&partial, &target)
                    .await
                    .map_err(write_err)?;
            }
            Self::Zip(zip) => {
                let entry = ZipEntryBuilder::new(path.to_owned().into(), Compression::Stored)
                    .unix_permissions(0o644);
                let mut writer = zip.write_entry_stream(entry).await.map_err(write_err)?;
                while let Some(chunk) = body.next().await {
                    match chunk {
                        Ok(chunk) => {
                            writer.write_all(&chunk).await.map_err(write_err)?;
                            written += chunk.len() as u64;
                            on_bytes(chunk.len() as u64);
                        }
                        // The archive is abandoned: the caller stops writing it.
                        Err(e) => return Ok(Err(e)),
                    }
                }
                writer.close().await.map_err(write_err)?;
            }
        }
        Ok(Ok(written))
    }

    async fn write_bytes(&mut self, path: &str, bytes: &[u8]) -> Result<(), ExportError> {
        match self {
            Self::Dir(root) => {
                let target = root.join(path);
                if let Some(parent) = target.parent() {
                    tokio::fs::create_dir_all(parent).await.map_err(write_err)?;
                }
                let partial = partial_name(&target);
                tokio::fs::write(&partial, bytes).await.map_err(write_err)?;
                tokio::fs::rename(&partial, &target)
                    .await
                    .map_err(write_err)?;
            }
            Self::Zip(zip) => {
                let entry = ZipEntryBuilder::new(path.to_owned().into(), Compression::Stored)
                    .unix_permissions(0o644);
                zip.write_entry_whole(entry, bytes)
                    .await
                    .map_err(write_err)?;
            }
        }
        Ok(())
    }

    async fn finish(self) -> Result<(), ExportError> {
        match self {
            Self::Dir(_) => Ok(()),
            Self::Zip(zip) => {
                let mut inner = zip.close().await.map_err(write_err)?.into_inner();
                inner.shutdown().await.map_err(write_err)
            }
        }
    }
}

fn partial_name(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(".casefile-partial");
    target.with_file_name(name)
}

/// What an export wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    /// Files.
    pub files: u64,
    /// Bytes of natives.
    pub bytes: u64,
    /// Audit entries (with a proof each).
    pub audit_entries: u64,
}

/// The DAT value of a field: the text qualifier never appears inside one (it has no escape in
/// the format), so a `þ` in a name is written as `_` here — the CSV and the manifest carry the
/// exact name.
pub fn dat_value(value: &str) -> String {
    value.replace(DAT_QUOTE, "_")
}

/// The Concordance DAT load file of `files`: UTF-8 with a BOM, fields qualified by `þ` and
/// delimited by DC4, CRLF line ends, a header line.
pub fn dat_load_file(files: &[ExportedFile]) -> String {
    let line = |fields: &[String]| {
        let quoted: Vec<String> = fields
            .iter()
            .map(|f| format!("{DAT_QUOTE}{}{DAT_QUOTE}", dat_value(f)))
            .collect();
        format!("{}\r\n", quoted.join(&DAT_DELIMITER.to_string()))
    };
    let mut out = String::from("\u{FEFF}");
    out.push_str(&line(&LOAD_FILE_FIELDS.map(str::to_owned)));
    for file in files {
        out.push_str(&line(&file.load_file_row()));
    }
    out
}

/// The same load file as CSV (RFC 4180, UTF-8, a header line).
///
/// # Errors
/// Never in practice (writing to memory).
pub fn csv_load_file(files: &[ExportedFile]) -> Result<Vec<u8>, ExportError> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    writer.write_record(LOAD_FILE_FIELDS).map_err(write_err)?;
    for file in files {
        writer
            .write_record(file.load_file_row())
            .map_err(write_err)?;
    }
    writer.into_inner().map_err(write_err)
}

/// Writes the export of `export` to `sink`: natives first (each verified as it streams; a
/// mismatch aborts the export naming the file, and is audited), then the load files, the audit
/// trail with its proofs (made against a checkpoint signed now), and `manifest.json` last — an
/// export without a manifest is incomplete.
///
/// # Errors
/// [`ExportError`].
pub async fn write_export<W: tokio::io::AsyncWrite + Unpin>(
    service: &LegalFileService,
    export: &CaseExport,
    signer: &CheckpointSigner,
    mut sink: Sink<W>,
    on_file: &(dyn Fn(&ExportedFile) + Send + Sync),
    on_bytes: &(dyn Fn(u64) + Send + Sync),
) -> Result<ExportSummary, ExportError> {
    let mut summary = ExportSummary::default();
    let mut files = Vec::new();
    let mut after: Option<LogicalPath> = None;
    loop {
        let page = service.export_files(export, after.clone()).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.logical_path.clone());
        for file in page {
            let row = ExportedFile {
                docid: format!("CF{:06}", files.len() + 1),
                file_id: file.id.0,
                logical_path: file.logical_path.to_string(),
                file_name: file.file_name.to_string(),
                native: format!("natives/{}", file.logical_path),
                size: file.actual_size.unwrap_or(file.declared_size),
                sha256: file.sha256.to_string(),
                mime_type: file.mime_type.clone(),
                uploaded_by: file.uploaded_by.0,
                uploaded_at: file.completed_at.unwrap_or(file.created_at).to_rfc3339(),
            };
            let failed = |source| ExportError::File {
                file_id: file.id.0,
                path: file.logical_path.to_string(),
                source,
            };
            let body = match service.export_native(export, &file).await {
                Ok(body) => body,
                Err(ServiceError::Storage(e)) => return Err(failed(e)),
                Err(e) => return Err(e.into()),
            };
            let written = sink
                .write_stream(&row.native, body, on_bytes)
                .await?
                .map_err(failed)?;
            summary.files += 1;
            summary.bytes += written;
            on_file(&row);
            files.push(row);
        }
    }
    sink.write_bytes("loadfile.dat", dat_load_file(&files).as_bytes())
        .await?;
    sink.write_bytes("loadfile.csv", &csv_load_file(&files)?)
        .await?;
    let audit = if export.include_audit {
        let (note, tree_size) = service.export_checkpoint(signer).await?;
        let mut entries = Vec::new();
        let mut proofs = Vec::new();
        let mut after: Option<AuditId> = None;
        loop {
            let page = service.export_audit(export, after).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            for entry in page {
                // Only entries in the signed tree: each one goes with its proof.
                if entry.log_index.is_none_or(|i| i >= tree_size) {
                    continue;
                }
                let proof = service
                    .export_proof(export, &entry, tree_size, &note)
                    .await?;
                let mut line =
                    serde_json::to_vec(&AuditEntryView::from(&entry)).map_err(write_err)?;
                line.push(b'\n');
                entries.extend_from_slice(&line);
                let mut line =
                    serde_json::to_vec(&InclusionProofView::from(proof)).map_err(write_err)?;
                line.push(b'\n');
                proofs.extend_from_slice(&line);
                summary.audit_entries += 1;
            }
        }
        sink.write_bytes("audit/entries.jsonl", &entries).await?;
        sink.write_bytes("audit/proofs.jsonl", &proofs).await?;
        sink.write_bytes("audit/checkpoint.txt", note.as_bytes())
            .await?;
        Some(ExportedAudit {
            entries: "audit/entries.jsonl".into(),
            proofs: "audit/proofs.jsonl".into(),
            checkpoint: "audit/checkpoint.txt".into(),
            tree_size,
            verifier_key: signer.verifier_key(),
            count: summary.audit_entries,
        })
    } else {
        None
    };
    let manifest = Manifest {
        format: FORMAT.into(),
        case_id: export.case.id.0,
        case_title: export.case.title.clone(),
        exported_at: export.entry.at.to_rfc3339(),
        exported_by: export.actor.map(|u| u.0),
        export_entry: export.entry.id.0,
        files,
        audit,
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(write_err)?;
    sink.write_bytes("manifest.json", &json).await?;
    sink.finish().await?;
    Ok(summary)
}

/// Makes `dir` ready for an export: creates it, or clears what an interrupted export left in it
/// (marked by `.casefile-export`); refuses a finished export (it has a manifest) and a folder
/// with anything else in it.
///
/// # Errors
/// A message saying why the folder cannot take the export.
pub fn prepare_dir(dir: &Path) -> Result<(), String> {
    let marker = dir.join(".casefile-export");
    match std::fs::read_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("{}: {e}", dir.display())),
        Ok(mut entries) => {
            if dir.join("manifest.json").exists() {
                return Err(format!(
                    "{} holds a finished export already: choose another folder",
                    dir.display()
                ));
            }
            if entries.next().is_some() {
                if !marker.exists() {
                    return Err(format!(
                        "{} is not empty: an export goes into a new or empty folder",
                        dir.display()
                    ));
                }
                // What an interrupted export left: cleared, and the export starts again.
                std::fs::remove_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::fs::write(
        &marker,
        b"an export by casefile; incomplete without manifest.json\n",
    )
    .map_err(|e| format!("{}: {e}", marker.display()))
}

// ----- verification -----

/// What `casefile export verify` found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Natives re-hashed and matching.
    pub files_ok: u64,
    /// Audit entries whose proof verified.
    pub entries_ok: u64,
    /// Every problem, each naming the file, row or entry.
    pub problems: Vec<String>,
    /// The verifier key the checkpoint was checked with, and where it came from.
    pub verifier_key: Option<String>,
}

/// The export to verify: a folder or a ZIP.
enum Source {
    Dir(PathBuf),
    Zip(
        async_zip::tokio::read::fs::ZipFileReader,
        BTreeMap<String, usize>,
    ),
}

impl Source {
    async fn open(path: &Path) -> Result<Self, String> {
        if path.is_dir() {
            return Ok(Self::Dir(path.to_owned()));
        }
        let reader = async_zip::tokio::read::fs::ZipFileReader::new(path)
            .await
            .map_err(|e| format!("{}: not a folder nor a readable ZIP: {e}", path.display()))?;
        let mut names = BTreeMap::new();
        for (i, entry) in reader.file().entries().iter().enumerate() {
            let name = entry
                .filename()
                .as_str()
                .map_err(|e| format!("{}: an entry name is not UTF-8: {e}", path.display()))?;
            names.insert(name.to_owned(), i);
        }
        Ok(Self::Zip(reader, names))
    }

    fn names(&self) -> Result<BTreeSet<String>, String> {
        match self {
            Self::Zip(_, names) => Ok(names.keys().cloned().collect()),
            Self::Dir(root) => {
                let mut out = BTreeSet::new();
                let mut stack = vec![root.clone()];
                while let Some(dir) = stack.pop() {
                    for entry in std::fs::read_dir(&dir).map_err(|e| e.to_string())? {
                        let entry = entry.map_err(|e| e.to_string())?;
                        let path = entry.path();
                        if path.is_dir() {
                            stack.push(path);
                        } else if let Ok(rel) = path.strip_prefix(root) {
                            out.insert(rel.to_string_lossy().replace('\\', "/"));
                        }
                    }
                }
                Ok(out)
            }
        }
    }

    /// Streams the entry `name` through `f`, chunk by chunk; `None` when there is none.
    async fn read_with(
        &self,
        name: &str,
        f: &mut (dyn FnMut(&[u8]) + Send),
    ) -> Result<Option<()>, String> {
        use tokio::io::AsyncReadExt as _;
        use tokio_util::compat::FuturesAsyncReadCompatExt as _;
        let failed = |e: &dyn std::fmt::Display| format!("{name}: {e}");
        let mut reader: Box<dyn tokio::io::AsyncRead + Unpin + Send> = match self {
            Self::Dir(root) => match tokio::fs::File::open(root.join(name)).await {
                Ok(file) => Box::new(file),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(failed(&e)),
            },
            Self::Zip(reader, names) => {
                let Some(&index) = names.get(name) else {
                    return Ok(None);
                };
                let entry = reader
                    .reader_without_entry(index)
                    .await
                    .map_err(|e| failed(&e))?;
                Box::new(entry.compat())
            }
        };
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = reader.read(&mut buf).await.map_err(|e| failed(&e))?;
            if n == 0 {
                return Ok(Some(()));
            }
            f(&buf[..n]);
        }
    }

    async fn read_all(&self, name: &str) -> Result<Option<Vec<u8>>, String> {
        let mut out = Vec::new();
        Ok(self
            .read_with(name, &mut |chunk| out.extend_from_slice(chunk))
            .await?
            .map(|()| out))
    }
}

/// Why an export could not even be read (exit code 2), as opposed to problems found in it.
#[derive(Debug)]
pub struct Unreadable(pub String);

/// Checks an export offline: every native against the manifest (size and SHA-256, re-hashed),
/// no native missing or unlisted, both load files row by row against the manifest, and — when
/// the export carries the audit trail — the checkpoint's signature (with `verifier_key`, else
/// the key the export names) and every entry's inclusion proof.
///
/// # Errors
/// [`Unreadable`] when the export or its manifest cannot be read at all.
pub async fn verify_export(
    path: &Path,
    verifier_key: Option<&str>,
    on_bytes: &(dyn Fn(u64) + Send + Sync),
) -> Result<VerifyReport, Unreadable> {
    let source = Source::open(path).await.map_err(Unreadable)?;
    let manifest = source
        .read_all("manifest.json")
        .await
        .map_err(Unreadable)?
        .ok_or_else(|| {
            Unreadable("no manifest.json: not an export, or an incomplete one".into())
        })?;
    let manifest: Manifest = serde_json::from_slice(&manifest)
        .map_err(|e| Unreadable(format!("manifest.json is malformed: {e}")))?;
    if manifest.format != FORMAT {
        return Err(Unreadable(format!(
            "manifest.json: format {:?}, this verifier reads {FORMAT:?}",
            manifest.format
        )));
    }
    let mut report = VerifyReport::default();
    let names = source.names().map_err(Unreadable)?;
    for file in &manifest.files {
        let mut hasher = casefile_domain::content::ContentHasher::new();
        let found = source
            .read_with(&file.native, &mut |chunk| {
                hasher.update(chunk);
                on_bytes(chunk.len() as u64);
            })
            .await
            .map_err(Unreadable)?;
        if found.is_none() {
            report.problems.push(format!(
                "{} ({}): the native {} is missing",
                file.docid, file.logical_path, file.native
            ));
            continue;
        }
        let (sha, size) = hasher.finish();
        if size != file.size || sha.to_string() != file.sha256 {
            report.problems.push(format!(
                "{} ({}): the native does not match the manifest: {size} bytes, SHA-256 {sha}; \
                 listed {} bytes, SHA-256 {}",
                file.docid, file.logical_path, file.size, file.sha256
            ));
        } else {
            report.files_ok += 1;
        }
    }
    let listed: BTreeSet<&str> = manifest.files.iter().map(|f| f.native.as_str()).collect();
    for name in names.iter().filter(|n| n.starts_with("natives/")) {
        if !listed.contains(name.as_str()) {
            report
                .problems
                .push(format!("{name}: a native the manifest does not list"));
        }
    }
    check_load_files(&source, &manifest, &mut report).await?;
    if let Some(audit) = &manifest.audit {
        check_audit(&source, audit, &manifest, verifier_key, &mut report).await?;
    }
    Ok(report)
}

async fn check_load_files(
    source: &Source,
    manifest: &Manifest,
    report: &mut VerifyReport,
) -> Result<(), Unreadable> {
    let expected: Vec<[String; 9]> = manifest
        .files
        .iter()
        .map(ExportedFile::load_file_row)
        .collect();
    let header = LOAD_FILE_FIELDS.map(str::to_owned);
    match source.read_all("loadfile.dat").await.map_err(Unreadable)? {
        None => report.problems.push("loadfile.dat is missing".into()),
        Some(bytes) => match String::from_utf8(bytes) {
            Err(_) => report.problems.push("loadfile.dat is not UTF-8".into()),
            Ok(text) => {
                let text = text.strip_prefix('\u{FEFF}').unwrap_or_else(|| {
                    report.problems.push("loadfile.dat has no UTF-8 BOM".into());
                    &text
                });
                let rows: Vec<Vec<String>> = text
                    .split("\r\n")
                    .filter(|l| !l.is_empty())
                    .map(|line| {
                        line.split(DAT_DELIMITER)
                            .map(|f| {
                                f.strip_prefix(DAT_QUOTE)
                                    .and_then(|f| f.strip_suffix(DAT_QUOTE))
                                    .unwrap_or(f)
                                    .to_owned()
                            })
                            .collect()
                    })
                    .collect();
                let dat = |row: &[String; 9]| row.iter().map(|f| dat_value(f)).collect::<Vec<_>>();
                compare_rows("loadfile.dat", &rows, &header, &expected, &dat, report);
            }
        },
    }
    match source.read_all("loadfile.csv").await.map_err(Unreadable)? {
        None => report.problems.push("loadfile.csv is missing".into()),
        Some(bytes) => {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(bytes.as_slice());
            let mut rows = Vec::new();
            for record in reader.records() {
                match record {
                    Ok(r) => rows.push(r.iter().map(str::to_owned).collect()),
                    Err(e) => {
                        report.problems.push(format!("loadfile.csv: {e}"));
                        return Ok(());
                    }
                }
            }
            compare_rows(
                "loadfile.csv",
                &rows,
                &header,
                &expected,
                &|row: &[String; 9]| row.to_vec(),
                report,
            );
        }
    }
    Ok(())
}

fn compare_rows(
    name: &str,
    rows: &[Vec<String>],
    header: &[String; 9],
    expected: &[[String; 9]],
    shape: &dyn Fn(&[String; 9]) -> Vec<String>,
    report: &mut VerifyReport,
) {
    if rows.first().map(Vec::as_slice) != Some(header.as_slice()) {
        report.problems.push(format!(
            "{name}: the header line is not {}",
            header.join(",")
        ));
    }
    let body = rows.get(1..).unwrap_or_default();
    if body.len() != expected.len() {
        report.problems.push(format!(
            "{name}: {} rows, the manifest lists {} files",
            body.len(),
            expected.len()
        ));
    }
    for (i, (row, want)) in body.iter().zip(expected).enumerate() {
        if *row != shape(want) {
            report.problems.push(format!(
                "{name}: row {} ({}) does not agree with the manifest",
                i + 2,
                want[0]
            ));
        }
    }
}

async fn check_audit(
    source: &Source,
    audit: &ExportedAudit,
    manifest: &Manifest,
    verifier_key: Option<&str>,
    report: &mut VerifyReport,
) -> Result<(), Unreadable> {
    let key = verifier_key.unwrap_or(&audit.verifier_key).to_owned();
    if !casefile_domain::legal::audit_log::is_verifier_key(&key) {
        return Err(Unreadable(format!("the verifier key {key:?} is malformed")));
    }
    report.verifier_key = Some(key.clone());
    let Some(note) = source
        .read_all(&audit.checkpoint)
        .await
        .map_err(Unreadable)?
    else {
        report
            .problems
            .push(format!("{} is missing", audit.checkpoint));
        return Ok(());
    };
    let note = String::from_utf8_lossy(&note).into_owned();
    match casefile_domain::legal::audit_log::open_checkpoint(&note, &key) {
        Err(e) => report.problems.push(format!("{}: {e}", audit.checkpoint)),
        Ok(signed) if signed.size != audit.tree_size => report.problems.push(format!(
            "{}: signs a tree of {} entries, the manifest says {}",
            audit.checkpoint, signed.size, audit.tree_size
        )),
        Ok(_) => {}
    }
    let entries = source.read_all(&audit.entries).await.map_err(Unreadable)?;
    let proofs = source.read_all(&audit.proofs).await.map_err(Unreadable)?;
    let (Some(entries), Some(proofs)) = (entries, proofs) else {
        report
            .problems
            .push("the audit entries or their proofs are missing".into());
        return Ok(());
    };
    let entries: Vec<&[u8]> = entries
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let proofs: Vec<&[u8]> = proofs
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    if entries.len() != proofs.len() || entries.len() as u64 != audit.count {
        report.problems.push(format!(
            "audit: {} entries and {} proofs, the manifest says {}",
            entries.len(),
            proofs.len(),
            audit.count
        ));
    }
    let mut export_entry_seen = false;
    for (n, (entry, proof)) in entries.iter().zip(&proofs).enumerate() {
        let line = n + 1;
        let proof: InclusionProofView = match serde_json::from_slice(proof) {
            Ok(p) => p,
            Err(e) => {
                report
                    .problems
                    .push(format!("{} line {line}: malformed: {e}", audit.proofs));
                continue;
            }
        };
        let entry: AuditEntryView = match serde_json::from_slice(entry) {
            Ok(e) => e,
            Err(e) => {
                report
                    .problems
                    .push(format!("{} line {line}: malformed: {e}", audit.entries));
                continue;
            }
        };
        if serde_json::to_value(&entry).ok() != serde_json::to_value(&proof.entry).ok() {
            report.problems.push(format!(
                "{} line {line}: entry {} differs from the entry its proof covers",
                audit.entries, entry.id
            ));
            continue;
        }
        if proof.checkpoint.as_deref() != Some(note.as_str()) {
            report.problems.push(format!(
                "{} line {line}: the proof is not against the export's checkpoint",
                audit.proofs
            ));
            continue;
        }
        if entry.case_id != Some(manifest.case_id) {
            report.problems.push(format!(
                "{} line {line}: entry {} is not about this case",
                audit.entries, entry.id
            ));
        }
        export_entry_seen |= entry.id == manifest.export_entry;
        match crate::verify_exported_entry(&proof, &key) {
            Ok(_) => report.entries_ok += 1,
            Err(crate::EntryCheck::Fails(why) | crate::EntryCheck::Malformed(why)) => report
                .problems
                .push(format!("audit entry {} (line {line}): {why}", entry.id)),
        }
    }
    if !export_entry_seen {
        report.problems.push(format!(
            "audit: the export's own entry {} is not among the entries",
            manifest.export_entry
        ));
    }
    Ok(())
}
