//! Signed checkpoints of the audit log, kept in the database and anchored in the store.

use bytes::Bytes;

use super::*;
use crate::legal::audit_log::{self, CheckpointSigner, TreeHash};

/// An audit entry's proof of inclusion in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// The entry.
    pub entry: AuditEntry,
    /// Its leaf hash.
    pub leaf: TreeHash,
    /// The size of the tree the proof is against.
    pub tree_size: u64,
    /// That tree's root.
    pub root: TreeHash,
    /// The audit path, leaf to root (RFC 6962).
    pub proof: Vec<TreeHash>,
    /// The signed checkpoint of that tree, when the proof is against the latest checkpoint.
    pub checkpoint: Option<String>,
}

/// A proof that a later tree of the log extends an earlier one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// The earlier size and root.
    pub from: (u64, TreeHash),
    /// The later size and root.
    pub to: (u64, TreeHash),
    /// The proof (RFC 6962).
    pub proof: Vec<TreeHash>,
}

impl LegalFileService {
    /// The signed checkpoint of the audit log as it stands: made when the log has grown since
    /// the last one (the same head always signs to the same note), kept in the database, and
    /// anchored as an object under [`audit_log::CHECKPOINT_PREFIX`] in the store — written once,
    /// where whoever administers the database cannot rewrite it.
    ///
    /// # Errors
    /// Persistence and storage failures (the next call tries again).
    pub async fn make_checkpoint(&self, signer: &CheckpointSigner) -> ServiceResult<String> {
        let head = self.repository.audit_tree_head().await?;
        let note = signer
            .sign(head)
            .map_err(|e| ServiceError::invalid("checkpoint", e))?;
        self.repository
            .store_checkpoint(head.size, &note, self.clock.now())
            .await?;
        self.anchor(head.size, &note).await?;
        Ok(note)
    }

    /// Writes the anchor of the checkpoint at `size`: create-only where the store has it (an
    /// anchor is never replaced, not even by casefile), under the store's own legal hold where
    /// it has one (S3 Object Lock: nobody can delete it). An anchor already there is left as it
    /// is — [`audit_log::verify`] compares it with the database's checkpoint.
    async fn anchor(&self, size: u64, note: &str) -> ServiceResult<()> {
        let key = audit_log::checkpoint_key(size);
        if self.storage.head(&key).await?.is_some() {
            return Ok(());
        }
        let body = Bytes::from(note.to_owned());
        let options = PutOptions::with_content_type("text/plain; charset=utf-8");
        let capabilities = self.storage.capabilities();
        if capabilities.create_only {
            match self.storage.upload_if_absent(&key, body, options).await {
                // Written by a concurrent checkpoint of the same head (the same note).
                Ok(_) | Err(StorageError::AlreadyExists { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        } else {
            self.storage.upload(&key, body, options).await?;
        }
        if capabilities.legal_hold {
            self.storage.set_legal_hold(&key, true).await?;
        }
        Ok(())
    }

    /// The proof that the entry at log `index` is in the log: against the tree of `tree_size`
    /// leaves, or — without it — against the latest signed checkpoint (made now when the log has
    /// grown), which comes with the proof. Only for members who may read the audit trail of the
    /// entry's case (owners and auditors).
    ///
    /// # Errors
    /// [`ServiceError::InvalidInput`] for an index past the end of the log or a `tree_size`
    /// larger than the log or not past the entry; [`ServiceError::NotFound`] for an entry of a
    /// case the caller may not read the trail of, or of no case.
    pub async fn prove_entry(
        &self,
        user: UserId,
        index: u64,
        tree_size: Option<u64>,
        signer: &CheckpointSigner,
    ) -> ServiceResult<InclusionProof> {
        let head = self.repository.audit_tree_head().await?;
        if index >= head.size {
            return Err(ServiceError::invalid("index", "past the end of the log"));
        }
        if let Some(size) = tree_size
            && (size > head.size || size <= index)
        {
            return Err(ServiceError::invalid(
                "tree_size",
                format!(
                    "must be past the entry and at most the log's {} entries",
                    head.size
                ),
            ));
        }
        let Some(entry) = self.repository.audit_entry_at(index).await? else {
            return Err(ServiceError::NotFound { what: "entry" });
        };
        let Some(case) = entry.case_id else {
            return Err(ServiceError::NotFound { what: "entry" });
        };
        match self.authorize_case(user, case, Permission::ReadAudit).await {
            Ok(_) => {}
            Err(ServiceError::Forbidden { .. } | ServiceError::NotFound { .. }) => {
                return Err(ServiceError::NotFound { what: "entry" });
            }
            Err(e) => return Err(e),
        }
        let (size, checkpoint) = match tree_size {
            Some(size) => (size, None),
            None => {
                let note = self.make_checkpoint(signer).await?;
                let signed = audit_log::open_checkpoint(&note, &signer.verifier_key())
                    .map_err(|e| ServiceError::invalid("checkpoint", e))?;
                (signed.size, Some(note))
            }
        };
        let mut proof = self.inclusion_proof(entry, index, size).await?;
        proof.checkpoint = checkpoint;
        Ok(proof)
    }

    /// The audit path of `entry` (at `index`) in the tree of `size` leaves, without a checkpoint.
    pub(super) async fn inclusion_proof(
        &self,
        entry: AuditEntry,
        index: u64,
        size: u64,
    ) -> ServiceResult<InclusionProof> {
        if index >= size {
            return Err(ServiceError::invalid("index", "not in the tree"));
        }
        let root = self.tree_root(size).await?;
        let read = self
            .repository
            .read_audit_tree(&audit_log::inclusion_reads(size, index))
            .await?;
        let proof = audit_log::inclusion_proof(size, index, &read)
            .ok_or_else(|| ServiceError::invalid("index", "not in the tree"))?;
        Ok(InclusionProof {
            leaf: audit_log::leaf_hash(&entry),
            entry,
            tree_size: size,
            root,
            proof,
            checkpoint: None,
        })
    }

    /// The proof that the log's tree of `to` leaves extends its tree of `from` leaves. For any
    /// signed-in caller: tree hashes tell nothing of the entries.
    ///
    /// # Errors
    /// [`ServiceError::InvalidInput`] unless `from <= to <=` the log's size.
    pub async fn prove_consistency(&self, from: u64, to: u64) -> ServiceResult<ConsistencyProof> {
        let head = self.repository.audit_tree_head().await?;
        if from > to || to > head.size {
            return Err(ServiceError::invalid(
                "to",
                format!("need from <= to <= {} (the log's size)", head.size),
            ));
        }
        let read = self
            .repository
            .read_audit_tree(&audit_log::consistency_reads(to, from))
            .await?;
        let proof = audit_log::consistency_proof(to, from, &read)
            .ok_or_else(|| ServiceError::invalid("from", "not in the tree"))?;
        Ok(ConsistencyProof {
            from: (from, self.tree_root(from).await?),
            to: (to, self.tree_root(to).await?),
            proof,
        })
    }

    async fn tree_root(&self, size: u64) -> ServiceResult<TreeHash> {
        let read = self
            .repository
            .read_audit_tree(&audit_log::root_reads(size))
            .await?;
        audit_log::root(size, &read)
            .ok_or_else(|| ServiceError::invalid("tree_size", "not in the tree"))
    }
}
