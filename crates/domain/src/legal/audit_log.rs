//! The audit trail as a Merkle log (RFC 6962): every entry is a leaf, in the order entries
//! commit, so that anyone holding a tree head can check that an entry is in the log and that a
//! later log extends an earlier one. The encoding of a leaf is specified in `docs/audit-log.md`.

use crate::legal::{AuditEntry, AuditQuery, CaseRepository};

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

/// The stored hashes an inclusion proof of leaf `index` in a tree of `size` leaves is made of.
pub fn inclusion_reads(size: u64, index: u64) -> Vec<u64> {
    if index >= size {
        return Vec::new();
    }
    needed_indexes(|r| tlog_tiles::prove_record(size, index, r).map(drop))
}

/// The RFC 6962 inclusion proof (audit path) of leaf `index` in the tree of `size` leaves, from
/// the hashes [`inclusion_reads`] asked for, in its order; `None` when they do not answer it or
/// `index` is not below `size`.
pub fn inclusion_proof(size: u64, index: u64, read: &[TreeHash]) -> Option<Vec<TreeHash>> {
    if index >= size {
        return None;
    }
    let reader = Known::of(&inclusion_reads(size, index), read)?;
    let proof = tlog_tiles::prove_record(size, index, &reader).ok()?;
    Some(proof.into_iter().map(|h| h.0).collect())
}

/// Whether `proof` shows the leaf `leaf` at `index` in the tree of `size` leaves with `root`.
pub fn check_inclusion(
    proof: &[TreeHash],
    size: u64,
    root: TreeHash,
    index: u64,
    leaf: TreeHash,
) -> bool {
    let proof: Vec<tlog_tiles::Hash> = proof.iter().map(|h| tlog_tiles::Hash(*h)).collect();
    tlog_tiles::check_record(
        &proof,
        size,
        tlog_tiles::Hash(root),
        index,
        tlog_tiles::Hash(leaf),
    )
    .is_ok()
}

/// The stored hashes a consistency proof from `old` to `new` leaves is made of.
pub fn consistency_reads(new: u64, old: u64) -> Vec<u64> {
    if old == 0 || old > new {
        return Vec::new();
    }
    needed_indexes(|r| tlog_tiles::prove_tree(new, old, r).map(drop))
}

/// The RFC 6962 consistency proof that the tree of `new` leaves extends the tree of its first
/// `old` leaves, from the hashes [`consistency_reads`] asked for; `None` when they do not answer
/// it or `old > new`.
pub fn consistency_proof(new: u64, old: u64, read: &[TreeHash]) -> Option<Vec<TreeHash>> {
    if old > new {
        return None;
    }
    if old == 0 {
        // Every tree extends the empty one.
        return Some(Vec::new());
    }
    let reader = Known::of(&consistency_reads(new, old), read)?;
    let proof = tlog_tiles::prove_tree(new, old, &reader).ok()?;
    Some(proof.into_iter().map(|h| h.0).collect())
}

