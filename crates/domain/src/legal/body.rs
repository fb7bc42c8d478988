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

/// Called once when a download fails verification, with what differed (it audits the failure).
pub(crate) type OnMismatch =
    Box<dyn FnOnce(String) -> futures::future::BoxFuture<'static, ()> + Send>;

/// Wraps a download body: hashes it as it passes and **holds back the chunk that completes the
/// object** until the hash over all of it is known. Only when size and SHA-256 match is that last
/// chunk released, then the end of the stream; otherwise the stream yields
/// [`StorageError::ChecksumMismatch`] instead. So a reader that counts bytes (an HTTP client
/// reading `Content-Length`) never receives the whole object unless it was verified: a mismatch
/// leaves it short.
///
/// A body longer than `expected_size` fails at the first byte past it; one that ends short fails
/// at its end. Every chunk before the last passes through at once (the reader waits for nothing
/// but the last chunk's hash). `on_mismatch` runs once, before the error is yielded.
pub(crate) fn verify_download(
    body: ByteStream,
    expected: Sha256,
    expected_size: u64,
    on_mismatch: Option<OnMismatch>,
) -> ByteStream {
    struct State {
        body: ByteStream,
        hasher: Option<ContentHasher>,
        on_mismatch: Option<OnMismatch>,
    }
    async fn fail(
        state: &mut State,
        expected: Sha256,
        actual: Sha256,
        why: String,
    ) -> Option<(Result<bytes::Bytes, StorageError>, Option<State>)> {
        if let Some(report) = state.on_mismatch.take() {
            report(why).await;
        }
        Some((
            Err(StorageError::ChecksumMismatch { expected, actual }),
            None,
        ))
    }
    let state = State {
        body,
        hasher: Some(ContentHasher::new()),
        on_mismatch,
    };
    let checked = stream::unfold(Some(state), move |state| async move {
        let mut state = state?;
        let hasher = state.hasher.as_mut()?;
        let last = loop {
            match state.body.next().await {
                Some(Err(e)) => return Some((Err(e), None)),
                Some(Ok(chunk)) => {
                    let seen = hasher.size() + chunk.len() as u64;
                    if seen > expected_size {
                        let why = format!("more than the recorded {expected_size} bytes");
                        let actual = std::mem::take(hasher).finish().0;
                        return fail(&mut state, expected, actual, why).await;
                    }
                    hasher.update(&chunk);
                    if seen < expected_size {
                        return Some((Ok(chunk), Some(state)));
                    }
                    if !chunk.is_empty() || expected_size == 0 {
                        break Some(chunk);
                    }
                }
                None => break None,
            }
        };
        // All recorded bytes have passed (or the body ended early): the digest is final.
        let (actual, size) = state.hasher.take().map(ContentHasher::finish)?;
        if size != expected_size {
            let why = format!("{size} bytes, recorded {expected_size}");
            return fail(&mut state, expected, actual, why).await;
        }
        if actual != expected {
            let why = format!("sha256 {actual}, recorded {expected}");
            return fail(&mut state, expected, actual, why).await;
        }
        // The object must end here: a byte past the recorded size is a mismatch too.
        if last.is_some() {
            loop {
                match state.body.next().await {
                    None => break,
                    Some(Ok(more)) if more.is_empty() => {}
                    Some(Ok(_)) => {
                        let why = format!("more than the recorded {expected_size} bytes");
                        return fail(&mut state, expected, actual, why).await;
                    }
                    Some(Err(e)) => return Some((Err(e), None)),
                }
            }
        }
        // Verified: release the held-back chunk; the stream ends after it.
        last.map(|chunk| (Ok(chunk), None))
    });
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

    fn collect(stream: ByteStream) -> (Vec<u8>, Option<StorageError>) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let mut stream = stream;
            let mut out = Vec::new();
            while let Some(next) = stream.next().await {
                match next {
                    Ok(chunk) => out.extend_from_slice(&chunk),
                    Err(e) => return (out, Some(e)),
                }
            }
            (out, None)
        })
    }

    fn counting() -> (Option<OnMismatch>, Arc<Mutex<Vec<String>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let report: OnMismatch =
            Box::new(move |why| Box::pin(async move { sink.lock().expect("lock").push(why) }));
        (Some(report), seen)
    }

    #[test]
    fn verified_download_passes_every_byte_and_reports_nothing() {
        let good = Sha256::digest(b"abcdef");
        let (report, seen) = counting();
        let (bytes, err) = collect(verify_download(body(vec![b"abc", b"def"]), good, 6, report));
        assert_eq!(bytes, b"abcdef");
        assert!(err.is_none());
        assert!(seen.lock().expect("lock").is_empty());
        let empty = Sha256::digest(b"");
        let (bytes, err) = collect(verify_download(body(vec![]), empty, 0, None));
        assert!(bytes.is_empty() && err.is_none());
    }

    #[test]
    fn altered_last_byte_is_never_released() {
        // The last chunk is held back until the hash is known: the reader gets "abc" and an
        // error, never all six bytes.
        let good = Sha256::digest(b"abcdef");
        let (report, seen) = counting();
        let (bytes, err) = collect(verify_download(body(vec![b"abc", b"deX"]), good, 6, report));
        assert_eq!(bytes, b"abc");
        assert!(
            matches!(err, Some(StorageError::ChecksumMismatch { expected, .. }) if expected == good)
        );
        assert_eq!(seen.lock().expect("lock").len(), 1);
        // One chunk holding the whole object: nothing at all is released.
        let (bytes, err) = collect(verify_download(body(vec![b"abcdeX"]), good, 6, None));
        assert!(bytes.is_empty());
        assert!(err.is_some());
    }

    #[test]
    fn bytes_past_the_recorded_size_fail_at_once() {
        let good = Sha256::digest(b"abcdef");
        // The extra byte arrives in the completing chunk.
        let (bytes, err) = collect(verify_download(body(vec![b"abc", b"defg"]), good, 6, None));
        assert_eq!(bytes, b"abc");
        assert!(err.is_some());
        // The extra bytes arrive after a chunk that completed the object with the right hash:
        // that chunk is not released either.
        let (report, seen) = counting();
        let (bytes, err) = collect(verify_download(
            body(vec![b"abc", b"def", b"more"]),
            good,
            6,
            report,
        ));
        assert_eq!(bytes, b"abc");
        assert!(err.is_some());
        assert_eq!(seen.lock().expect("lock").len(), 1);
    }

    #[test]
    fn a_short_body_fails_at_its_end() {
        let good = Sha256::digest(b"abcdef");
        let (bytes, err) = collect(verify_download(body(vec![b"abc", b"de"]), good, 6, None));
        assert_eq!(bytes, b"abcde");
        assert!(err.is_some());
    }
}
