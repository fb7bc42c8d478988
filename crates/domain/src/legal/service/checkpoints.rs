//! Signed checkpoints of the audit log, kept in the database and anchored in the store.

use bytes::Bytes;

use super::*;
use crate::legal::audit_log::{self, CheckpointSigner};

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
        let key = audit_log::checkpoint_key(head.size);
        if self.storage.head(&key).await?.is_none() {
            self.storage
                .upload(
                    &key,
                    Bytes::from(note.clone()),
                    PutOptions::with_content_type("text/plain; charset=utf-8"),
                )
                .await?;
        }
        Ok(note)
    }
}
