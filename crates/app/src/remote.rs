//! The command-line client: `casefile login`, `cases`, `ls`, `rm`, `audit CASE`, `upload` and
//! `download`, on a running server through `casefile-client`.
//!
//! Where the server and the token come from: `CASEFILE_SERVER` and `CASEFILE_TOKEN`, else the
//! file `casefile login` wrote (`$XDG_CONFIG_HOME/casefile/client.toml`, mode 0600). Output: a
//! progress display on standard error when it is a terminal; plain lines on standard output
//! otherwise; JSON lines with `--json`.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use casefile_api::{FileView, UploadInstructions, UploadRequest};
use casefile_client::{Client, ClientError, Progress};
use chrono::Utc;
use futures::{StreamExt, TryStreamExt};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

/// An error of a client command; `usage` ones exit with 2, like an unreachable server.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// What the server or the transfer said.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Not signed in, a malformed argument.
    #[error("{0}")]
    Usage(String),
    /// Some files failed (each was named); the others went on.
    #[error("{0}")]
    Partial(String),
    /// The local configuration file.
    #[error("{}: {source}", path.display())]
    Io {
        /// Which file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl RemoteError {
    /// The process exit code: 2 for a server that cannot be reached or a usage error, 1 for
    /// everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Client(ClientError::Unreachable { .. } | ClientError::Invalid(_))
            | Self::Usage(_) => 2,
            _ => 1,
        }
    }
}

type Result<T> = std::result::Result<T, RemoteError>;

/// What `casefile login` keeps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Login {
    /// The server's base URL.
    pub server: String,
    /// The bearer token.
    pub token: String,
}

/// `$XDG_CONFIG_HOME/casefile` (else `~/.config/casefile`).
pub fn config_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("casefile"));
    }
    let home = std::env::var_os("HOME")
        .filter(|d| !d.is_empty())
        .ok_or_else(|| RemoteError::Usage("neither XDG_CONFIG_HOME nor HOME is set".into()))?;
    Ok(PathBuf::from(home).join(".config").join("casefile"))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RemoteError + '_ {
    move |source| RemoteError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `text` to `path` with mode 0600, atomically (a temporary file renamed).
fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let temp = dir.join(format!(".{}.tmp", Uuid::new_v4().simple()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .map_err(io(&temp))?;
    file.write_all(text.as_bytes()).map_err(io(&temp))?;
    file.sync_all().map_err(io(&temp))?;
    std::fs::rename(&temp, path).map_err(io(path))
}

/// `casefile login`: checks the token against the server, then keeps both.
///
/// # Errors
/// An unreachable server, a refused token (nothing is kept then).
pub async fn login(server: &str, token: Option<String>) -> Result<()> {
    let token = match token.or_else(|| std::env::var("CASEFILE_TOKEN").ok()) {
        Some(t) => t,
        None => {
            if std::io::stdin().is_terminal() {
                eprint!("token: ");
            }
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| RemoteError::Usage(format!("reading the token: {e}")))?;
            line.trim().to_owned()
        }
    };
    if token.is_empty() {
        return Err(RemoteError::Usage("give a token: --token T".into()));
    }
    let client = Client::new(server, Some(token.clone()))?;
    let cases = client.list_cases().await?;
    let path = config_dir()?.join("client.toml");
    let text = toml::to_string(&Login {
        server: client.base().to_owned(),
        token,
    })
    .map_err(|e| RemoteError::Usage(e.to_string()))?;
    write_private(&path, &text)?;
    println!(
        "signed in to {} ({} cases); kept in {}",
        client.base(),
        cases.len(),
        path.display()
    );
    Ok(())
}

/// The client of the server signed in to (`CASEFILE_SERVER`/`CASEFILE_TOKEN` win over the
/// file).
///
/// # Errors
/// [`RemoteError::Usage`] when there is no server or token.
pub fn client() -> Result<Client> {
    let saved: Option<Login> = config_dir()
        .ok()
        .map(|d| d.join("client.toml"))
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| toml::from_str(&t).ok());
    let server = std::env::var("CASEFILE_SERVER")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| saved.as_ref().map(|s| s.server.clone()));
    let token = std::env::var("CASEFILE_TOKEN")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| saved.map(|s| s.token));
    match (server, token) {
        (Some(server), Some(token)) => Ok(Client::new(&server, Some(token))?),
        _ => Err(RemoteError::Usage(
            "not signed in: run `casefile login --server URL --token TOKEN` (or set CASEFILE_SERVER and CASEFILE_TOKEN)".into(),
        )),
    }
}