/// Whether `proof` shows that the tree (`new`, `new_root`) extends the tree (`old`, `old_root`).
pub fn check_consistency(
    proof: &[TreeHash],
    new: u64,
    new_root: TreeHash,
    old: u64,
    old_root: TreeHash,
) -> bool {
    if old == 0 {
        return proof.is_empty() && old_root == tlog_tiles::EMPTY_HASH.0 && new >= old;
    }
    let proof: Vec<tlog_tiles::Hash> = proof.iter().map(|h| tlog_tiles::Hash(*h)).collect();
    tlog_tiles::check_tree(
        &proof,
        new,
        tlog_tiles::Hash(new_root),
        old,
        tlog_tiles::Hash(old_root),
    )
    .is_ok()
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

/// Signs checkpoints of the log: C2SP `tlog-checkpoint` notes (origin, tree size, base64 root)
/// with an Ed25519 signature in the C2SP `signed-note` format. The key never leaves it (its
/// `Debug` shows the origin only).
pub struct CheckpointSigner {
    origin: String,
    key: ed25519_dalek::SigningKey,
    id: u32,
}

impl std::fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointSigner")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl CheckpointSigner {
    /// A signer for the log named `origin` (e.g. `casefile.firm.example/audit`: no spaces or
    /// `+`), with the Ed25519 key of this 32-byte seed.
    ///
    /// # Errors
    /// An origin that cannot name a signed-note key.
    pub fn from_seed(origin: &str, seed: [u8; 32]) -> Result<Self, String> {
        if !signed_note::is_key_name_valid(origin) {
            return Err(format!(
                "{origin:?} cannot name a log (no spaces, no '+', not empty)"
            ));
        }
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        let mut public = vec![1u8];
        public.extend_from_slice(key.verifying_key().as_bytes());
        Ok(Self {
            origin: origin.to_owned(),
            id: signed_note::key_id(origin, &public),
            key,
        })
    }

    /// The log's name: the checkpoints' first line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The verifier key to publish (`<origin>+<id>+<base64 key>`): with it, anyone checks the
    /// checkpoints offline.
    pub fn verifier_key(&self) -> String {
        signed_note::new_ed25519_verifier_key(&self.origin, &self.key.verifying_key())
    }

    /// The signed checkpoint of `head`.
    ///
    /// # Errors
    /// Signing failed (not expected of Ed25519).
    pub fn sign(&self, head: TreeHead) -> Result<String, String> {
        let checkpoint =
            tlog_tiles::Checkpoint::new(&self.origin, head.size, tlog_tiles::Hash(head.root), "")
                .map_err(|e| e.to_string())?;
        let mut note =
            signed_note::Note::new(&checkpoint.to_bytes(), &[]).map_err(|e| e.to_string())?;
        note.add_sigs(&[self]).map_err(|e| e.to_string())?;
        String::from_utf8(note.to_bytes()).map_err(|e| e.to_string())
    }
}

impl signed_note::Signer for CheckpointSigner {
    fn name(&self) -> &str {
        &self.origin
    }

    fn key_id(&self) -> u32 {
        self.id
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        use ed25519_dalek::Signer;
        Ok(self.key.sign(msg).to_bytes().to_vec())
    }
}

/// Whether `key` is a verifier key (`<origin>+<id>+<base64 key>`).
pub fn is_verifier_key(key: &str) -> bool {
    signed_note::StandardVerifier::new(key).is_ok()
}

/// The tree head a signed checkpoint states, once its signature by `verifier_key` and its format
/// are checked.
///
/// # Errors
/// A malformed key, note or checkpoint, or a signature that is not the key's — said in words.
pub fn open_checkpoint(note: &str, verifier_key: &str) -> Result<TreeHead, String> {
    let verifier = signed_note::StandardVerifier::new(verifier_key)
        .map_err(|e| format!("the verifier key is malformed: {e}"))?;
    let verifiers = signed_note::VerifierList::new(vec![Box::new(verifier.clone())]);
    let parsed = signed_note::Note::from_bytes(note.as_bytes())
        .map_err(|e| format!("not a signed note: {e}"))?;
    parsed
        .verify(&verifiers)
        .map_err(|e| format!("not signed by the log's key: {e}"))?;
    let checkpoint = tlog_tiles::Checkpoint::from_bytes(parsed.text())
        .map_err(|_| "not a checkpoint".to_owned())?;
    if checkpoint.origin() != signed_note::Verifier::name(&verifier) {
        return Err(format!(
            "a checkpoint of another log ({})",
            checkpoint.origin()
        ));
    }
    Ok(TreeHead {
        size: checkpoint.size(),
        root: checkpoint.hash().0,
    })
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

/// The reserved prefix of the log's anchored checkpoints in the store. Case files live under
/// generated keys (`cases/…`, `uploads/…`), so no request can ever reach these as a file.
pub const CHECKPOINT_PREFIX: &str = "_casefile/audit/checkpoints";

/// The key of the anchored checkpoint of a tree of `size` leaves (zero-padded: keys sort by size).
pub fn checkpoint_key(size: u64) -> crate::storage::ObjectKey {
    crate::storage::ObjectKey::new(format!("{CHECKPOINT_PREFIX}/{size:020}"))
        .unwrap_or_else(|_| unreachable!("a constant prefix and digits make a valid key"))
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
    /// Signed checkpoints checked (kept in the database and anchored in the store).
    pub checkpoints: u64,
    /// The first thing wrong, if any: the log index concerned and what is wrong.
    pub problem: Option<(u64, String)>,
}

/// Where the signed checkpoints are, and the key that signs them, for [`verify`].
pub struct CheckpointChecks<'a> {
    /// The store holding the anchored checkpoints (under [`CHECKPOINT_PREFIX`]).
    pub storage: &'a dyn crate::storage::ObjectStorage,
    /// The log's verifier key ([`CheckpointSigner::verifier_key`]).
    pub verifier_key: &'a str,
}

