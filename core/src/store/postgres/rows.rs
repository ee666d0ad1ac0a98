//! The SQL of one PostgreSQL transaction, and the mapping of its rows.

use postgres::types::{ToSql, Type};
use postgres::{GenericClient, Row};

use super::connect::pg_error;
use super::pool::{query, Prepared};
use super::Sql;
use crate::error::Result;
use crate::model::ListOptions;
use crate::store::backend::Tx;
use crate::store::row::{to_json, KeyRow, StoredKey};
use crate::time::duration_millis;
use crate::Timestamp;

/// Every column of a key, in `from_row` order; `{s}` is the schema.
pub(super) const SELECT_KEYS: &str = "SELECT k.id, k.prefix, k.hash, k.owner_id, k.name, k.permissions, k.metadata, \
    k.enabled, k.created_at, k.updated_at, k.expires_at, k.revoked_at, s.last_used_at, s.usage_count, s.remaining, \
    k.refill_amount, k.refill_interval_ms, s.last_refill_at, k.rate_limit, k.rate_window_ms, s.rate_tat, \
    k.limit_source, k.seq, s.version, s.limit_epoch FROM {s}.keys k";

/// Reads a key; a row whose state row is missing (deleted by hand) is a STORE_ERROR.
pub(super) fn from_row(r: &Row) -> Result<KeyRow> {
    let get = |i: usize| -> Result<Option<i64>> { r.try_get(i).map_err(pg_error) };
    let usage_count: Option<i64> = get(13)?;
    let version: Option<i64> = get(23)?;
    let limit_epoch: Option<i64> = get(24)?;
    let (Some(usage_count), Some(version), Some(limit_epoch)) = (usage_count, version, limit_epoch) else {
        return Err(crate::Error::Store("a key has no state row: the row was not written by Keyhouse".into()));
    };
    let text = |i: usize| -> Result<String> { r.try_get(i).map_err(pg_error) };
    let opt_text = |i: usize| -> Result<Option<String>> { r.try_get(i).map_err(pg_error) };
    let permissions: &str = r.try_get(5).map_err(pg_error)?;
    let metadata: &str = r.try_get(6).map_err(pg_error)?;
    KeyRow::from_stored(StoredKey {
        id: text(0)?,
        prefix: text(1)?,
        hash: text(2)?,
        owner_id: opt_text(3)?,
        name: opt_text(4)?,
        permissions,
        metadata,
        enabled: r.try_get(7).map_err(pg_error)?,
        created_at: r.try_get(8).map_err(pg_error)?,
        updated_at: r.try_get(9).map_err(pg_error)?,
        expires_at: get(10)?,
        revoked_at: get(11)?,
        last_used_at: get(12)?,
        usage_count,
        remaining: get(14)?,
        refill_amount: get(15)?,
        refill_interval_ms: get(16)?,
        last_refill_at: get(17)?,
        rate_limit: get(18)?,
        rate_window_ms: get(19)?,
        rate_tat: get(20)?,
        limit_source: opt_text(21)?,
        seq: r.try_get(22).map_err(pg_error)?,
        version,
        limit_epoch,
    })
}

/// Reads one key by id, outside any transaction: one round trip.
pub(super) fn load(c: &mut impl GenericClient, prepared: &mut Prepared, sql: &Sql, id: &str) -> Result<Option<KeyRow>> {
    query(c, prepared, &sql.load, &[(&id, Type::TEXT)])?.first().map(from_row).transpose()
}

/// A transaction (or, for reads, a plain connection) of the PostgreSQL
/// backend. In a write transaction `load` takes row locks (`FOR UPDATE`) on
/// both of the key's rows, so a read-modify-write cannot interleave with
/// another, nor with a spend.
pub(super) struct PgTx<'a, C: GenericClient> {
    pub(super) c: &'a mut C,
    pub(super) prepared: &'a mut Prepared,
    pub(super) sql: &'a Sql,
    pub(super) write: bool,
}

