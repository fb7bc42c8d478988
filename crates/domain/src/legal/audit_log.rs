//! The audit trail as a Merkle log (RFC 6962): every entry is a leaf, in the order entries
//! commit, so that anyone holding a tree head can check that an entry is in the log and that a
//! later log extends an earlier one. The encoding of a leaf is specified in `docs/audit-log.md`.

use crate::legal::AuditEntry;

/// The first bytes of every leaf: the encoding and its version.
pub const LEAF_ENCODING: &[u8] = b"casefile-audit-entry/v1\n";

/// A node of the tree: a SHA-256.
pub type TreeHash = [u8; 32];

/// The head of the tree: how many leaves it holds, and its root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeHead {
    /// Leaves (entries) in the tree.
    pub size: u64,
    /// Its RFC 6962 root hash.
    pub root: TreeHash,
}

/// The canonical bytes of an entry, as hashed into its leaf: [`LEAF_ENCODING`], then eight fields
/// in this order — id, at, actor, case, file, action, outcome, details — each a presence byte
/// (`0` absent, `1` present) followed, when present, by its length as 4 big-endian bytes and its
/// UTF-8 bytes. Ids are lowercase hyphenated UUIDs; `at` is RFC 3339 in UTC with exactly six
/// fractional digits (`2026-12-05T14:58:00.123456Z`, microseconds as the databases keep them);
/// action and outcome are their snake_case names.
pub fn canonical_bytes(entry: &AuditEntry) -> Vec<u8> {
    fn field(out: &mut Vec<u8>, value: Option<&str>) {
        match value {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                let len = u32::try_from(v.len()).unwrap_or(u32::MAX);
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(&v.as_bytes()[..len as usize]);
            }
        }
    }
    let mut out = LEAF_ENCODING.to_vec();
    let at = entry.at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    field(&mut out, Some(&entry.id.to_string()));
    field(&mut out, Some(&at));
    field(&mut out, entry.actor.map(|u| u.to_string()).as_deref());
    field(&mut out, entry.case_id.map(|c| c.to_string()).as_deref());
    field(&mut out, entry.file_id.map(|f| f.to_string()).as_deref());
    field(&mut out, Some(entry.action.as_str()));
    field(&mut out, Some(entry.outcome.as_str()));
    field(&mut out, entry.details.as_deref());
    out
}

/// The leaf hash of an entry: `SHA-256(0x00 ‖ canonical_bytes(entry))`.
pub fn leaf_hash(entry: &AuditEntry) -> TreeHash {
    tlog_tiles::record_hash(&canonical_bytes(entry)).0
}

/// The stored hashes (by stored index) that appending leaf `index` reads: the roots of the
/// complete subtrees to its left. At most `log₂ index` of them; a store answers them in one
/// query, then calls [`append_hashes`].
pub fn append_reads(index: u64) -> Vec<u64> {
    needed_indexes(|r| {
        tlog_tiles::stored_hashes_for_record_hash(index, tlog_tiles::Hash([0; 32]), r).map(drop)
    })
}

/// The hashes to store, with their stored indexes, when leaf `index` (hash `leaf`) joins the
/// tree; `read` holds the hashes [`append_reads`] asked for, in its order. At most
/// `1 + log₂ index` of them, just under two on average. `None` when `read` does not answer
/// [`append_reads`].
pub fn append_hashes(
    index: u64,
    leaf: TreeHash,
    read: &[TreeHash],
) -> Option<Vec<(u64, TreeHash)>> {
    let reader = Known::of(&append_reads(index), read)?;
    let hashes =
        tlog_tiles::stored_hashes_for_record_hash(index, tlog_tiles::Hash(leaf), &reader).ok()?;
    let first = tlog_tiles::stored_hash_index(0, index);
    Some((first..).zip(hashes).map(|(i, h)| (i, h.0)).collect())
}

/// The stored hashes the root of a tree of `size` leaves is made of (at most `1 + log₂ size`).
pub fn root_reads(size: u64) -> Vec<u64> {
    if size == 0 {
        return Vec::new();
    }
    needed_indexes(|r| tlog_tiles::tree_hash(size, r).map(drop))
}

/// The root of the tree of `size` leaves, from the hashes [`root_reads`] asked for, in its
/// order; `None` when `read` does not answer it.
pub fn root(size: u64, read: &[TreeHash]) -> Option<TreeHash> {
    if size == 0 {
        return Some(tlog_tiles::EMPTY_HASH.0);
    }
    let reader = Known::of(&root_reads(size), read)?;
    tlog_tiles::tree_hash(size, &reader).ok().map(|h| h.0)
}

