//! `casefile-migrate [DATABASE]`: applies the embedded migrations to a database.
//!
//! DATABASE is a PostgreSQL URL (`postgres://…`) or a SQLite file path (`sqlite://` prefix
//! optional); default: `$CASEFILE_DATABASE_URL`, else `./casefile-data/casefile.db`.
//! Used by `cargo xtask migrate`.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let target = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("CASEFILE_DATABASE_URL").ok())
        .unwrap_or_else(|| "./casefile-data/casefile.db".to_owned());
    match migrate(&target).await {
        Ok(message) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("casefile-migrate: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(target: &str) -> Result<String, String> {
    if target.starts_with("postgres://") || target.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        {
            let n = casefile_persistence::run_pg_migrations(target, true)
                .await
                .map_err(|e| describe(&e))?;
            return Ok(format!("PostgreSQL: {n} migration(s) applied"));
        }
        #[cfg(not(feature = "postgres"))]
        return Err("built without the `postgres` feature".to_owned());
    }
    let path = target.strip_prefix("sqlite://").unwrap_or(target);
    #[cfg(feature = "sqlite")]
    {
        if let Some(dir) = std::path::Path::new(path).parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let n = casefile_persistence::run_sqlite_migrations(path, true)
            .await
            .map_err(|e| describe(&e))?;
        Ok(format!("SQLite {path}: {n} migration(s) applied"))
    }
    #[cfg(not(feature = "sqlite"))]
    {
        let _ = path;
        Err("built without the `sqlite` feature".to_owned())
    }
}

#[allow(dead_code)]
fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}