impl<C: GenericClient> PgTx<'_, C> {
    /// Runs a statement; how many rows it returned.
    fn exec(&mut self, sql: &str, params: &[(&(dyn ToSql + Sync), Type)]) -> Result<u64> {
        Ok(query(self.c, self.prepared, sql, params)?.len() as u64)
    }

    fn write_state(&mut self, row: &KeyRow) -> Result<()> {
        let i = &row.info;
        let usage = i64::try_from(i.usage_count).unwrap_or(i64::MAX);
        let last_used = i.last_used_at.map(Timestamp::as_millis);
        let last_refill = i.last_refill_at.map(Timestamp::as_millis);
        let sql = self.sql;
        self.exec(
            &sql.update_state,
            &[
                (&row.seq, Type::INT8),
                (&usage, Type::INT8),
                (&last_used, Type::INT8),
                (&i.remaining, Type::INT8),
                (&last_refill, Type::INT8),
                (&row.rate_tat, Type::INT8),
                (&row.limit_epoch, Type::INT8),
            ],
        )?;
        Ok(())
    }

    /// Rewrites the `keys` row; false if there is no such key.
    fn update_key(&mut self, row: &KeyRow) -> Result<bool> {
        let i = &row.info;
        let ms = |t: Option<Timestamp>| t.map(Timestamp::as_millis);
        let (permissions, metadata) = (to_json(&i.permissions)?, i.metadata.as_json());
        let hash = row.hash.text();
        let (created, updated) = (i.created_at.as_millis(), i.updated_at.as_millis());
        let (expires, revoked) = (ms(i.expires_at), ms(i.revoked_at));
        let refill_amount = i.refill.map(|r| r.amount);
        let refill_ms = i.refill.map(|r| duration_millis(r.interval));
        let rate = i.rate_limit.map(|r| i64::from(r.limit));
        let window = i.rate_limit.map(|r| duration_millis(r.window));
        let sql = self.sql;
        let n = self.exec(
            &sql.update_key,
            &[
                (&i.id, Type::TEXT),
                (&i.prefix, Type::TEXT),
                (&hash, Type::TEXT),
                (&i.owner_id, Type::TEXT),
                (&i.name, Type::TEXT),
                (&permissions, Type::TEXT),
                (&metadata, Type::TEXT),
                (&i.enabled, Type::BOOL),
                (&created, Type::INT8),
                (&updated, Type::INT8),
                (&expires, Type::INT8),
                (&revoked, Type::INT8),
                (&refill_amount, Type::INT8),
                (&refill_ms, Type::INT8),
                (&rate, Type::INT8),
                (&window, Type::INT8),
                (&row.limit_source, Type::TEXT),
            ],
        )?;
        Ok(n > 0)
    }
}

