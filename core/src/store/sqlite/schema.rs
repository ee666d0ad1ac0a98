//! The SQLite schema and its migrations.
//!
//! `PRAGMA user_version` holds the schema version. Migrations run in order,
//! each once, inside one IMMEDIATE transaction, so two processes opening a new
//! file at the same moment cannot both migrate it.

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{Error, Result};

/// Each entry moves the schema from version `i` to `i + 1`. Append only.
const MIGRATIONS: &[&str] = &[
    // Version 1. The hash is an ordinary column, never a key: changing the
    // algorithm or pepper rewrites it in place.
    "CREATE TABLE keys (
        seq                INTEGER PRIMARY KEY,
        id                 TEXT NOT NULL UNIQUE,
        prefix             TEXT NOT NULL,
        hash               TEXT NOT NULL,
        owner_id           TEXT,
        name               TEXT,
        permissions        TEXT NOT NULL,
        metadata           TEXT NOT NULL,
        enabled            INTEGER NOT NULL,
        created_at         INTEGER NOT NULL,
        updated_at         INTEGER NOT NULL,
        expires_at         INTEGER,
        revoked_at         INTEGER,
        last_used_at       INTEGER,
        usage_count        INTEGER NOT NULL DEFAULT 0,
        remaining          INTEGER,
        refill_amount      INTEGER,
        refill_interval_ms INTEGER,
        last_refill_at     INTEGER,
        rate_limit         INTEGER,
        rate_window_ms     INTEGER,
        rate_tat           INTEGER
    );
    CREATE INDEX keys_by_owner ON keys (owner_id, created_at, id);
    CREATE INDEX keys_by_created ON keys (created_at, id);
    CREATE INDEX keys_by_expiry ON keys (expires_at) WHERE expires_at IS NOT NULL;",
    // Version 2. A key in its grace period after a roll spends the credits
    // and rate limit of the key that replaced it (`Keyhouse::roll`).
    "ALTER TABLE keys ADD COLUMN limit_source TEXT;",
    // Version 3. What a verify changes moves to a narrow table of its own
    // (see `rows`): a usage flush or a spend then dirties one small row per
    // key, dozens to a page, instead of a wide row and its indexes. The
    // trigger keeps the two together whoever deletes a key (`purge_expired`,
    // or the sqlite3 shell).
    "CREATE TABLE key_state (
        seq            INTEGER PRIMARY KEY,
        usage_count    INTEGER NOT NULL DEFAULT 0,
        last_used_at   INTEGER,
        remaining      INTEGER,
        last_refill_at INTEGER,
        rate_tat       INTEGER
    );
    INSERT INTO key_state SELECT seq, usage_count, last_used_at, remaining, last_refill_at, rate_tat FROM keys;
    ALTER TABLE keys DROP COLUMN usage_count;
    ALTER TABLE keys DROP COLUMN last_used_at;
    ALTER TABLE keys DROP COLUMN remaining;
    ALTER TABLE keys DROP COLUMN last_refill_at;
    ALTER TABLE keys DROP COLUMN rate_tat;
    CREATE TRIGGER keys_delete_state AFTER DELETE ON keys BEGIN
        DELETE FROM key_state WHERE seq = old.seq;
    END;",
    // Version 4. Counts the times a key's limits were set (credits, refill,
    // rate limit, or a roll): a lease taken before is neither spent nor
    // returned after (see `lease`). Adding a column with a constant default
    // rewrites nothing.
    "ALTER TABLE key_state ADD COLUMN limit_epoch INTEGER NOT NULL DEFAULT 0;",
    // Version 5. A log of the ids of changed keys, so that a process's verify
    // cache drops only the keys that changed, not all of them, when another
    // process commits (see `cache`). Triggers write it, so changes made
    // with the sqlite3 shell are logged too; `random()` tags each entry, so
    // that a log rebuilt from a backup, or emptied by hand, is told apart
    // from the one a process saw. Only the newest 10,000 entries are kept;
    // a process further behind drops its whole cache. A new key changes no
    // cached row, so a plain insert is not logged (the cache forgets the
    // ids it found unknown at every commit instead). An insert that
    // replaces a row (another tool's REPLACE, colliding on `id` or `seq`)
    // deletes it without firing delete triggers (SQLite fires them for
    // REPLACE only with recursive_triggers on), so the keys an insert, or a
    // row's new `seq`, would displace are logged first.
    // Spends and usage change only key_state and are not logged (spends are
    // decided on a fresh read in a write transaction), except what decides
    // the path a verify takes: credits turned on or off, and a new limit
    // epoch (which ends leases), as another tool might write them; and a
    // state row deleted by hand. The first entry (id '') marks the log's
    // start, so that it is never empty. The cache checks that all these
    // triggers exist whenever the schema changes (see `rows::read_log`).
    "CREATE TABLE key_changes (
        n   INTEGER PRIMARY KEY,
        id  TEXT NOT NULL,
        tag INTEGER NOT NULL
    );
    INSERT INTO key_changes (id, tag) VALUES ('', random());
    CREATE TRIGGER keys_log_replace BEFORE INSERT ON keys BEGIN
        INSERT INTO key_changes (id, tag) SELECT id, random() FROM keys WHERE id = new.id;
        INSERT INTO key_changes (id, tag) SELECT id, random() FROM keys WHERE seq = new.seq AND id IS NOT new.id;
    END;
    CREATE TRIGGER keys_log_update AFTER UPDATE ON keys BEGIN
        INSERT INTO key_changes (id, tag) VALUES (old.id, random());
        INSERT INTO key_changes (id, tag) SELECT new.id, random() WHERE new.id IS NOT old.id;
        DELETE FROM key_changes WHERE n <= (SELECT max(n) FROM key_changes) - 10000;
    END;
    CREATE TRIGGER keys_log_delete AFTER DELETE ON keys BEGIN
        INSERT INTO key_changes (id, tag) VALUES (old.id, random());
        DELETE FROM key_changes WHERE n <= (SELECT max(n) FROM key_changes) - 10000;
    END;
    CREATE TRIGGER keys_log_reseq_update BEFORE UPDATE OF seq ON keys BEGIN
        INSERT INTO key_changes (id, tag) SELECT id, random() FROM keys WHERE seq = new.seq AND seq IS NOT old.seq;
    END;
    CREATE TRIGGER key_state_log_update AFTER UPDATE OF remaining, limit_epoch ON key_state
        WHEN (old.remaining IS NULL) IS NOT (new.remaining IS NULL) OR old.limit_epoch IS NOT new.limit_epoch
    BEGIN
        INSERT INTO key_changes (id, tag) SELECT id, random() FROM keys WHERE seq = new.seq;
    END;
    CREATE TRIGGER key_state_log_delete AFTER DELETE ON key_state BEGIN
        INSERT INTO key_changes (id, tag) SELECT id, random() FROM keys WHERE seq = old.seq;
    END;",
];

