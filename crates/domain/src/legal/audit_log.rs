//! The audit trail as a Merkle log (RFC 6962): every entry is a leaf, in the order entries
//! commit, so that anyone holding a tree head can check that an entry is in the log and that a
//! later log extends an earlier one. The encoding of a leaf is specified in `docs/audit-log.md`.

use crate::legal::{AuditEntry, AuditQuery, CaseRepository, PersistenceResult};

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

/// The stored index of leaf `index` (where its hash sits among the tree's stored hashes).
pub fn leaf_stored_index(index: u64) -> u64 {
    tlog_tiles::stored_hash_index(0, index)
}

/// An RFC 6962 root computed as leaves arrive, in O(log n) memory: the roots of the complete
/// subtrees of the leaves so far, largest first.
#[derive(Debug, Clone, Default)]
pub struct Frontier {
    subtrees: Vec<(u32, TreeHash)>,
    size: u64,
}

impl Frontier {
    /// Adds the next leaf.
    pub fn push(&mut self, leaf: TreeHash) {
        let mut node = (0u32, leaf);
        while let Some(&(height, left)) = self.subtrees.last() {
            if height != node.0 {
                break;
            }
            self.subtrees.pop();
            node = (
                height + 1,
                tlog_tiles::node_hash(tlog_tiles::Hash(left), tlog_tiles::Hash(node.1)).0,
            );
        }
        self.subtrees.push(node);
        self.size += 1;
    }

    /// Leaves so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root of the leaves so far.
    pub fn root(&self) -> TreeHash {
        let mut nodes = self.subtrees.iter().rev();
        let Some(&(_, mut root)) = nodes.next() else {
            return tlog_tiles::EMPTY_HASH.0;
        };
        for &(_, left) in nodes {
            root = tlog_tiles::node_hash(tlog_tiles::Hash(left), tlog_tiles::Hash(root)).0;
        }
        root
    }
}

/// What a verification of the audit log found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Entries read.
    pub entries: u64,
    /// Leaves the stored tree holds.
    pub tree_size: u64,
    /// The root recomputed from the entries in the tree.
    pub root: TreeHash,
    /// The first thing wrong, if any: the log index concerned and what is wrong.
    pub problem: Option<(u64, String)>,
}

/// Recomputes the audit log from its entries, as a verifier does: every entry must sit at the
/// next log index, hash to the leaf the stored tree holds at that index, the tree must hold no
/// leaf without its entry, and the stored root must be the root of the recomputed leaves. Reads
/// the trail a page at a time; memory stays O(log n). Entries appended but not yet in the tree
/// (none, once every append integrates) are counted, not judged.
///
/// What this proves is that the rows and the stored tree agree; that neither was rewritten
/// together is what signed checkpoints, kept outside the database, will prove.
///
/// # Errors
/// Persistence failures.
pub async fn verify(repository: &dyn CaseRepository) -> PersistenceResult<Verification> {
    const PAGE: usize = 1000;
    let head = repository.audit_tree_head().await?;
    let mut frontier = Frontier::default();
    let mut entries = 0u64;
    let mut after = None;
    let found = |index: u64, what: String, entries: u64, frontier: &Frontier| Verification {
        entries,
        tree_size: head.size,
        root: frontier.root(),
        problem: Some((index, what)),
    };
    loop {
        let page = repository
            .list_audit(&AuditQuery {
                after,
                limit: Some(PAGE),
                ..AuditQuery::default()
            })
            .await?;
        let in_tree: Vec<u64> = (entries..entries + page.len() as u64)
            .filter(|i| *i < head.size)
            .map(leaf_stored_index)
            .collect();
        let stored = repository.read_audit_tree(&in_tree).await?;
        for (offset, entry) in page.iter().enumerate() {
            let index = entries + offset as u64;
            if entry.log_index != Some(index) {
                let what = match entry.log_index {
                    Some(other) => format!(
                        "the entry at position {index} ({}) claims index {other}: an entry was removed, inserted or moved",
                        entry.id
                    ),
                    None => format!(
                        "the entry at position {index} ({}) has no log index",
                        entry.id
                    ),
                };
                return Ok(found(index, what, entries + offset as u64, &frontier));
            }
            if index < head.size {
                let leaf = leaf_hash(entry);
                if stored.get(offset) != Some(&leaf) {
                    let what = format!(
                        "entry {index} ({}) does not hash to the leaf the tree holds: it was changed",
                        entry.id
                    );
                    return Ok(found(index, what, entries + offset as u64, &frontier));
                }
                frontier.push(leaf);
            }
        }
        entries += page.len() as u64;
        match page.last() {
            Some(last) if page.len() == PAGE => after = Some(last.id),
            _ => break,
        }
    }
    if entries < head.size {
        let what = format!(
            "the tree holds {} leaves but only {entries} entries are left: entries were removed",
            head.size
        );
        return Ok(found(entries, what, entries, &frontier));
    }
    if frontier.root() != head.root {
        let what = "the stored tree's root is not the root of its leaves: the tree was rewritten"
            .to_owned();
        return Ok(found(head.size, what, entries, &frontier));
    }
    Ok(Verification {
        entries,
        tree_size: head.size,
        root: frontier.root(),
        problem: None,
    })
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
    fn the_frontier_gives_the_same_roots() {
        let leaves: Vec<TreeHash> = (0u8..40).map(|i| tlog_tiles::record_hash(&[i]).0).collect();
        let mut frontier = Frontier::default();
        assert_eq!(frontier.root(), root_of(&[]));
        for (n, leaf) in leaves.iter().enumerate() {
            frontier.push(*leaf);
            assert_eq!(
                frontier.root(),
                reference_root(&leaves[..=n]),
                "size {}",
                n + 1
            );
        }
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
