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
//! `create_only_writes_once` (`If-None-Match: *`) runs here and against moto (`object_lock.rs`):
//! both enforce the condition as S3 does.
use crate::common::storage;

casefile_testkit::storage_conformance_tests!(@cases storage();
    round_trip, empty_object, large_stream_round_trip, failed_upload_leaves_nothing,
    special_character_keys, missing_objects, list_by_prefix, list_pagination,
    copy_keeps_attributes, overwrite, content_type_detection, metadata_and_validation,
    ranged_reads, invalid_keys_rejected, presigned_urls, create_only_writes_once);