/// The root over these leaves, computed from scratch (what a verifier does with the rows).
pub fn root_of(leaves: &[TreeHash]) -> TreeHash {
    let mut stored = std::collections::HashMap::new();
    let lookup = |stored: &std::collections::HashMap<u64, TreeHash>, reads: Vec<u64>| {
        reads
            .iter()
            .filter_map(|i| stored.get(i).copied())
            .collect::<Vec<_>>()
    };
    for (index, leaf) in (0u64..).zip(leaves) {
        let read = lookup(&stored, append_reads(index));
        stored.extend(append_hashes(index, *leaf, &read).unwrap_or_default());
    }
    let size = leaves.len() as u64;
    root(size, &lookup(&stored, root_reads(size))).unwrap_or(tlog_tiles::EMPTY_HASH.0)
}

/// The stored indexes an operation reads: it runs once against a reader that records the request
/// and refuses it.
fn needed_indexes(op: impl FnOnce(&Recorder) -> Result<(), tlog_tiles::Error>) -> Vec<u64> {
    let recorder = Recorder(std::cell::RefCell::new(Vec::new()));
    let _ = op(&recorder);
    recorder.0.into_inner()
}

struct Recorder(std::cell::RefCell<Vec<u64>>);

impl tlog_tiles::HashReader for Recorder {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        self.0.borrow_mut().extend_from_slice(indexes);
        Err(tlog_tiles::Error::IndexesNotInTree)
    }
}

struct Known(std::collections::HashMap<u64, TreeHash>);

impl Known {
    fn of(indexes: &[u64], hashes: &[TreeHash]) -> Option<Self> {
        (indexes.len() == hashes.len()).then(|| {
            Self(
                indexes
                    .iter()
                    .copied()
                    .zip(hashes.iter().copied())
                    .collect(),
            )
        })
    }
}

impl tlog_tiles::HashReader for Known {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|i| {
                self.0
                    .get(i)
                    .map(|h| tlog_tiles::Hash(*h))
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use sha2::Digest;

    /// RFC 6962 §2.1 by hand: leaves `SHA-256(0x00 ‖ d)`, nodes `SHA-256(0x01 ‖ l ‖ r)`, a tree of
    /// `n` leaves split at the largest power of two below `n`.
    fn reference_root(leaves: &[TreeHash]) -> TreeHash {
        match leaves.len() {
            0 => sha2::Sha256::digest([]).into(),
            1 => leaves[0],
            n => {
                // The largest power of two smaller than n.
                let mut k = 1;
                while k * 2 < n {
                    k *= 2;
                }
                let mut h = sha2::Sha256::new();
                h.update([1u8]);
                h.update(reference_root(&leaves[..k]));
                h.update(reference_root(&leaves[k..]));
                h.finalize().into()
            }
        }
    }

    #[test]
    fn roots_agree_with_rfc_6962_by_hand() {
        let leaves: Vec<TreeHash> = (0u8..20).map(|i| tlog_tiles::record_hash(&[i]).0).collect();
        for n in 0..=leaves.len() {
            assert_eq!(
                root_of(&leaves[..n]),
                reference_root(&leaves[..n]),
                "size {n}"
            );
        }
        // The empty tree is SHA-256 of nothing; a leaf is SHA-256(0x00 ‖ data).
        assert_eq!(
            hex(&root_of(&[])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let mut one = sha2::Sha256::new();
        one.update([0u8, 7]);
        assert_eq!(
            tlog_tiles::record_hash(&[7]).0,
            <[u8; 32]>::from(one.finalize())
        );
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn the_encoding_is_fixed() {
        use crate::legal::{AuditAction, AuditId, AuditOutcome, CaseId, UserId};
        use chrono::TimeZone;
        let entry = AuditEntry {
            id: AuditId(uuid::Uuid::from_u128(1)),
            at: chrono::Utc
                .with_ymd_and_hms(2026, 12, 5, 14, 58, 0)
                .unwrap()
                + chrono::Duration::nanoseconds(123_456_789),
            actor: Some(UserId(uuid::Uuid::from_u128(2))),
            case_id: Some(CaseId(uuid::Uuid::from_u128(3))),
            file_id: None,
            action: AuditAction::CaseCreated,
            outcome: AuditOutcome::Success,
            details: Some("é".into()),
            log_index: None,
        };
        let bytes = canonical_bytes(&entry);
        let mut expected = b"casefile-audit-entry/v1\n".to_vec();
        for value in [
            Some("00000000-0000-0000-0000-000000000001"),
            Some("2026-12-05T14:58:00.123456Z"),
            Some("00000000-0000-0000-0000-000000000002"),
            Some("00000000-0000-0000-0000-000000000003"),
            None,
            Some("case_created"),
            Some("success"),
            Some("é"),
        ] {
            match value {
                None => expected.push(0),
                Some(v) => {
                    expected.push(1);
                    expected.extend_from_slice(&(v.len() as u32).to_be_bytes());
                    expected.extend_from_slice(v.as_bytes());
                }
            }
        }
        assert_eq!(bytes, expected);
        // The index is the leaf's position, not part of it.
        let placed = AuditEntry {
            log_index: Some(9),
            ..entry.clone()
        };
        assert_eq!(leaf_hash(&placed), leaf_hash(&entry));
    }
}
