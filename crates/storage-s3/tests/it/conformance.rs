//! The storage conformance suite against s3s-fs.
//!
//! Three cases are left out, each for a limitation of s3s-fs 0.14 (a filesystem-backed server),
//! not of S3 — real S3 and MinIO pass them:
//! - `object_and_prefix`: s3s-fs stores each object as a file, so `a` and `a/b` cannot both
//!   exist (it answers 500 InternalError);
//! - `directory_prefix_is_not_an_object`: HEAD on a key that is a directory of its filesystem
//!   answers 500 instead of 404;
//! - `suffix_longer_than_object`: a `bytes=-N` range with N above the size makes it seek before
//!   the start of the file and answer 500.
//!
//! `create_only_writes_once` (`If-None-Match: *`) runs here with create-only turned off, and
//! against moto (`object_lock.rs`), which enforces it as S3 does: s3s-fs checks the condition but
//! not atomically (of four concurrent writes of one key, all four succeed), so it cannot prove the
//! race.
use crate::common::storage;

mod create_only_off {
    casefile_testkit::storage_conformance_tests!(@cases crate::conformance::without_create_only();
        create_only_writes_once);
}

pub(crate) async fn without_create_only() -> casefile_storage_s3::S3Storage {
    let bucket = format!("casefile-test-{}", uuid::Uuid::new_v4().simple());
    crate::common::ensure_bucket(&bucket).await;
    crate::common::builder(&bucket)
        .with_create_only(false)
        .build()
        .await
        .expect("S3 storage against s3s-fs")
}

casefile_testkit::storage_conformance_tests!(@cases storage();
    round_trip, empty_object, large_stream_round_trip, failed_upload_leaves_nothing,
    special_character_keys, missing_objects, list_by_prefix, list_pagination,
    copy_keeps_attributes, overwrite, content_type_detection, metadata_and_validation,
    ranged_reads, invalid_keys_rejected, presigned_urls);