/// `CASE` or `CASE/PREFIX`.
pub fn case_and_prefix(target: &str) -> Result<(Uuid, Option<String>)> {
    let (case, prefix) = match target.split_once('/') {
        Some((case, prefix)) => (case, Some(prefix.to_owned()).filter(|p| !p.is_empty())),
        None => (target, None),
    };
    let case = Uuid::parse_str(case)
        .map_err(|_| RemoteError::Usage(format!("{case:?} is not a case id")))?;
    Ok((case, prefix))
}

fn human(bytes: u64) -> String {
    indicatif::BinaryBytes(bytes).to_string()
}

/// `casefile cases`.
///
/// # Errors
/// What the server says.
pub async fn cases_list(client: &Client, as_json: bool) -> Result<()> {
    for case in client.list_cases().await? {
        if as_json {
            println!("{}", serde_json::to_string(&case).unwrap_or_default());
        } else {
            println!(
                "{}  {:<7}  {:>6} files  {:>10}  {}",
                case.id,
                case.role,
                case.file_count,
                human(case.total_size_bytes),
                case.title
            );
        }
    }
    Ok(())
}

/// `casefile cases create TITLE` and `casefile cases show ID`.
///
/// # Errors
/// What the server says.
pub fn print_case(case: &casefile_api::CaseView, as_json: bool) {
    if as_json {
        println!("{}", serde_json::to_string(case).unwrap_or_default());
        return;
    }
    println!("id        {}", case.id);
    println!("title     {}", case.title);
    println!("role      {}", case.role);
    println!("files     {}", case.file_count);
    println!(
        "size      {} ({} bytes)",
        human(case.total_size_bytes),
        case.total_size_bytes
    );
    println!("created   {}", case.created_at);
    if let Some(until) = case.retain_until {
        println!("retained  until {until}");
    }
}

/// `casefile ls CASE[/PREFIX]`.
///
/// # Errors
/// What the server says.
pub async fn ls(client: &Client, target: &str, as_json: bool) -> Result<()> {
    let (case, prefix) = case_and_prefix(target)?;
    let mut files = std::pin::pin!(client.list_files(case, prefix.as_deref()));
    while let Some(file) = files.try_next().await? {
        if as_json {
            println!("{}", serde_json::to_string(&file).unwrap_or_default());
        } else {
            println!(
                "{}  {:>10}  {}  {}  {}",
                file.id,
                human(file.file_size),
                file.created_at.format("%Y-%m-%d %H:%M"),
                &file.content_hash[..12.min(file.content_hash.len())],
                file.logical_path
            );
        }
    }
    Ok(())
}

/// `casefile audit CASE`.
///
/// # Errors
/// What the server says.
pub async fn audit(client: &Client, case: Uuid, limit: usize, as_json: bool) -> Result<()> {
    let mut cursor: Option<String> = None;
    let mut shown = 0usize;
    while shown < limit {
        let page = client
            .audit_page(case, cursor.as_deref(), Some((limit - shown).min(500)))
            .await?;
        for entry in &page.entries {
            shown += 1;
            if as_json {
                println!("{}", serde_json::to_string(entry).unwrap_or_default());
            } else {
                println!(
                    "{}  {:<22} {:<8} {}  {}  {}",
                    entry.at.format("%Y-%m-%d %H:%M:%S"),
                    entry.action,
                    entry.outcome,
                    entry
                        .actor
                        .map_or_else(|| "system".into(), |a| a.to_string()),
                    entry.file_id.map(|f| f.to_string()).unwrap_or_default(),
                    entry.details.as_deref().unwrap_or_default()
                );
            }
        }
        match page.next_cursor {
            Some(next) if !page.entries.is_empty() => cursor = Some(next),
            _ => break,
        }
    }
    Ok(())
}

/// How a transfer command reports: bars on a terminal, lines otherwise, JSON lines on request.
#[derive(Clone)]
struct Report {
    json: bool,
    bars: Option<MultiProgress>,
    total: Option<ProgressBar>,
}

