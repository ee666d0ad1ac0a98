//! The PostgreSQL backend, for many app servers sharing one store.
//!
//! Requests go through a small blocking pool (`r2d2`) of `postgres` clients;
//! a listener thread on a connection of its own keeps the verify cache
//! caught up with other processes' changes (`cache`, `listener`). A plain
//! verify of a cached key makes no round trip; a spend makes one
//! conditional `UPDATE` (`spend`); writes lock the rows they change.

mod cache;
mod connect;
mod listener;
mod pool;
mod rows;
pub(crate) mod schema;
mod spend;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use postgres::types::Type;
use r2d2::{Pool, PooledConnection};

use cache::{stale_error, PgCache};
pub(crate) use connect::is_postgres_url;
use connect::{check_not_async, client_config, pg_error};
use listener::Listener;
use pool::{query, Manager, PgConn};
use rows::{load, PgTx, SELECT_KEYS};

use super::backend::{Backend, Found, Lookup, Tx, UsageBatch};
use super::usage::UsageBuffer;
use super::verifying::Spend;
use super::Keyhouse;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::VerifyResult;
use crate::util::redact_url;

type Conn = PooledConnection<Manager>;

/// Every statement of the backend, with the schema filled in once.
pub(crate) struct Sql {
    load: String,
    load_for_update: String,
    insert: String,
    insert_new: String,
    update_key: String,
    update_state: String,
    save_usage: String,
    rehash: String,
    active_keys: String,
    lock_owner: String,
    delete: String,
    purge_expired: String,
    relink: String,
    list: String,
    usage: String,
    spend: String,
    epoch: String,
    changes: String,
}

impl Sql {
    fn new(schema: &str) -> Self {
        let s = format!("\"{schema}\"");
        let select = SELECT_KEYS.replace("{s}", &s);
        let key_columns = "prefix = $2, hash = $3, owner_id = $4, name = $5, permissions = $6, metadata = $7, \
            enabled = $8, created_at = $9, updated_at = $10, expires_at = $11, revoked_at = $12, \
            refill_amount = $13, refill_interval_ms = $14, rate_limit = $15, rate_window_ms = $16, limit_source = $17";
        let state_columns =
            "usage_count = $2, last_used_at = $3, remaining = $4, last_refill_at = $5, rate_tat = $6, limit_epoch = $7";
        Sql {
            load: format!("{select} LEFT JOIN {s}.key_state s ON s.seq = k.seq WHERE k.id = $1"),
            load_for_update: format!("{select} JOIN {s}.key_state s ON s.seq = k.seq WHERE k.id = $1 FOR UPDATE"),
            insert: INSERT.replace("{s}", &s).replace("{on_conflict}", ""),
            insert_new: INSERT.replace("{s}", &s).replace("{on_conflict}", "ON CONFLICT (id) DO NOTHING"),
            update_key: format!("UPDATE {s}.keys SET {key_columns} WHERE id = $1 RETURNING seq"),
            update_state: format!("UPDATE {s}.key_state SET {state_columns} WHERE seq = $1"),
            save_usage: format!("UPDATE {s}.key_state SET usage_count = $2, last_used_at = $3 WHERE seq = $1"),
            rehash: format!("UPDATE {s}.keys SET hash = $2 WHERE id = $1"),
            active_keys: format!(
                "SELECT count(*) FROM {s}.keys WHERE owner_id = $1 AND revoked_at IS NULL \
                 AND (expires_at IS NULL OR expires_at > $2)"
            ),
            // The schema name keeps stores in different schemas apart.
            lock_owner: format!("SELECT pg_advisory_xact_lock(hashtextextended('keyhouse owner {schema} ' || $1, 0))"),
            delete: format!("DELETE FROM {s}.keys WHERE id = $1 RETURNING 1"),
            purge_expired: format!(
                "DELETE FROM {s}.keys WHERE expires_at IS NOT NULL AND expires_at <= $1 RETURNING 1"
            ),
            relink: format!("UPDATE {s}.keys SET limit_source = $2 WHERE limit_source = $1"),
            list: format!(
                "{select} LEFT JOIN {s}.key_state s ON s.seq = k.seq \
                 WHERE ($1::text IS NULL OR k.owner_id = $1) AND ($2 OR k.revoked_at IS NULL) \
                 AND ($3::bigint IS NULL OR (k.created_at, k.id) > ($3, $4)) \
                 ORDER BY k.created_at, k.id LIMIT $5"
            ),
            // The rows are locked in `seq` order first: two processes
            // flushing overlapping keys then queue instead of deadlocking.
            usage: format!(
                "WITH u AS (SELECT k.seq, u.n, u.t FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(id, n, t) \
                 JOIN {s}.keys k ON k.id = u.id), \
                 locked AS (SELECT s.seq FROM {s}.key_state s JOIN u ON u.seq = s.seq ORDER BY s.seq FOR UPDATE OF s) \
                 UPDATE {s}.key_state s SET usage_count = s.usage_count + u.n, \
                 last_used_at = greatest(s.last_used_at, u.t) \
                 FROM u, locked WHERE s.seq = u.seq AND locked.seq = u.seq"
            ),
            spend: SPEND.replace("{s}", &s),
            epoch: format!("SELECT n FROM {s}.epoch"),
            changes: format!("SELECT epoch, key_id FROM {s}.changes WHERE epoch > $1 AND epoch <= $2 ORDER BY epoch"),
        }
    }
}