/// The schema version this library writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Sets the per-connection pragmas.
pub(crate) fn configure(conn: &Connection, busy_timeout: std::time::Duration, writer: bool) -> Result<()> {
    conn.busy_timeout(busy_timeout)?;
    // WAL lets readers run beside the writer; NORMAL sync is durable across
    // application crashes and only risks the last commits on power loss.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // Key ids are random, so inserts land on random pages: a page cache that
    // holds the hot part of the table saves a read per insert. SQLite
    // allocates it lazily, so small stores never pay for it.
    conn.pragma_update(None, "cache_size", if writer { -65_536 } else { -16_384 })?;
    if !writer {
        conn.pragma_update(None, "query_only", true)?;
    }
    Ok(())
}

/// How long `open` waits for another process that is migrating the same
/// file: a migration rewrites every key (schema 3 took ~8 s for 1M keys).
const MIGRATION_WAIT: std::time::Duration = std::time::Duration::from_secs(600);

/// Switches a file database to WAL and brings its schema up to date, then
/// restores `busy_timeout`.
pub(crate) fn migrate(conn: &mut Connection, file_backed: bool, busy_timeout: std::time::Duration) -> Result<()> {
    if file_backed {
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Store(format!("could not switch the database to WAL (got {mode})")));
        }
    }
    // Up to date (the common case): no write lock, so opening never waits
    // behind another process's writes.
    if conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? == SCHEMA_VERSION {
        return Ok(());
    }
    conn.busy_timeout(MIGRATION_WAIT)?;
    let migrated = migrate_locked(conn);
    conn.busy_timeout(busy_timeout)?;
    migrated
}

/// Runs the migrations the file still needs, under SQLite's write lock, so
/// that of many processes opening an old file at once exactly one migrates.
fn migrate_locked(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew { found, supported: SCHEMA_VERSION });
    }
    if found < 0 {
        return Err(Error::Store(format!("database has a negative schema version {found}")));
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(sql).map_err(|e| {
            Error::Store(format!(
                "migrating the schema from version {from} to {} failed, nothing was changed: {e} \
                 (an index, view or trigger added to the keys table by hand can block it)",
                from + 1
            ))
        })?;
    }
    if found < SCHEMA_VERSION {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    tx.commit()?;
    Ok(())
}