impl<C: GenericClient> Tx for PgTx<'_, C> {
    fn load(&mut self, id: &str) -> Result<Option<KeyRow>> {
        if !self.write {
            return load(self.c, self.prepared, self.sql, id);
        }
        let sql = self.sql;
        query(self.c, self.prepared, &sql.load_for_update, &[(&id, Type::TEXT)])?.first().map(from_row).transpose()
    }

    /// One statement for the whole batch: the `keys` rows and their
    /// `key_state` rows go in together, and the change trigger runs once.
    fn insert_many(&mut self, rows: &[&KeyRow], skip_existing: bool) -> Result<u64> {
        let ms = |t: Option<Timestamp>| t.map(Timestamp::as_millis);
        let mut c = Columns::default();
        for row in rows {
            let i = &row.info;
            c.id.push(i.id.as_str());
            c.prefix.push(i.prefix.as_str());
            c.hash.push(row.hash.text());
            c.owner_id.push(i.owner_id.as_deref());
            c.name.push(i.name.as_deref());
            c.permissions.push(to_json(&i.permissions)?);
            c.metadata.push(i.metadata.as_json());
            c.enabled.push(i.enabled);
            c.created_at.push(i.created_at.as_millis());
            c.updated_at.push(i.updated_at.as_millis());
            c.expires_at.push(ms(i.expires_at));
            c.revoked_at.push(ms(i.revoked_at));
            c.refill_amount.push(i.refill.map(|r| r.amount));
            c.refill_interval_ms.push(i.refill.map(|r| duration_millis(r.interval)));
            c.rate_limit.push(i.rate_limit.map(|r| i64::from(r.limit)));
            c.rate_window_ms.push(i.rate_limit.map(|r| duration_millis(r.window)));
            c.limit_source.push(row.limit_source.as_deref());
            c.usage_count.push(i64::try_from(i.usage_count).unwrap_or(i64::MAX));
            c.last_used_at.push(ms(i.last_used_at));
            c.remaining.push(i.remaining);
            c.last_refill_at.push(ms(i.last_refill_at));
            c.rate_tat.push(row.rate_tat);
        }
        let (text, bigint) = (Type::TEXT_ARRAY, Type::INT8_ARRAY);
        let sql = self.sql;
        self.exec(
            if skip_existing { &sql.insert_new } else { &sql.insert },
            &[
                (&c.id, text.clone()),
                (&c.prefix, text.clone()),
                (&c.hash, text.clone()),
                (&c.owner_id, text.clone()),
                (&c.name, text.clone()),
                (&c.permissions, text.clone()),
                (&c.metadata, text.clone()),
                (&c.enabled, Type::BOOL_ARRAY),
                (&c.created_at, bigint.clone()),
                (&c.updated_at, bigint.clone()),
                (&c.expires_at, bigint.clone()),
                (&c.revoked_at, bigint.clone()),
                (&c.refill_amount, bigint.clone()),
                (&c.refill_interval_ms, bigint.clone()),
                (&c.rate_limit, bigint.clone()),
                (&c.rate_window_ms, bigint.clone()),
                (&c.limit_source, text),
                (&c.usage_count, bigint.clone()),
                (&c.last_used_at, bigint.clone()),
                (&c.remaining, bigint.clone()),
                (&c.last_refill_at, bigint.clone()),
                (&c.rate_tat, bigint),
            ],
        )
    }

    fn update(&mut self, row: &KeyRow) -> Result<()> {
        if !self.update_key(row)? {
            return Err(crate::Error::NotFound(row.info.id.clone()));
        }
        // The `keys` trigger has moved the settings version on: spends
        // decided on the old settings no longer apply.
        self.write_state(row)
    }

    fn save_state(&mut self, row: &KeyRow) -> Result<()> {
        self.write_state(row)
    }

    fn save_usage(&mut self, row: &KeyRow) -> Result<()> {
        let usage = i64::try_from(row.info.usage_count).unwrap_or(i64::MAX);
        let last_used = row.info.last_used_at.map(Timestamp::as_millis);
        let sql = self.sql;
        self.exec(&sql.save_usage, &[(&row.seq, Type::INT8), (&usage, Type::INT8), (&last_used, Type::INT8)])?;
        Ok(())
    }

    fn rehash(&mut self, id: &str, hash: &str) -> Result<()> {
        let sql = self.sql;
        self.exec(&sql.rehash, &[(&id, Type::TEXT), (&hash, Type::TEXT)])?;
        Ok(())
    }

    /// In a write transaction, first takes a transaction-level advisory
    /// lock on the owner: two app servers creating keys for one owner at
    /// once then count one after the other, so `max_keys_per_owner` holds
    /// (SQLite's single writer gives the same for free).
    fn active_keys(&mut self, owner: &str, now: Timestamp) -> Result<u32> {
        let sql = self.sql;
        if self.write {
            query(self.c, self.prepared, &sql.lock_owner, &[(&owner, Type::TEXT)])?;
        }
        let now = now.as_millis();
        let rows = query(self.c, self.prepared, &sql.active_keys, &[(&owner, Type::TEXT), (&now, Type::INT8)])?;
        let n: i64 = rows.first().map_or(Ok(0), |r| r.try_get(0)).map_err(pg_error)?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    fn delete(&mut self, id: &str) -> Result<bool> {
        let sql = self.sql;
        Ok(self.exec(&sql.delete, &[(&id, Type::TEXT)])? > 0)
    }

    fn purge_expired(&mut self, now: Timestamp) -> Result<u64> {
        let now = now.as_millis();
        let sql = self.sql;
        self.exec(&sql.purge_expired, &[(&now, Type::INT8)])
    }

    fn relink_limit_source(&mut self, old: &str, new: &str) -> Result<()> {
        let sql = self.sql;
        self.exec(&sql.relink, &[(&old, Type::TEXT), (&new, Type::TEXT)])?;
        Ok(())
    }

    fn list(&mut self, options: &ListOptions, after: Option<(i64, String)>) -> Result<Vec<KeyRow>> {
        let limit = i64::from(options.limit) + 1;
        let (after_t, after_id) = match &after {
            Some((t, id)) => (Some(*t), Some(id.as_str())),
            None => (None, None),
        };
        let sql = self.sql;
        let rows = query(
            self.c,
            self.prepared,
            &sql.list,
            &[
                (&options.owner_id, Type::TEXT),
                (&options.include_revoked, Type::BOOL),
                (&after_t, Type::INT8),
                (&after_id, Type::TEXT),
                (&limit, Type::INT8),
            ],
        )?;
        rows.iter().map(from_row).collect()
    }
}

/// A batch of keys, column by column, for `insert_many`.
#[derive(Default)]
struct Columns<'a> {
    id: Vec<&'a str>,
    prefix: Vec<&'a str>,
    hash: Vec<std::borrow::Cow<'a, str>>,
    owner_id: Vec<Option<&'a str>>,
    name: Vec<Option<&'a str>>,
    permissions: Vec<String>,
    metadata: Vec<&'a str>,
    enabled: Vec<bool>,
    created_at: Vec<i64>,
    updated_at: Vec<i64>,
    expires_at: Vec<Option<i64>>,
    revoked_at: Vec<Option<i64>>,
    refill_amount: Vec<Option<i64>>,
    refill_interval_ms: Vec<Option<i64>>,
    rate_limit: Vec<Option<i64>>,
    rate_window_ms: Vec<Option<i64>>,
    limit_source: Vec<Option<&'a str>>,
    usage_count: Vec<i64>,
    last_used_at: Vec<Option<i64>>,
    remaining: Vec<Option<i64>>,
    last_refill_at: Vec<Option<i64>>,
    rate_tat: Vec<Option<i64>>,
}