/// One spend (see `spend`): lock the key's state row, apply the refill
/// (`verify::apply_refill`), the GCRA rate limit (`ratelimit::check`) and
/// the credits to it, and write it if admitted; return the state found.
/// $1 seq, $2 now (ms), $3 refill amount, $4 refill interval (ms), $5 rate
/// limit, $6 window (ms), $7 cost, $8 the settings version decided on. GCRA
/// times are in units of 1/limit ms and compared as numeric, so no product
/// can overflow.
const SPEND: &str = "\
WITH cur AS (
    SELECT seq, version, remaining, last_refill_at, rate_tat FROM {s}.key_state WHERE seq = $1 FOR UPDATE
), refilled AS (
    SELECT cur.*,
        ($3::bigint IS NOT NULL AND last_refill_at IS NOT NULL AND $2 - last_refill_at >= greatest($4, 1)) AS due
    FROM cur
), p AS (
    SELECT seq, version, due,
        CASE WHEN due THEN $3 ELSE remaining END AS r,
        CASE WHEN due THEN last_refill_at + ($2 - last_refill_at) / greatest($4, 1) * greatest($4, 1)
             ELSE last_refill_at END AS lr,
        greatest(coalesce(rate_tat::numeric, $2::numeric * $5), $2::numeric * $5) + $6 AS new_tat
    FROM refilled
), d AS (
    SELECT p.*,
        version = $8
        AND ($5::bigint IS NULL OR new_tat - $2::numeric * $5 <= $6::numeric * $5)
        AND (r IS NULL OR r >= $7) AS admitted
    FROM p
), upd AS (
    UPDATE {s}.key_state s SET remaining = d.r - $7, last_refill_at = d.lr,
        rate_tat = CASE WHEN $5::bigint IS NULL THEN s.rate_tat ELSE d.new_tat::bigint END
    FROM d WHERE s.seq = d.seq AND d.admitted
    RETURNING 1
)
SELECT version, remaining, last_refill_at, rate_tat, EXISTS (SELECT 1 FROM upd) FROM cur";

/// Inserts a batch of keys (`rows::PgTx::insert_many`): $1–$17 are the
/// `keys` columns and $18–$22 the `key_state` ones, one array each.
const INSERT: &str = "\
WITH ins AS (
    INSERT INTO {s}.keys (id, prefix, hash, owner_id, name, permissions, metadata, enabled, created_at, updated_at,
        expires_at, revoked_at, refill_amount, refill_interval_ms, rate_limit, rate_window_ms, limit_source)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
        $8::boolean[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[],
        $15::bigint[], $16::bigint[], $17::text[])
    {on_conflict}
    RETURNING id, seq
)
INSERT INTO {s}.key_state (seq, usage_count, last_used_at, remaining, last_refill_at, rate_tat)
SELECT ins.seq, u.usage_count, u.last_used_at, u.remaining, u.last_refill_at, u.rate_tat
FROM ins JOIN unnest($1::text[], $18::bigint[], $19::bigint[], $20::bigint[], $21::bigint[], $22::bigint[])
    AS u (id, usage_count, last_used_at, remaining, last_refill_at, rate_tat) ON u.id = ins.id
RETURNING 1";

