//! Local folders of test files, for the command-line client's end-to-end tests on every
//! backend.

use std::io::{Read, Write};
use std::path::Path;

use casefile_domain::content::ContentHasher;

/// Writes `size` bytes that differ per `seed` (two files never share a hash). The bytes are
/// printable ASCII and newlines, never a carriage return (s3s-fs 0.14 fails a POST whose file
/// has a `\r` at the end of a network chunk followed by more than 64 KiB); a `.pdf` starts as a
/// PDF, so that the server's check of the content against the type its name implies passes.
///
/// # Panics
/// When the file cannot be written (a test fixture).
pub fn write_pattern(path: &Path, size: u64, seed: u8) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("a folder for the fixture");
    }
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("a fixture file"));
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\n";
    let mut block: Vec<u8> = (0..1024 * 1024usize)
        .map(|i| ALPHABET[(i * 7 + usize::from(seed)) % ALPHABET.len()])
        .collect();
    if path.extension().is_some_and(|e| e == "pdf") {
        block[..9].copy_from_slice(b"%PDF-1.7\n");
    }
    let mut left = size;
    while left > 0 {
        let n = usize::try_from(left.min(block.len() as u64)).unwrap_or(block.len());
        file.write_all(&block[..n]).expect("fixture bytes");
        left -= n as u64;
    }
    file.flush().expect("fixture bytes");
}

/// The SHA-256 (hex) of the file at `path`, read in chunks.
///
/// # Panics
/// When the file cannot be read.
pub fn sha256_of(path: &Path) -> String {
    let mut file = std::fs::File::open(path).expect("a file to hash");
    let mut hasher = ContentHasher::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer).expect("a readable file");
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    hasher.finish().0.to_hex()
}

/// A matter's folder of 50 files: 45 small ones in nested folders, three with Unicode names,
/// an empty one, and one of `large` bytes. Returns each file's path relative to `root` (`/`
/// separated) and its SHA-256, by path.
pub fn matter_folder(root: &Path, large: u64) -> Vec<(String, String)> {
    let mut made = Vec::new();
    for n in 0..45u8 {
        let rel = format!("folder-{}/sub-{}/doc-{n:02}.pdf", n % 4, n % 3);
        write_pattern(&root.join(&rel), 1000 + u64::from(n) * 777, n);
        made.push(rel);
    }
    for (i, rel) in [
        "Beweisstück-Ä.pdf",
        "証拠/陳述書.txt",
        "café/naïve résumé.pdf",
    ]
    .iter()
    .enumerate()
    {
        write_pattern(&root.join(rel), 4096 + i as u64, 200 + i as u8);
        made.push((*rel).to_owned());
    }
    std::fs::write(root.join("empty.txt"), b"").expect("the empty fixture");
    made.push("empty.txt".into());
    write_pattern(&root.join("large/production.bin"), large, 99);
    made.push("large/production.bin".into());
    made.sort();
    made.into_iter()
        .map(|rel| {
            let sha = sha256_of(&root.join(&rel));
            (rel, sha)
        })
        .collect()
}
