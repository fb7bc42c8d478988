//! Request limits: a cap on concurrent streamed requests, and a minimum upload rate.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use casefile_domain::StorageError;
use casefile_domain::storage::ByteStream;
use futures::Stream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::http::error::ApiError;

/// Slots for streamed requests (uploads and downloads through the server): a request holds one
/// for as long as its body moves; with none free the request is refused with 503 at once,
/// before it costs a store connection or a part buffer.
#[derive(Debug, Clone)]
pub struct StreamSlots {
    slots: Arc<Semaphore>,
    size: usize,
}

impl StreamSlots {
    /// `size` concurrent streams.
    pub fn new(size: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(size)),
            size,
        }
    }

    /// A slot, or 503 `busy`.
    pub(crate) fn acquire(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        Arc::clone(&self.slots).try_acquire_owned().map_err(|_| {
            ApiError::busy(format!(
                "all {} streaming slots are in use: retry shortly",
                self.size
            ))
        })
    }
}

/// `stream`, holding `permit` until it ends or is dropped.
pub(crate) fn holding<S>(stream: S, permit: OwnedSemaphorePermit) -> impl Stream<Item = S::Item>
where
    S: Stream,
{
    futures::StreamExt::map(stream, move |item| {
        let _slot = &permit;
        item
    })
}

/// The least an upload body must send: `bytes_per_sec` on average over every `window`. A body
/// slower than that ends in an error (the upload is failed and nothing is kept); the idle
/// timeout covers a body that sends nothing at all.
#[derive(Debug, Clone, Copy)]
pub struct MinUploadRate {
    /// Bytes per second; 0 turns the check off.
    pub bytes_per_sec: u64,
    /// The span averaged over.
    pub window: Duration,
}

/// `body`, failing once a window passes with fewer bytes than `rate` asks.
pub(crate) fn at_least(body: ByteStream, rate: MinUploadRate) -> ByteStream {
    if rate.bytes_per_sec == 0 || rate.window.is_zero() {
        return body;
    }
    Box::pin(RateFloor {
        body,
        rate,
        window_start: Instant::now(),
        in_window: 0,
        failed: false,
    })
}

struct RateFloor {
    body: ByteStream,
    rate: MinUploadRate,
    window_start: Instant,
    in_window: u64,
    failed: bool,
}

impl Stream for RateFloor {
    type Item = Result<Bytes, StorageError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.failed {
            return Poll::Ready(None);
        }
        let next = self.body.as_mut().poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &next {
            self.in_window += chunk.len() as u64;
            let elapsed = self.window_start.elapsed();
            if elapsed >= self.rate.window {
                let needed = (self.rate.bytes_per_sec as f64 * elapsed.as_secs_f64()) as u64;
                if self.in_window < needed {
                    self.failed = true;
                    return Poll::Ready(Some(Err(StorageError::invalid_input(
                        "body",
                        format!(
                            "the upload is slower than {} bytes/s",
                            self.rate.bytes_per_sec
                        ),
                    ))));
                }
                self.window_start = Instant::now();
                self.in_window = 0;
            }
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test(start_paused = true)]
    async fn a_trickle_fails_and_a_steady_body_passes() {
        let rate = MinUploadRate {
            bytes_per_sec: 100,
            window: Duration::from_secs(10),
        };
        // One byte every 5 s: far under 100 bytes/s.
        let trickle = futures::stream::unfold(0u32, |n| async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            (n < 10).then(|| (Ok(Bytes::from_static(b"x")), n + 1))
        });
        let results: Vec<_> = at_least(Box::pin(trickle), rate).collect().await;
        assert!(
            matches!(
                results.last(),
                Some(Err(StorageError::InvalidInput { field: "body", .. }))
            ),
            "{results:?}"
        );
        assert!(results.len() < 10, "cut off early: {}", results.len());

        // 1,000 bytes every second: well over.
        let steady = futures::stream::unfold(0u32, |n| async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            (n < 30).then(|| (Ok(Bytes::from(vec![0u8; 1000])), n + 1))
        });
        let results: Vec<_> = at_least(Box::pin(steady), rate).collect().await;
        assert_eq!(results.len(), 30);
        assert!(results.iter().all(Result::is_ok));
    }

    #[test]
    fn slots_refuse_when_all_are_taken_and_free_when_dropped() {
        let slots = StreamSlots::new(1);
        let held = slots.acquire().expect("the one slot");
        let err = slots.acquire().expect_err("none left");
        assert_eq!(err.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
        drop(held);
        assert!(slots.acquire().is_ok());
    }
}
