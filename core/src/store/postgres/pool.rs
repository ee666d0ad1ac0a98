//! Pooled connections, each with the statements it has prepared.
//!
//! A statement prepared once per connection runs in one round trip with a
//! plan the server keeps, where an unprepared one is parsed and planned on
//! every call (for the key lookup, that doubled the time of a cache miss).

use std::collections::HashMap;

use postgres::types::{ToSql, Type};
use postgres::{Client, GenericClient, Row, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::connect::pg_error;
use crate::error::Result;

/// Statements prepared on one connection, by their SQL.
pub(super) type Prepared = HashMap<String, Statement>;

/// A pooled connection.
pub(super) struct PgConn {
    pub client: Client,
    pub prepared: Prepared,
}

/// Makes and checks connections for `r2d2`.
pub(super) struct Manager {
    pub config: postgres::Config,
    pub tls: MakeRustlsConnect,
}

impl r2d2::ManageConnection for Manager {
    type Connection = PgConn;
    type Error = postgres::Error;

    fn connect(&self) -> Result<PgConn, postgres::Error> {
        Ok(PgConn { client: self.config.connect(self.tls.clone())?, prepared: Prepared::new() })
    }

    fn is_valid(&self, conn: &mut PgConn) -> Result<(), postgres::Error> {
        conn.client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.client.is_closed()
    }
}

/// Runs `sql` with `params` (each with its type) on `c`, preparing it on
/// first use and keeping the statement in `prepared`.
pub(super) fn query(
    c: &mut impl GenericClient,
    prepared: &mut Prepared,
    sql: &str,
    params: &[(&(dyn ToSql + Sync), Type)],
) -> Result<Vec<Row>> {
    let statement = match prepared.get(sql) {
        Some(s) => s.clone(),
        None => {
            let types: Vec<Type> = params.iter().map(|(_, t)| t.clone()).collect();
            let s = c.prepare_typed(sql, &types).map_err(pg_error)?;
            prepared.insert(sql.to_owned(), s.clone());
            s
        }
    };
    let values: Vec<&(dyn ToSql + Sync)> = params.iter().map(|(v, _)| *v).collect();
    c.query(&statement, &values).map_err(pg_error)
}