/// Recomputes the audit log from its entries, as a verifier does: every entry must sit at the
/// next log index, hash to the leaf the stored tree holds at that index, the tree must hold no
/// leaf without its entry, and the stored root must be the root of the recomputed leaves. Reads
/// the trail a page at a time; memory stays O(log n). Entries appended but not yet in the tree
/// (none, once every append integrates) are counted, not judged.
///
/// With `checks`, every signed checkpoint — those the database keeps and those anchored in the
/// store, where a database administrator cannot rewrite them — must carry the log's signature
/// and state the root the recomputed log has at its size: a checkpoint larger than the log means
/// entries were removed or the database was rolled back.
///
/// # Errors
/// Persistence and storage failures.
pub async fn verify(
    repository: &dyn CaseRepository,
    checks: Option<CheckpointChecks<'_>>,
) -> crate::legal::ServiceResult<Verification> {
    const PAGE: usize = 1000;
    let head = repository.audit_tree_head().await?;
    let mut expected: std::collections::BTreeMap<u64, (TreeHash, String)> =
        std::collections::BTreeMap::new();
    let mut checked = 0u64;
    let mut problem: Option<(u64, String)> = None;
    if let Some(checks) = &checks {
        let mut notes: Vec<(String, u64, String)> = repository
            .checkpoints()
            .await?
            .into_iter()
            .map(|(size, note)| (format!("the checkpoint kept at size {size}"), size, note))
            .collect();
        notes.extend(anchored_checkpoints(checks.storage).await?);
        for (source, size, note) in notes {
            checked += 1;
            let stated = match open_checkpoint(&note, checks.verifier_key) {
                Ok(head) if head.size == size => head,
                Ok(head) => {
                    problem.get_or_insert((size, format!("{source} states size {}", head.size)));
                    continue;
                }
                Err(e) => {
                    problem.get_or_insert((size, format!("{source}: {e}")));
                    continue;
                }
            };
            match expected.get(&size) {
                Some((root, first)) if *root != stated.root => {
                    problem.get_or_insert((size, format!("{source} and {first} disagree")));
                }
                Some(_) => {}
                None => {
                    expected.insert(size, (stated.root, source));
                }
            }
        }
    }
    let mut frontier = Frontier::default();
    let mut entries = 0u64;
    let mut after = None;
    let compare = |frontier: &Frontier, problem: &mut Option<(u64, String)>| {
        if let Some((root, source)) = expected.get(&frontier.size())
            && *root != frontier.root()
        {
            problem.get_or_insert((
                frontier.size().saturating_sub(1),
                format!(
                    "the log of {} entries is not the one {source} signed",
                    frontier.size()
                ),
            ));
        }
    };
    compare(&frontier, &mut problem);
    'pages: loop {
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
                problem.get_or_insert((index, what));
                entries = index;
                break 'pages;
            }
            if index < head.size {
                let leaf = leaf_hash(entry);
                if stored.get(offset) != Some(&leaf) {
                    let what = format!(
                        "entry {index} ({}) does not hash to the leaf the tree holds: it was changed",
                        entry.id
                    );
                    problem.get_or_insert((index, what));
                    entries = index;
                    break 'pages;
                }
                frontier.push(leaf);
                compare(&frontier, &mut problem);
            }
        }
        entries += page.len() as u64;
        match page.last() {
            Some(last) if page.len() == PAGE => after = Some(last.id),
            _ => break,
        }
    }
    if problem.is_none() && entries < head.size {
        problem = Some((
            entries,
            format!(
                "the tree holds {} leaves but only {entries} entries are left: entries were removed",
                head.size
            ),
        ));
    }
    if problem.is_none() && frontier.root() != head.root {
        problem = Some((
            head.size,
            "the stored tree's root is not the root of its leaves: the tree was rewritten"
                .to_owned(),
        ));
    }
    if problem.is_none()
        && let Some((size, (_, source))) = expected.range(frontier.size() + 1..).next()
    {
        problem = Some((
            frontier.size(),
            format!(
                "{source} covers {size} entries but the log has {}: entries were removed or the database was rolled back",
                frontier.size()
            ),
        ));
    }
    Ok(Verification {
        entries,
        tree_size: head.size,
        root: frontier.root(),
        checkpoints: checked,
        problem,
    })
}

