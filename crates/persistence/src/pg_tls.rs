//! TLS to PostgreSQL: `sslmode` and `sslrootcert` of the connection URL, over rustls.
//!
//! | `sslmode` | TLS | server certificate |
//! |---|---|---|
//! | `disable` | never | — |
//! | `prefer` (default, as libpq) | when the server offers it, else cleartext | not verified |
//! | `require`, `verify-full` | always (a server without TLS is refused) | chain to a trusted root **and** host name |
//! | `verify-ca` | always | chain to a trusted root |
//!
//! `require` verifies more than libpq does (libpq's `require` checks nothing unless a root
//! certificate file exists): an encrypted connection to whoever answers is not worth having for a
//! system of record. The trusted roots are the file named by `sslrootcert` (PEM, one or more
//! certificates), else the platform's store (`sslrootcert=system` names it explicitly).

use std::path::PathBuf;
use std::sync::Arc;

use casefile_domain::legal::PersistenceError;
use diesel::ConnectionError;
use diesel_async::AsyncPgConnection;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::unavailable;

/// What the URL asks of the connection's encryption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TlsMode {
    Disable,
    Prefer,
    VerifyCa,
    VerifyFull,
}

/// A parsed connection target: the driver's configuration and the TLS connector it needs.
#[derive(Clone)]
pub(crate) struct PgTarget {
    config: tokio_postgres::Config,
    mode: TlsMode,
    tls: Option<MakeRustlsConnect>,
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTarget")
            .field("mode", &self.mode)
            .finish()
    }
}

fn bad_url(reason: impl Into<String>) -> PersistenceError {
    PersistenceError::Unavailable {
        message: reason.into(),
        source: None,
    }
}

impl PgTarget {
    /// Parses `url` (`postgres://…?sslmode=…&sslrootcert=…`, or the driver's `key=value` form)
    /// and loads the roots it trusts.
    pub(crate) fn parse(url: &str) -> Result<Self, PersistenceError> {
        let (rest, mode, root_cert) = split_tls_params(url)?;
        let mut config: tokio_postgres::Config = rest
            .parse()
            .map_err(|e| unavailable("the PostgreSQL URL is not valid", e))?;
        config.ssl_mode(match mode {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            TlsMode::VerifyCa | TlsMode::VerifyFull => SslMode::Require,
        });
        let tls = match mode {
            TlsMode::Disable => None,
            _ => Some(MakeRustlsConnect::new(client_config(mode, root_cert)?)),
        };
        Ok(Self { config, mode, tls })
    }

    /// Opens one connection.
    pub(crate) async fn establish(&self) -> Result<AsyncPgConnection, ConnectionError> {
        // The driver's message and its causes ("error performing TLS handshake: invalid peer
        // certificate: UnknownIssuer"): the cause is what an operator needs.
        let driver = |e: tokio_postgres::Error| {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            ConnectionError::BadConnection(text)
        };
        match &self.tls {
            None => {
                let (client, conn) = self
                    .config
                    .connect(tokio_postgres::NoTls)
                    .await
                    .map_err(driver)?;
                AsyncPgConnection::try_from_client_and_connection(client, conn).await
            }
            Some(tls) => {
                let (client, conn) = self.config.connect(tls.clone()).await.map_err(driver)?;
                AsyncPgConnection::try_from_client_and_connection(client, conn).await
            }
        }
    }
}

