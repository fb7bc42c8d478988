//! Stream wrappers of the service: a guarded upload body and a verified download body.

use std::sync::{Arc, Mutex, PoisonError};

use bytes::BytesMut;
use futures::{StreamExt, stream};

use crate::content::{ContentHasher, SNIFF_LEN, Sha256};
use crate::error::StorageError;
use crate::storage::ByteStream;

/// The first bytes of an upload, recorded as they pass.
#[derive(Debug, Clone, Default)]
pub(crate) struct Prefix(Arc<Mutex<BytesMut>>);

impl Prefix {
    pub(crate) fn bytes(&self) -> BytesMut {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Wraps an upload body: fails with [`StorageError::TooLarge`] as soon as more than `limit` bytes
/// have passed (so an oversize upload never reaches its end in storage), and records the first
/// [`SNIFF_LEN`] bytes for content sniffing. No byte is copied beyond those.
pub(crate) fn guard_upload(body: ByteStream, limit: u64) -> (ByteStream, Prefix) {
    let prefix = Prefix::default();
    let recorder = prefix.clone();
    let mut seen = 0u64;
    let guarded = body.map(move |chunk| {
        let chunk = chunk?;
        seen += chunk.len() as u64;
        if seen > limit {
            return Err(StorageError::TooLarge { limit });
        }
        let mut head = recorder.0.lock().unwrap_or_else(PoisonError::into_inner);
        if head.len() < SNIFF_LEN {
            let take = chunk.len().min(SNIFF_LEN - head.len());
            head.extend_from_slice(&chunk[..take]);
        }
        Ok(chunk)
    });
    (Box::pin(guarded), prefix)
}

/// Wraps a download body: hashes it as it passes and, at its end, yields
/// [`StorageError::ChecksumMismatch`] instead of ending cleanly when the content is not what was
/// verified at upload — so a reader can never take altered bytes for the original.
pub(crate) fn verify_download(
    body: ByteStream,
    expected: Sha256,
    expected_size: u64,
) -> ByteStream {
    let checked = stream::unfold(
        Some((body, ContentHasher::new())),
        move |state| async move {
            let (mut body, mut hasher) = state?;
            match body.next().await {
                Some(Ok(chunk)) => {
                    hasher.update(&chunk);
                    Some((Ok(chunk), Some((body, hasher))))
                }
                Some(Err(e)) => Some((Err(e), None)),
                None => {
                    let (actual, size) = hasher.finish();
                    if actual == expected && size == expected_size {
                        None
                    } else {
                        Some((
                            Err(StorageError::ChecksumMismatch { expected, actual }),
                            None,
                        ))
                    }
                }
            }
        },
    );
    Box::pin(checked)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use futures::TryStreamExt;

    use super::*;

    fn body(parts: Vec<&'static [u8]>) -> ByteStream {
        Box::pin(stream::iter(
            parts.into_iter().map(|p| Ok(Bytes::from_static(p))),
        ))
    }

    #[tokio::test]
    async fn upload_guard_stops_past_the_limit_and_records_the_prefix() {
        let (guarded, prefix) = guard_upload(body(vec![b"abc", b"def"]), 6);
        let all: Vec<Bytes> = guarded.try_collect().await.unwrap();
        assert_eq!(all.concat(), b"abcdef");
        assert_eq!(&prefix.bytes()[..], b"abcdef");
        let (guarded, _) = guard_upload(body(vec![b"abc", b"defg"]), 6);
        let err = guarded.try_collect::<Vec<Bytes>>().await.unwrap_err();
        assert!(matches!(err, StorageError::TooLarge { limit: 6 }));
    }

    #[tokio::test]
    async fn download_verification_flags_altered_content_at_the_end() {
        let good = Sha256::digest(b"abcdef");
        let ok: Vec<Bytes> = verify_download(body(vec![b"abc", b"def"]), good, 6)
            .try_collect()
            .await
            .unwrap();
        assert_eq!(ok.concat(), b"abcdef");
        let err = verify_download(body(vec![b"abc", b"deX"]), good, 6)
            .try_collect::<Vec<Bytes>>()
            .await
            .unwrap_err();
        assert!(matches!(err, StorageError::ChecksumMismatch { .. }));
    }
}
