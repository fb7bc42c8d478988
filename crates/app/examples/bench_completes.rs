//! Completes per second into one case, with 1 and with 16 concurrent clients, on SQLite and
//! PostgreSQL: what the audit log's integration step (each entry's leaf joins the Merkle tree in
//! the append's transaction) costs concurrent uploads. Run by `cargo xtask bench`; not a test.
//!
//! Each upload is a direct upload of 4 KiB through the service on the local store: authorize,
//! record pending, stream + hash + fsync, complete, audit — every database round trip a real
//! upload makes. Prints one line per database and concurrency, and the ratio 16 : 1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use casefile_domain::legal::{
    CaseRepository, LegalFileService, NewUpload, ServiceConfig, SystemClock, UserId,
};
use casefile_domain::storage::ObjectStorage;
use futures::StreamExt;

const UPLOADS: usize = 320;

async fn run(repository: Arc<dyn CaseRepository>, dir: &std::path::Path, clients: usize) -> f64 {
    let storage: Arc<dyn ObjectStorage> =
        Arc::new(casefile_storage_local::FsStorage::new(dir.join("objects")).unwrap());
    let config = ServiceConfig::default()
        .with_open_upload_caps(100_000, 100_000)
        .unwrap();
    let service = LegalFileService::new(storage, repository, Arc::new(SystemClock), config);
    let user = UserId::new();
    let case = service.create_case(user, "Bench").await.unwrap();
    let content = Bytes::from(vec![b'x'; 4096]);
    let started = Instant::now();
    futures::stream::iter(0..UPLOADS)
        .for_each_concurrent(clients, |i| {
            let (service, content) = (service.clone(), content.clone());
            async move {
                let request = NewUpload {
                    logical_path: format!("f/{clients}/{i}.bin"),
                    file_name: None,
                    mime_type: None,
                    file_size: content.len() as u64,
                    content_hash: None,
                };
                let body = Box::pin(futures::stream::once(async move { Ok(content) }));
                service
                    .upload_file(user, case.id, request, body)
                    .await
                    .unwrap();
            }
        })
        .await;
    UPLOADS as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let mut databases: Vec<(&str, Arc<dyn CaseRepository>)> = Vec::new();
    let sqlite = dir.path().join("bench.db");
    databases.push((
        "SQLite",
        Arc::new(
            casefile_persistence::SqliteCaseRepository::connect(
                sqlite.to_str().unwrap(),
                casefile_persistence::PoolConfig {
                    migrate: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap(),
        ),
    ));
    let server = std::env::var("CASEFILE_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let name = format!("casefile_bench_{}", uuid::Uuid::new_v4().simple());
    let created = {
        use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
        match AsyncPgConnection::establish(&server).await {
            Ok(mut admin) => diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await
                .is_ok(),
            Err(e) => {
                println!("PostgreSQL at {server} not reachable ({e}): SQLite only");
                false
            }
        }
    };
    if created {
        let (base, _) = server.rsplit_once('/').unwrap();
        let url = format!("{base}/{name}");
        databases.push((
            "PostgreSQL",
            Arc::new(
                casefile_persistence::PgCaseRepository::connect(
                    &url,
                    casefile_persistence::PoolConfig {
                        max_size: 32,
                        migrate: true,
                        ..Default::default()
                    },
                )
                .await
                .unwrap(),
            ),
        ));
    }
    println!("completes per second into one case, {UPLOADS} direct uploads of 4 KiB");
    for (db, repository) in databases {
        let one = run(repository.clone(), dir.path(), 1).await;
        let sixteen = run(repository, dir.path(), 16).await;
        println!(
            "{db:<10}  1 client {one:>8.1}/s   16 clients {sixteen:>8.1}/s   ratio {:.2}",
            sixteen / one
        );
    }
    if created {
        use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
        let mut admin = AsyncPgConnection::establish(&server).await.unwrap();
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut admin)
            .await
            .unwrap();
    }
}