impl Report {
    fn new(as_json: bool, total_bytes: u64) -> Self {
        if as_json || !std::io::stderr().is_terminal() {
            return Self {
                json: as_json,
                bars: None,
                total: None,
            };
        }
        let bars = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let total = bars.add(ProgressBar::new(total_bytes));
        if let Ok(style) = ProgressStyle::with_template(
            "total [{wide_bar}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}",
        ) {
            total.set_style(style.progress_chars("=> "));
        }
        Self {
            json: false,
            bars: Some(bars),
            total: Some(total),
        }
    }

    /// A bar for one file (none without a terminal).
    fn file(&self, name: &str, size: u64) -> Option<ProgressBar> {
        let bars = self.bars.as_ref()?;
        let bar = bars.insert_from_back(1, ProgressBar::new(size));
        if let Ok(style) = ProgressStyle::with_template(
            "  {msg:<9} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {prefix}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(name.to_owned());
        Some(bar)
    }

    fn total(&self, n: u64) {
        if let Some(total) = &self.total {
            total.inc(n);
        }
    }

    /// One result: a line above the bars, a plain line, or a JSON line.
    fn line(&self, event: &str, path: &str, fields: serde_json::Value, text: String) {
        if self.json {
            let mut object = json!({ "event": event, "path": path });
            if let (Some(o), Some(f)) = (object.as_object_mut(), fields.as_object()) {
                o.extend(f.clone());
            }
            println!("{object}");
        } else if let Some(bars) = &self.bars {
            let _ = bars.println(text);
        } else {
            println!("{text}");
        }
    }

    fn finish(&self) {
        if let Some(total) = &self.total {
            total.finish_and_clear();
        }
        if let Some(bars) = &self.bars {
            let _ = bars.clear();
        }
    }
}

/// Uploads begun and not completed, kept so that a re-run sends them again to the same
/// pending file while its URL is valid (an interrupted run would otherwise find the path held
/// by its own pending upload). Kept beside the login, mode 0600: the URLs are grants.
#[derive(Default, Serialize, Deserialize)]
struct Journal {
    pending: HashMap<String, JournalEntry>,
}

#[derive(Clone, Serialize, Deserialize)]
struct JournalEntry {
    file_id: Uuid,
    sha256: String,
    size: u64,
    upload: UploadInstructions,
}

struct JournalFile {
    path: PathBuf,
    journal: tokio::sync::Mutex<Journal>,
}

impl JournalFile {
    fn open() -> Result<Self> {
        let path = config_dir()?.join("pending-uploads.json");
        let journal = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        Ok(Self {
            path,
            journal: tokio::sync::Mutex::new(journal),
        })
    }

    fn key(server: &str, case: Uuid, path: &str) -> String {
        format!("{server} {case} {path}")
    }

    async fn get(&self, key: &str) -> Option<JournalEntry> {
        self.journal.lock().await.pending.get(key).cloned()
    }

    async fn set(&self, key: String, entry: Option<JournalEntry>) -> Result<()> {
        let mut journal = self.journal.lock().await;
        match entry {
            Some(entry) => journal.pending.insert(key, entry),
            None => journal.pending.remove(&key),
        };
        let now = Utc::now();
        journal.pending.retain(|_, e| e.upload.expires_at > now);
        let text = serde_json::to_string(&*journal).unwrap_or_default();
        write_private(&self.path, &text)
    }
}

/// A local file to upload and where it goes.
struct Local {
    path: PathBuf,
    logical: String,
    size: u64,
}

/// The files under `paths` (folders recursively, in name order), each with its logical path:
/// `prefix` + its path relative to the folder given (a file given directly: its name).
fn collect(paths: &[PathBuf], prefix: &str, unreadable: &mut Vec<(String, String)>) -> Vec<Local> {
    fn walk(dir: &Path, logical: &str, out: &mut Vec<Local>, bad: &mut Vec<(String, String)>) {
        let mut entries = match std::fs::read_dir(dir) {
            Ok(rd) => rd.filter_map(std::result::Result::ok).collect::<Vec<_>>(),
            Err(e) => {
                bad.push((dir.display().to_string(), e.to_string()));
                return;
            }
        };
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for entry in entries {
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                bad.push((
                    entry.path().display().to_string(),
                    "the name is not UTF-8".into(),
                ));
                continue;
            };
            let path = entry.path();
            let child = format!("{logical}{name}");
            match std::fs::metadata(&path) {
                Ok(m) if m.is_dir() => walk(&path, &format!("{child}/"), out, bad),
                Ok(m) => out.push(Local {
                    path,
                    logical: child,
                    size: m.len(),
                }),
                Err(e) => bad.push((path.display().to_string(), e.to_string())),
            }
        }
    }
    let prefix = if prefix.is_empty() || prefix.ends_with('/') {
        prefix.to_owned()
    } else {
        format!("{prefix}/")
    };
    let mut out = Vec::new();
    for path in paths {
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => walk(path, &prefix, &mut out, unreadable),
            Ok(m) => match path.file_name().and_then(|n| n.to_str()) {
                Some(name) => out.push(Local {
                    path: path.clone(),
                    logical: format!("{prefix}{name}"),
                    size: m.len(),
                }),
                None => unreadable.push((path.display().to_string(), "no UTF-8 name".into())),
            },
            Err(e) => unreadable.push((path.display().to_string(), e.to_string())),
        }
    }
    out
}