/// The checkpoints anchored in the store: (what to call it, its size, its note).
async fn anchored_checkpoints(
    storage: &dyn crate::storage::ObjectStorage,
) -> crate::legal::ServiceResult<Vec<(String, u64, String)>> {
    let prefix = crate::storage::ObjectKey::new(CHECKPOINT_PREFIX)
        .unwrap_or_else(|_| unreachable!("a constant valid key"));
    let mut found = Vec::new();
    let mut token = None;
    loop {
        let page = storage
            .list(crate::storage::ListOptions {
                prefix: Some(prefix.clone()),
                max_keys: None,
                continuation_token: token,
            })
            .await?;
        for object in page.objects {
            let name = format!("the checkpoint anchored at {}", object.key);
            let size = object
                .key
                .as_str()
                .rsplit('/')
                .next()
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(u64::MAX);
            let bytes = storage.download(&object.key).await?;
            found.push((name, size, String::from_utf8_lossy(&bytes).into_owned()));
        }
        match page.next_token {
            Some(next) => token = Some(next),
            None => return Ok(found),
        }
    }
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
    fn checkpoints_are_signed_notes_only_the_key_opens() {
        let signer = CheckpointSigner::from_seed("casefile.test/audit", [7; 32]).unwrap();
        let head = TreeHead {
            size: 3,
            root: root_of(&[[1; 32], [2; 32], [3; 32]]),
        };
        let note = signer.sign(head).unwrap();
        assert!(note.starts_with("casefile.test/audit\n3\n"), "{note}");
        assert!(note.contains("\n\n\u{2014} casefile.test/audit "), "{note}");
        assert_eq!(open_checkpoint(&note, &signer.verifier_key()), Ok(head));
        let other = CheckpointSigner::from_seed("casefile.test/audit", [8; 32]).unwrap();
        assert!(
            open_checkpoint(&note, &other.verifier_key()).is_err(),
            "another key"
        );
        let forged = note.replacen("\n3\n", "\n4\n", 1);
        assert!(
            open_checkpoint(&forged, &signer.verifier_key()).is_err(),
            "edited text"
        );
        assert!(open_checkpoint(&note, "not a key").is_err());
        assert!(CheckpointSigner::from_seed("has space", [7; 32]).is_err());
    }

    #[test]
    fn proofs_check_and_fail_when_forged() {
        let leaves: Vec<TreeHash> = (0u8..13).map(|i| tlog_tiles::record_hash(&[i]).0).collect();
        let mut stored = std::collections::HashMap::new();
        let lookup = |stored: &std::collections::HashMap<u64, TreeHash>, reads: Vec<u64>| {
            reads.iter().map(|i| stored[i]).collect::<Vec<_>>()
        };
        for (index, leaf) in (0u64..).zip(&leaves) {
            let read = lookup(&stored, append_reads(index));
            stored.extend(append_hashes(index, *leaf, &read).unwrap());
        }
        for size in 1..=13u64 {
            let root = root_of(&leaves[..size as usize]);
            for index in 0..size {
                let proof =
                    inclusion_proof(size, index, &lookup(&stored, inclusion_reads(size, index)))
                        .unwrap();
                assert!(check_inclusion(
                    &proof,
                    size,
                    root,
                    index,
                    leaves[index as usize]
                ));
                assert!(
                    !check_inclusion(&proof, size, root, index, [0; 32]),
                    "another leaf"
                );
            }
            for old in 0..=size {
                let proof =
                    consistency_proof(size, old, &lookup(&stored, consistency_reads(size, old)))
                        .unwrap();
                let old_root = root_of(&leaves[..old as usize]);
                assert!(
                    check_consistency(&proof, size, root, old, old_root),
                    "{old} -> {size}"
                );
                if old > 0 && old < size {
                    assert!(
                        !check_consistency(&proof, size, root, old, [0; 32]),
                        "forked"
                    );
                }
            }
        }
        assert!(inclusion_proof(3, 3, &[]).is_none());
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
