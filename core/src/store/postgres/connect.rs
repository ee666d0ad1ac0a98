//! Turning a `postgres://` URL and the config into connections: TLS through
//! rustls, timeouts, and the guard against async runtimes.

use std::sync::Arc;

use postgres::config::SslMode;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::util::redact_url;

/// Whether `target` names a PostgreSQL database rather than a SQLite file.
pub(crate) fn is_postgres_url(target: &str) -> bool {
    let lower = target.get(..13).unwrap_or(target).to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// The client settings for `url`: its host, user, password and database,
/// with Keyhouse's timeouts.
///
/// `sslmode` takes libpq's six values. Every TLS connection verifies the
/// server's certificate chain and host name (rustls cannot do less), so
/// `require`, `verify-ca` and `verify-full` all mean verify-full. Unlike
/// libpq, the default is `require`: with `prefer` or `allow`, anyone on the
/// network path can answer "no TLS" and then serve rows of their choosing,
/// which for an auth store means keys of their choosing. `prefer`, `allow`
/// and `disable` are there for those who ask. `sslrootcert=PATH` adds the
/// PEM certificates in PATH to the Mozilla roots that are trusted.
pub(crate) fn client_config(url: &str, config: &Config) -> Result<(postgres::Config, MakeRustlsConnect)> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut ssl_mode = None;
    let mut root_cert = None;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslmode", v)) => ssl_mode = Some(v),
            Some(("sslrootcert", v)) => root_cert = Some(v),
            _ => rest.push(pair),
        }
    }
    let passed = if rest.is_empty() { base.to_owned() } else { format!("{base}?{}", rest.join("&")) };
    // The parser's errors do not quote the URL, and the message names it redacted.
    let mut pg: postgres::Config =
        passed.parse().map_err(|e| Error::invalid(format!("bad PostgreSQL URL {}: {e}", redact_url(url))))?;
    pg.ssl_mode(match ssl_mode {
        Some("prefer" | "allow") => SslMode::Prefer,
        Some("disable") => SslMode::Disable,
        None | Some("require" | "verify-ca" | "verify-full") => SslMode::Require,
        Some(other) => return Err(Error::invalid(format!("unknown sslmode {:?}", crate::util::clip(other)))),
    });
    pg.connect_timeout(config.connect_timeout);
    // A server that vanishes without closing the connection (a dropped
    // network, a powered-off host) is noticed by TCP within about
    // `connect_timeout`, not after the kernel's default of many minutes.
    pg.keepalives(true);
    pg.keepalives_idle(config.connect_timeout.max(std::time::Duration::from_secs(1)));
    pg.keepalives_interval(std::time::Duration::from_secs(1));
    pg.keepalives_retries(3);
    pg.tcp_user_timeout(config.connect_timeout.max(config.statement_timeout));
    // Spends rely on READ COMMITTED (a statement waiting for a row lock
    // sees the row as its holder left it), whatever the database's default.
    let settings = format!(
        "-c statement_timeout={} -c default_transaction_isolation=read\\ committed",
        config.statement_timeout.as_millis()
    );
    let options = match pg.get_options() {
        Some(o) if !o.is_empty() => format!("{o} {settings}"),
        _ => settings,
    };
    pg.options(&options);
    if pg.get_application_name().is_none() {
        pg.application_name("keyhouse");
    }
    Ok((pg, tls(root_cert)?))
}

fn tls(root_cert: Option<&str>) -> Result<MakeRustlsConnect> {
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    if let Some(path) = root_cert {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| Error::invalid(format!("cannot read sslrootcert {}: {e}", crate::util::clip(path))))?;
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(Error::invalid(format!("sslrootcert {} holds no usable certificate", crate::util::clip(path))));
        }
    }
    // The provider is named here rather than taken from a process-wide
    // default, which the application (or another library) may not have set.
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Store(format!("TLS setup failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// Refuses to go on inside an async runtime. The sync `postgres` client
/// drives its own runtime and panics when called from a thread that is
/// already running one (a tokio worker): an error here is the clear version
/// of that panic, and keeps it from crossing an FFI boundary.
pub(crate) fn check_not_async() -> Result<()> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::Store(
            "a PostgreSQL store was called from inside an async runtime; call it from a blocking thread \
             (e.g. tokio::task::spawn_blocking)"
                .into(),
        ));
    }
    Ok(())
}

/// A client error as a Keyhouse error: a lock or statement timeout is
/// STORE_BUSY, everything else STORE_ERROR. Neither the client's nor the
/// server's messages quote the password.
pub(crate) fn pg_error(e: postgres::Error) -> Error {
    use postgres::error::SqlState;
    let busy = e.code().is_some_and(|c| {
        [
            SqlState::QUERY_CANCELED,
            SqlState::LOCK_NOT_AVAILABLE,
            SqlState::T_R_DEADLOCK_DETECTED,
            SqlState::T_R_SERIALIZATION_FAILURE,
        ]
        .contains(c)
    });
    let msg = match e.as_db_error() {
        Some(db) => format!("PostgreSQL: {}", db.message()),
        None => format!("PostgreSQL: {e}"),
    };
    if busy {
        Error::StoreBusy(msg)
    } else {
        Error::Store(msg)
    }
}

impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Self {
        pg_error(e)
    }
}