/// What became of one file.
enum Outcome {
    Uploaded(Box<FileView>),
    Skipped,
}

/// `casefile upload CASE PATH... [--to PREFIX] [--jobs N] [--json]`.
///
/// # Errors
/// [`RemoteError::Partial`] naming how many failed (each was reported); a server that cannot
/// be reached or refuses the token before anything was sent.
pub async fn upload(
    client: &Client,
    case: Uuid,
    paths: &[PathBuf],
    prefix: &str,
    jobs: usize,
    as_json: bool,
) -> Result<()> {
    let mut unreadable = Vec::new();
    let files = collect(paths, prefix, &mut unreadable);
    // What the case holds already: a file with the same path and SHA-256 is skipped.
    let listing_prefix = prefix.trim_end_matches('/');
    let mut existing: HashMap<String, String> = HashMap::new();
    {
        let listing =
            client.list_files(case, (!listing_prefix.is_empty()).then_some(listing_prefix));
        let mut listing = std::pin::pin!(listing);
        while let Some(file) = listing.try_next().await? {
            existing.insert(file.logical_path, file.content_hash.to_ascii_lowercase());
        }
    }
    let journal = Arc::new(JournalFile::open()?);
    let total: u64 = files.iter().map(|f| f.size).sum();
    let report = Report::new(as_json, total);
    for (path, why) in &unreadable {
        report.line(
            "failed",
            path,
            json!({ "error": why }),
            format!("failed    {path}: {why}"),
        );
    }
    let existing = Arc::new(existing);
    let results: Vec<(Local, std::result::Result<Outcome, ClientError>)> =
        futures::stream::iter(files)
            .map(|local| {
                let (client, report, journal, existing) = (
                    client.clone(),
                    report.clone(),
                    journal.clone(),
                    existing.clone(),
                );
                async move {
                    let result =
                        upload_one(&client, case, &local, &report, &journal, &existing).await;
                    match &result {
                        Ok(Outcome::Uploaded(file)) => report.line(
                            "uploaded",
                            &local.logical,
                            json!({ "file_id": file.id, "size": file.file_size, "sha256": file.content_hash }),
                            format!("uploaded  {}  {}", local.logical, human(file.file_size)),
                        ),
                        Ok(Outcome::Skipped) => {
                            report.total(local.size);
                            report.line(
                                "skipped",
                                &local.logical,
                                json!({ "size": local.size }),
                                format!("skipped   {}  (already in the case)", local.logical),
                            );
                        }
                        Err(e) => report.line(
                            "failed",
                            &local.logical,
                            json!({ "error": e.to_string() }),
                            format!("failed    {}: {e}", local.logical),
                        ),
                    }
                    (local, result)
                }
            })
            .buffer_unordered(jobs.max(1))
            .collect()
            .await;
    report.finish();
    let uploaded: Vec<&Local> = results
        .iter()
        .filter(|(_, r)| matches!(r, Ok(Outcome::Uploaded(_))))
        .map(|(l, _)| l)
        .collect();
    let skipped = results
        .iter()
        .filter(|(_, r)| matches!(r, Ok(Outcome::Skipped)))
        .count();
    let failed = results.iter().filter(|(_, r)| r.is_err()).count() + unreadable.len();
    let bytes: u64 = uploaded.iter().map(|l| l.size).sum();
    if as_json {
        println!(
            "{}",
            json!({"event": "summary", "uploaded": uploaded.len(), "bytes": bytes, "skipped": skipped, "failed": failed})
        );
    } else {
        println!(
            "uploaded {} ({}), skipped {}, failed {failed}",
            uploaded.len(),
            human(bytes),
            skipped
        );
    }
    // A refused token fails every file the same way: say it once, as such.
    if let Some((_, Err(e @ ClientError::Unauthorized))) = results
        .iter()
        .find(|(_, r)| matches!(r, Err(ClientError::Unauthorized)))
    {
        return Err(RemoteError::Usage(e.to_string()));
    }
    if failed > 0 {
        return Err(RemoteError::Partial(format!("{failed} files failed")));
    }
    Ok(())
}