/// The connections of one PostgreSQL store.
pub(crate) struct Postgres {
    pool: RwLock<Option<Pool<Manager>>>,
    sql: Arc<Sql>,
    cache: Arc<PgCache>,
    stop: Arc<AtomicBool>,
    max_staleness: Duration,
    pool_size: u32,
}

impl Postgres {
    /// Connects to the database at `url`, brings the schema up to date, and
    /// starts the change listener.
    pub(crate) fn open(url: &str, config: &Config) -> Result<Self> {
        check_not_async()?;
        let (pg, tls) = client_config(url, config)?;
        let mut client = pg.connect(tls.clone()).map_err(|e| connect_error(url, e))?;
        schema::migrate(&mut client, &config.schema, true)?;
        let sql = Arc::new(Sql::new(&config.schema));
        let started = Instant::now();
        let epoch: i64 = client.query_typed_one(&sql.epoch, &[]).map_err(pg_error)?.try_get(0).map_err(pg_error)?;
        let cache = Arc::new(PgCache::new(epoch, started, config.max_staleness, config.verify_cache_size));
        let manager = Manager { config: pg.clone(), tls: tls.clone() };
        let pool = Pool::builder()
            .max_size(config.pool_size)
            // No connections are made ahead of need, and none is checked
            // with an extra round trip when taken: a broken one fails its
            // request with STORE_ERROR and is then dropped.
            .min_idle(Some(0))
            .test_on_check_out(false)
            .connection_timeout(config.connect_timeout)
            .build_unchecked(manager);
        let (mut listen_config, listen_tls) = match &config.listen_url {
            Some(u) => client_config(u, config)?,
            None => (pg, tls),
        };
        // Named, so that an operator can tell it apart in pg_stat_activity.
        listen_config.application_name("keyhouse-listener");
        let stop = Arc::new(AtomicBool::new(false));
        Listener {
            config: listen_config,
            tls: listen_tls,
            cache: Arc::clone(&cache),
            sql: Arc::clone(&sql),
            schema: config.schema.clone(),
            stop: Arc::clone(&stop),
            poll_every: config.max_staleness / 4,
        }
        .spawn()
        .map_err(|e| Error::Store(format!("cannot start the change listener: {e}")))?;
        Ok(Postgres {
            pool: RwLock::new(Some(pool)),
            sql,
            cache,
            stop,
            max_staleness: config.max_staleness,
            pool_size: config.pool_size,
        })
    }

    /// A connection from the pool, within `connect_timeout`.
    fn conn(&self) -> Result<Conn> {
        check_not_async()?;
        let pool = self.pool.read().unwrap_or_else(|e| e.into_inner()).clone().ok_or(Error::Closed)?;
        pool.get().map_err(|e| {
            if pool.state().connections >= self.pool_size {
                Error::StoreBusy(format!("every one of the {} connections stayed busy: {e}", self.pool_size))
            } else {
                Error::Store(format!("cannot connect to PostgreSQL: {e}"))
            }
        })
    }

    /// Makes sure the cache may be trusted, catching up if the bound passed.
    fn ensure_current(&self) -> Result<()> {
        if self.cache.is_current() {
            return Ok(());
        }
        let caught_up = self.read_retrying(|c| self.cache.catch_up_if_stale(&mut c.client, &self.sql));
        caught_up.map_err(|e| if matches!(e, Error::Closed) { e } else { stale_error(self.max_staleness, e) })
    }

    /// Reads one key from the server, bypassing the cache.
    fn load(&self, id: &str) -> Result<Found> {
        self.read_retrying(|c| Ok(load(&mut c.client, &mut c.prepared, &self.sql, id)?.map(Arc::new)))
    }

    /// Runs a read, once more on another connection if the server had
    /// closed the first while it sat idle in the pool (after a restart or a
    /// failover): only the pool noticed nothing, the server is there. Reads
    /// only: a spend is never sent twice.
    fn read_retrying<T>(&self, read: impl Fn(&mut PgConn) -> Result<T>) -> Result<T> {
        let mut conn = self.conn()?;
        match read(&mut conn) {
            // A dead connection fails an empty query too; any other failure
            // (a timeout, a missing table) is the answer.
            Err(_) if conn.client.is_closed() || conn.client.simple_query("").is_err() => {
                drop(conn);
                let mut fresh = self.conn()?;
                read(&mut fresh)
            }
            done => done,
        }
    }

