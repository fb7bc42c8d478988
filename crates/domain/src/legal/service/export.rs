//! E-discovery export: a case's files, verified as they leave, with its audit trail and proofs.
//!
//! The service hands out the pieces of a production set — the files, each native as a stream
//! verified against its recorded SHA-256, the case's audit entries, a signed checkpoint and an
//! inclusion proof per entry — and audits the export; packaging them (a folder, a ZIP, load
//! files) is the caller's.

use super::*;
use crate::legal::audit_log::CheckpointSigner;

/// Files and audit entries asked of the database at a time.
pub const EXPORT_PAGE: usize = 500;

/// An export in progress: who asked, for which case, and what they may take.
#[derive(Debug, Clone)]
pub struct CaseExport {
    /// The case.
    pub case: Case,
    /// Who exports it; `None` for the operator (the command line, with the database's
    /// credentials).
    pub actor: Option<UserId>,
    /// Whether the audit trail goes with the files (owners, auditors and the operator).
    pub include_audit: bool,
    /// The `case_exported` entry, appended when the export began.
    pub entry: AuditEntry,
}

impl LegalFileService {
    /// Begins the export of a case to `destination` (named in the audit entry): checks that
    /// `actor` may read the case's content (`None`: the operator), and appends `case_exported`.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] for a case `actor` is not a member of (or no case);
    /// [`ServiceError::Forbidden`] for a role that may not read content (auditors).
    pub async fn begin_export(
        &self,
        actor: Option<UserId>,
        case_id: CaseId,
        destination: &str,
    ) -> ServiceResult<CaseExport> {
        let (case, include_audit) = match actor {
            Some(user) => {
                let member = self
                    .authorize_case(user, case_id, Permission::ReadContent)
                    .await?;
                let audit = member.role.allows(Permission::ReadAudit);
                (member.case, audit)
            }
            None => (
                self.repository
                    .get_case(case_id)
                    .await?
                    .ok_or(ServiceError::NotFound { what: "case" })?,
                true,
            ),
        };
        let entry = AuditEntry::new(
            self.clock.now(),
            actor,
            AuditAction::CaseExported,
            AuditOutcome::Success,
        )
        .case(case_id)
        .details(format!(
            "{} files, {} bytes, to {destination}{}",
            case.file_count,
            case.total_size_bytes,
            if include_audit {
                ", with the audit trail"
            } else {
                ""
            }
        ));
        self.repository.append_audit(&entry).await?;
        Ok(CaseExport {
            case,
            actor,
            include_audit,
            entry,
        })
    }

    /// The next page of the export's files, by logical path, after `after`.
    ///
    /// # Errors
    /// Persistence failures.
    pub async fn export_files(
        &self,
        export: &CaseExport,
        after: Option<LogicalPath>,
    ) -> ServiceResult<Vec<CaseFile>> {
        let query = FileQuery {
            prefix: None,
            after,
            from: None,
            limit: EXPORT_PAGE,
        };
        Ok(self.repository.list_files(export.case.id, &query).await?)
    }

    /// A file's bytes for the export, verified as they pass (size and SHA-256): the stream fails
    /// before its last byte when they differ, and the mismatch is audited as `fixity_failed`.
    ///
    /// # Errors
    /// Storage failures (a missing object is [`StorageError::NotFound`]).
    pub async fn export_native(
        &self,
        export: &CaseExport,
        file: &CaseFile,
    ) -> ServiceResult<ByteStream> {
        if file.case_id != export.case.id {
            return Err(ServiceError::NotFound { what: "file" });
        }
        let found = self
            .storage
            .download_stream(&file.storage_key, None)
            .await?;
        let size = file.actual_size.unwrap_or(file.declared_size);
        let repository = Arc::clone(&self.repository);
        let clock = Arc::clone(&self.clock);
        let audit = AuditEntry::new(
            self.clock.now(),
            export.actor,
            AuditAction::FixityFailed,
            AuditOutcome::Failure,
        )
        .case(file.case_id)
        .file(file.id);
        let report: OnMismatch = Box::new(move |why: String| {
            Box::pin(async move {
                let mut audit = audit.details(format!("export aborted: {why}"));
                audit.at = clock.now();
                if let Err(e) = repository.append_audit(&audit).await {
                    tracing::error!(error = %e, "cannot audit a fixity failure of an export");
                }
            })
        });
        Ok(verify_download(found.body, file.sha256, size, Some(report)))
    }

    /// The next page of the case's audit entries (oldest first), after `after`; empty when the
    /// export does not include the audit trail.
    ///
    /// # Errors
    /// Persistence failures.
    pub async fn export_audit(
        &self,
        export: &CaseExport,
        after: Option<AuditId>,
    ) -> ServiceResult<Vec<AuditEntry>> {
        if !export.include_audit {
            return Ok(Vec::new());
        }
        let query = AuditQuery {
            case_id: Some(export.case.id),
            file_id: None,
            after,
            limit: Some(EXPORT_PAGE),
        };
        Ok(self.repository.list_audit(&query).await?)
    }

    /// A signed checkpoint for the export (made now, so that it covers the export's own entry),
    /// and its tree size.
    ///
    /// # Errors
    /// Persistence and storage failures.
    pub async fn export_checkpoint(
        &self,
        signer: &CheckpointSigner,
    ) -> ServiceResult<(String, u64)> {
        let note = self.make_checkpoint(signer).await?;
        let signed = crate::legal::audit_log::open_checkpoint(&note, &signer.verifier_key())
            .map_err(|e| ServiceError::invalid("checkpoint", e))?;
        Ok((note, signed.size))
    }

    /// The inclusion proof of one of the export's entries in the tree of `tree_size` leaves.
    ///
    /// # Errors
    /// [`ServiceError::InvalidInput`] for an entry not in that tree.
    pub async fn export_proof(
        &self,
        export: &CaseExport,
        entry: &AuditEntry,
        tree_size: u64,
        checkpoint: &str,
    ) -> ServiceResult<InclusionProof> {
        if !export.include_audit || entry.case_id != Some(export.case.id) {
            return Err(ServiceError::NotFound { what: "entry" });
        }
        let index = entry
            .log_index
            .ok_or_else(|| ServiceError::invalid("index", "the entry has no log index"))?;
        let mut proof = self
            .inclusion_proof(entry.clone(), index, tree_size)
            .await?;
        proof.checkpoint = Some(checkpoint.to_owned());
        Ok(proof)
    }
}