async fn upload_one(
    client: &Client,
    case: Uuid,
    local: &Local,
    report: &Report,
    journal: &JournalFile,
    existing: &HashMap<String, String>,
) -> std::result::Result<Outcome, ClientError> {
    let bar = report.file(&local.logical, local.size);
    if let Some(bar) = &bar {
        bar.set_message("hashing");
    }
    let on_hash = |p: Progress| {
        if let (Progress::Hashed(n), Some(bar)) = (p, &bar) {
            bar.inc(n);
        }
    };
    let (sha256, size) = casefile_client::hash_file(&local.path, &on_hash).await?;
    if existing.get(&local.logical) == Some(&sha256) {
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        return Ok(Outcome::Skipped);
    }
    let key = JournalFile::key(client.base(), case, &local.logical);
    let soon = Utc::now() + chrono::Duration::minutes(1);
    let reusable = journal
        .get(&key)
        .await
        .filter(|e| e.sha256 == sha256 && e.size == size && e.upload.expires_at > soon);
    let (file_id, instructions) = match reusable {
        Some(entry) => (entry.file_id, entry.upload),
        None => {
            let started = client
                .begin_upload(
                    case,
                    &UploadRequest {
                        logical_path: local.logical.clone(),
                        file_name: None,
                        mime_type: None,
                        file_size: size,
                        content_hash: sha256.clone(),
                    },
                )
                .await?;
            let entry = JournalEntry {
                file_id: started.file_id,
                sha256: sha256.clone(),
                size,
                upload: started.upload,
            };
            // Not being able to keep the journal only costs a resume: go on.
            let _ = journal.set(key.clone(), Some(entry.clone())).await;
            (entry.file_id, entry.upload)
        }
    };
    if let Some(bar) = &bar {
        bar.set_position(0);
        bar.set_message("sending");
    }
    let on_send = |p: Progress| {
        if let Progress::Sent(n) = p {
            report.total(n);
            if let Some(bar) = &bar {
                bar.inc(n);
            }
        }
    };
    client
        .send_upload(&instructions, &local.path, size, &on_send)
        .await?;
    if let Some(bar) = &bar {
        bar.set_message("verifying");
    }
    let file = client.complete(file_id).await?;
    let _ = journal.set(key, None).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(Outcome::Uploaded(Box::new(file)))
}

/// `casefile download FILE_ID | CASE[/PREFIX] --out DIR [--jobs N] [--json]`: each file to
/// `DIR/<logical path>` (a single file: `DIR/<its name>`), verified, atomically renamed; a file
/// already there with the recorded SHA-256 is skipped.
///
/// # Errors
/// [`RemoteError::Partial`] naming how many failed.
pub async fn download(
    client: &Client,
    target: &str,
    out: &Path,
    jobs: usize,
    as_json: bool,
) -> Result<()> {
    let (id, prefix) = case_and_prefix(target)?;
    let single = if prefix.is_none() {
        match client.file(id).await {
            Ok(file) => Some(file),
            Err(ClientError::Api { code, .. }) if code == "not_found" => None,
            Err(e) => return Err(e.into()),
        }
    } else {
        None
    };
    let files: Vec<(FileView, Option<PathBuf>)> = match single {
        Some(file) => {
            let dest = local_path(out, &file.file_name);
            vec![(file, dest)]
        }
        None => {
            let listing: Vec<FileView> = client
                .list_files(id, prefix.as_deref())
                .try_collect()
                .await?;
            listing
                .into_iter()
                .map(|f| {
                    let dest = local_path(out, &f.logical_path);
                    (f, dest)
                })
                .collect()
        }
    };
    let total: u64 = files.iter().map(|(f, _)| f.file_size).sum();
    let report = Report::new(as_json, total);
    let results: Vec<std::result::Result<bool, ClientError>> = futures::stream::iter(files)
        .map(|(file, dest)| {
            let (client, report) = (client.clone(), report.clone());
            async move {
                let result = match &dest {
                    Some(dest) => download_one(&client, &file, dest, &report).await,
                    None => Err(ClientError::Protocol(format!(
                        "the server named the path {:?}, which would leave the output folder: refused",
                        file.logical_path
                    ))),
                };
                match &result {
                    Ok(true) => report.line(
                        "downloaded",
                        &file.logical_path,
                        json!({ "file_id": file.id, "size": file.file_size, "sha256": file.content_hash, "to": dest }),
                        format!("downloaded  {}  {}", file.logical_path, human(file.file_size)),
                    ),
                    Ok(false) => report.line(
                        "skipped",
                        &file.logical_path,
                        json!({ "to": dest }),
                        format!("skipped     {}  (already there, verified)", file.logical_path),
                    ),
                    Err(e) => report.line(
                        "failed",
                        &file.logical_path,
                        json!({ "error": e.to_string() }),
                        format!("failed      {}: {e}", file.logical_path),
                    ),
                }
                result
            }
        })
        .buffer_unordered(jobs.max(1))
        .collect()
        .await;
    report.finish();
    let downloaded = results.iter().filter(|r| matches!(r, Ok(true))).count();
    let skipped = results.iter().filter(|r| matches!(r, Ok(false))).count();
    let failed = results.iter().filter(|r| r.is_err()).count();
    if as_json {
        println!(
            "{}",
            json!({"event": "summary", "downloaded": downloaded, "skipped": skipped, "failed": failed})
        );
    } else {
        println!("downloaded {downloaded}, skipped {skipped}, failed {failed}");
    }
    if failed > 0 {
        return Err(RemoteError::Partial(format!("{failed} files failed")));
    }
    Ok(())
}