/// Takes `sslmode` and `sslrootcert` out of `url` (the driver knows neither `verify-*` nor
/// `sslrootcert`); returns the rest.
fn split_tls_params(url: &str) -> Result<(String, TlsMode, Option<String>), PersistenceError> {
    let mut mode = None;
    let mut root_cert = None;
    let mut take = |key: &str, value: &str| -> Result<bool, PersistenceError> {
        match key {
            "sslmode" => {
                mode = Some(match value {
                    "disable" => TlsMode::Disable,
                    "prefer" => TlsMode::Prefer,
                    "require" | "verify-full" => TlsMode::VerifyFull,
                    "verify-ca" => TlsMode::VerifyCa,
                    other => {
                        return Err(bad_url(format!(
                            "sslmode {other:?} is not supported: use disable, prefer, require, \
                             verify-ca or verify-full"
                        )));
                    }
                });
                Ok(true)
            }
            "sslrootcert" => {
                root_cert = Some(value.to_owned());
                Ok(true)
            }
            _ => Ok(false),
        }
    };
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let mut parsed =
            url::Url::parse(url).map_err(|e| unavailable("the PostgreSQL URL is not valid", e))?;
        let mut kept = Vec::new();
        for (key, value) in parsed.query_pairs() {
            if !take(&key, &value)? {
                kept.push((key.into_owned(), value.into_owned()));
            }
        }
        if kept.is_empty() {
            parsed.set_query(None);
        } else {
            parsed.query_pairs_mut().clear().extend_pairs(kept);
        }
        parsed.to_string()
    } else {
        let mut kept = Vec::new();
        for pair in url.split_whitespace() {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if !take(key, value)? {
                kept.push(pair);
            }
        }
        kept.join(" ")
    };
    Ok((rest, mode.unwrap_or(TlsMode::Prefer), root_cert))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(root_cert: Option<String>) -> Result<RootCertStore, PersistenceError> {
    let mut roots = RootCertStore::empty();
    match root_cert.as_deref() {
        None | Some("system") => {
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
        }
        Some(path) => {
            let path = PathBuf::from(path);
            let certs = CertificateDer::pem_file_iter(&path)
                .map_err(|e| unavailable(format!("cannot read sslrootcert {}", path.display()), e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| {
                    unavailable(format!("sslrootcert {} is not PEM", path.display()), e)
                })?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(bad_url(format!(
                    "sslrootcert {} holds no certificate",
                    path.display()
                )));
            }
        }
    }
    Ok(roots)
}

fn client_config(
    mode: TlsMode,
    root_cert: Option<String>,
) -> Result<ClientConfig, PersistenceError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| unavailable("cannot configure TLS", e))?;
    let config = match mode {
        TlsMode::Disable | TlsMode::Prefer => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unverified(provider())))
            .with_no_client_auth(),
        TlsMode::VerifyFull => builder
            .with_root_certificates(roots(root_cert)?)
            .with_no_client_auth(),
        TlsMode::VerifyCa => {
            let verifier = WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots(root_cert)?),
                provider(),
            )
            .build()
            .map_err(|e| unavailable("cannot configure TLS", e))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOnly(verifier)))
                .with_no_client_auth()
        }
    };
    Ok(config)
}

/// `sslmode=prefer`: encryption against passive listeners, no claim about the peer (as libpq).
/// The handshake signatures are still checked.
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `sslmode=verify-ca`: the chain must lead to a trusted root; the host name is not compared.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        use rustls::{CertificateError, Error};
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_are_taken_out_of_the_url() {
        let (rest, mode, root) = split_tls_params(
            "postgres://u:p@db.example:5432/app?application_name=cf&sslmode=verify-ca&sslrootcert=%2Fetc%2Fca.pem",
        )
        .unwrap();
        assert_eq!(
            rest,
            "postgres://u:p@db.example:5432/app?application_name=cf"
        );
        assert_eq!(mode, TlsMode::VerifyCa);
        assert_eq!(root.as_deref(), Some("/etc/ca.pem"));

        let (rest, mode, root) = split_tls_params("postgres://u@h/db?sslmode=require").unwrap();
        assert_eq!(rest, "postgres://u@h/db");
        assert_eq!(mode, TlsMode::VerifyFull, "require verifies the peer");
        assert_eq!(root, None);

        let (rest, mode, _) = split_tls_params("host=h user=u sslmode=disable").unwrap();
        assert_eq!(rest, "host=h user=u");
        assert_eq!(mode, TlsMode::Disable);

        let (_, mode, _) = split_tls_params("postgres://u@h/db").unwrap();
        assert_eq!(mode, TlsMode::Prefer, "libpq's default");
    }

    #[test]
    fn unknown_sslmode_is_refused_by_name() {
        let err = split_tls_params("postgres://u@h/db?sslmode=allow").unwrap_err();
        assert!(err.to_string().contains("sslmode \"allow\""), "{err}");
    }

    #[test]
    fn a_root_file_without_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let url = format!(
            "postgres://u@h/db?sslmode=verify-full&sslrootcert={}",
            path.display()
        );
        let err = PgTarget::parse(&url).unwrap_err();
        assert!(err.to_string().contains("holds no certificate"), "{err}");
    }
}