    fn lookup_row(&self, id: &str) -> Result<Lookup> {
        if self.stop.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        self.ensure_current()?;
        self.cache.get_or_load(id, || self.load(id))
    }
}

impl Backend for Postgres {
    fn transaction(&self, write: bool, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()> {
        let mut conn = self.conn()?;
        if !write {
            let PgConn { client, prepared } = &mut *conn;
            return f(&mut PgTx { c: client, prepared, sql: &self.sql, write: false });
        }
        let PgConn { client, prepared } = &mut *conn;
        let mut tx = client.transaction().map_err(pg_error)?;
        f(&mut PgTx { c: &mut tx, prepared, sql: &self.sql, write: true })?;
        tx.commit().map_err(pg_error)?;
        // This process's own change is seen by its next verify. If catching
        // up fails, the listener or the next verify will.
        let _ = self.cache.catch_up(client, &self.sql);
        Ok(())
    }

    fn lookup(&self, id: &str, _stale_ok: &dyn Fn(&crate::store::row::KeyRow) -> bool) -> Result<Lookup> {
        self.lookup_row(id)
    }

    fn lookup_cached(&self, id: &str, _stale_ok: &dyn Fn(&crate::store::row::KeyRow) -> bool) -> Option<Lookup> {
        // A closed store answers nothing from memory: `verify` then says CLOSED.
        if self.stop.load(Ordering::Acquire) || !self.cache.is_current() {
            return None;
        }
        self.cache.get(id)
    }

    fn spend(&self, kh: &Keyhouse, spend: Spend<'_>) -> Result<VerifyResult> {
        self.spend_cas(kh, spend)
    }

    fn forget(&self, id: &str) {
        self.cache.forget(id);
    }

    fn flush(&self, usage: &UsageBuffer) -> Result<()> {
        usage.flush(false, |batch| {
            let write = self.cache.usage_write_begins();
            let written = self.write_usage(batch);
            self.cache.usage_write_ends(write, written.is_ok().then_some(batch));
            written
        })
    }

    fn close(&self, usage: &UsageBuffer) -> Result<()> {
        if self.pool.read().unwrap_or_else(|e| e.into_inner()).is_none() {
            return Ok(());
        }
        // Closing drops the pool's clients, which drive their own runtime.
        check_not_async()?;
        self.flush(usage)?;
        self.stop.store(true, Ordering::Release);
        // Idle connections close when the last handle of the pool goes.
        self.pool.write().unwrap_or_else(|e| e.into_inner()).take();
        Ok(())
    }

    #[cfg(test)]
    fn cache_len(&self) -> Option<(usize, usize)> {
        Some(self.cache.len())
    }
}

impl Postgres {
    /// Adds a batch of pending usage to the stored counts: one statement.
    fn write_usage(&self, batch: &UsageBatch) -> Result<()> {
        let mut ids = Vec::with_capacity(batch.len());
        let mut counts = Vec::with_capacity(batch.len());
        let mut times = Vec::with_capacity(batch.len());
        for (id, p) in batch {
            ids.push(id.as_str());
            counts.push(i64::try_from(p.count).unwrap_or(i64::MAX));
            times.push(p.last_used_at);
        }
        let mut conn = self.conn()?;
        let PgConn { client, prepared } = &mut *conn;
        let params: [(&(dyn postgres::types::ToSql + Sync), Type); 3] =
            [(&ids, Type::TEXT_ARRAY), (&counts, Type::INT8_ARRAY), (&times, Type::INT8_ARRAY)];
        query(client, prepared, &self.sql.usage, &params)?;
        Ok(())
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // A client being dropped runs its own runtime to say goodbye, which
        // panics on a thread inside an async runtime (a store whose last
        // handle goes away on a tokio worker). There, the pool goes away on
        // a thread of its own.
        let pool = self.pool.get_mut().unwrap_or_else(|e| e.into_inner()).take();
        if pool.is_some() && check_not_async().is_err() {
            let _ = std::thread::Builder::new().name("keyhouse-close".into()).spawn(move || drop(pool));
        }
    }
}

/// Why `open` could not connect, with the URL's password hidden.
fn connect_error(url: &str, e: postgres::Error) -> Error {
    Error::Store(format!("cannot connect to {}: {}", redact_url(url), pg_error(e)))
}