/// Where `path` (`/`-separated, from the server) goes under `out`; `None` for a path that would
/// leave `out` or name nothing (an empty, `.` or `..` segment, a NUL): the server validates
/// logical paths, and the client does not trust that it did.
pub fn local_path(out: &Path, path: &str) -> Option<PathBuf> {
    let mut local = out.to_path_buf();
    for segment in path.split('/') {
        if segment.is_empty() || segment == "." || segment == ".." || segment.contains('\0') {
            return None;
        }
        local.push(segment);
    }
    Some(local)
}

/// Whether it downloaded (`false`: already there and verified).
async fn download_one(
    client: &Client,
    file: &FileView,
    dest: &Path,
    report: &Report,
) -> std::result::Result<bool, ClientError> {
    if let Some(dir) = dest.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|source| ClientError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
    }
    if let Ok(meta) = tokio::fs::metadata(dest).await
        && meta.len() == file.file_size
    {
        let (sha, _) = casefile_client::hash_file(dest, &|_| {}).await?;
        if sha.eq_ignore_ascii_case(&file.content_hash) {
            report.total(file.file_size);
            return Ok(false);
        }
    }
    let bar = report.file(&file.logical_path, file.file_size);
    if let Some(bar) = &bar {
        bar.set_message("receiving");
    }
    let on_receive = |p: Progress| {
        if let Progress::Received(n) = p {
            report.total(n);
            if let Some(bar) = &bar {
                bar.inc(n);
            }
        }
    };
    let result = client.download_to(file.id, dest, &on_receive).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    result.map(|_| true)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A server that names a file `../../etc/cron.d/x` must not make the client write there.
    #[test]
    fn paths_from_the_server_stay_inside_the_output_folder() {
        let out = Path::new("/tmp/out");
        assert_eq!(
            local_path(out, "pleadings/café/motion.pdf").unwrap(),
            Path::new("/tmp/out/pleadings/café/motion.pdf")
        );
        for hostile in [
            "../../etc/cron.d/x",
            "a/../../b",
            "/etc/passwd",
            "a//b",
            "./a",
            "a/.",
            "",
            "a\0b",
        ] {
            assert_eq!(local_path(out, hostile), None, "{hostile:?}");
        }
    }

    #[test]
    fn case_targets() {
        let id = Uuid::new_v4();
        assert_eq!(case_and_prefix(&id.to_string()).unwrap(), (id, None));
        assert_eq!(
            case_and_prefix(&format!("{id}/a/b/")).unwrap(),
            (id, Some("a/b/".to_owned()))
        );
        assert_eq!(case_and_prefix(&format!("{id}/")).unwrap(), (id, None));
        assert!(matches!(
            case_and_prefix("not-a-case/x"),
            Err(RemoteError::Usage(_))
        ));
    }
}
