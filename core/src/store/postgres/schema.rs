//! The PostgreSQL schema and its migrations.
//!
//! Keyhouse's tables live in a schema of their own (config `schema`), so
//! they never meet the application's. `meta.version` holds the schema
//! version; migrations run in order, each once, in one transaction under a
//! transaction-level advisory lock, so ten app servers starting at once
//! migrate exactly once between them.
//!
//! Every change to `keys`, by Keyhouse or by anyone with `psql`, goes
//! through statement-level triggers that bump `epoch.n`, write the ids they
//! touched to `changes` under the new epoch, and `NOTIFY` the store's
//! channel. That is what lets every process invalidate its verify cache
//! (see `cache`). Spends and usage change only `key_state`, which has no
//! trigger: they never invalidate anything.

use postgres::Client;

use super::connect::pg_error;
use crate::error::{Error, Result};

/// Each entry moves the schema from version `i` to `i + 1`; `{s}` is the
/// quoted schema name and `{channel}` the notification channel. Append only.
const MIGRATIONS: &[&str] = &[
    // Version 1: the tables of SQLite's schema 3, plus the change log.
    r#"
    CREATE TABLE {s}.keys (
        seq                bigserial PRIMARY KEY,
        id                 text NOT NULL UNIQUE,
        prefix             text NOT NULL,
        hash               text NOT NULL,
        owner_id           text,
        name               text,
        permissions        text NOT NULL,
        metadata           text NOT NULL,
        enabled            boolean NOT NULL,
        created_at         bigint NOT NULL,
        updated_at         bigint NOT NULL,
        expires_at         bigint,
        revoked_at         bigint,
        refill_amount      bigint,
        refill_interval_ms bigint,
        rate_limit         bigint,
        rate_window_ms     bigint,
        limit_source       text
    );
    CREATE INDEX keys_by_owner ON {s}.keys (owner_id, created_at, id);
    CREATE INDEX keys_by_created ON {s}.keys (created_at, id);
    CREATE INDEX keys_by_expiry ON {s}.keys (expires_at) WHERE expires_at IS NOT NULL;
    -- version counts rewrites of the key's settings: a spend applies only
    -- while it is still the version the spend was decided on.
    CREATE TABLE {s}.key_state (
        seq            bigint PRIMARY KEY REFERENCES {s}.keys (seq) ON DELETE CASCADE,
        version        bigint NOT NULL DEFAULT 0,
        usage_count    bigint NOT NULL DEFAULT 0,
        last_used_at   bigint,
        remaining      bigint,
        last_refill_at bigint,
        rate_tat       bigint
    );
    CREATE TABLE {s}.epoch (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        n         bigint NOT NULL
    );
    INSERT INTO {s}.epoch VALUES (true, 0);
    -- A NULL key_id means "every key" (a TRUNCATE).
    CREATE TABLE {s}.changes (
        epoch  bigint NOT NULL,
        key_id text
    );
    CREATE INDEX changes_by_epoch ON {s}.changes (epoch);
    CREATE FUNCTION {s}.note_changes() RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE
        e bigint;
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM changed) THEN
            RETURN NULL;
        END IF;
        -- The row lock on epoch orders every change: a reader that sees
        -- epoch n sees every change up to n committed.
        UPDATE {s}.epoch SET n = n + 1 RETURNING n INTO e;
        INSERT INTO {s}.changes (epoch, key_id) SELECT e, id FROM changed;
        -- The last 10,000 epochs are kept; a process further behind drops its whole cache.
        DELETE FROM {s}.changes WHERE epoch <= e - 10000;
        PERFORM pg_notify('{channel}', e::text);
        RETURN NULL;
    END
    $fn$;
    -- Any rewrite of a key's row, by Keyhouse or by hand, moves its
    -- settings version on, so that no spend decided on the old row applies.
    CREATE FUNCTION {s}.bump_versions() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        UPDATE {s}.key_state SET version = version + 1 WHERE seq IN (SELECT seq FROM changed);
        RETURN NULL;
    END
    $fn$;
    CREATE FUNCTION {s}.note_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE
        e bigint;
    BEGIN
        UPDATE {s}.epoch SET n = n + 1 RETURNING n INTO e;
        INSERT INTO {s}.changes (epoch, key_id) VALUES (e, NULL);
        PERFORM pg_notify('{channel}', e::text);
        RETURN NULL;
    END
    $fn$;
    CREATE TRIGGER keys_inserted AFTER INSERT ON {s}.keys
        REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION {s}.note_changes();
    CREATE TRIGGER keys_updated_old AFTER UPDATE ON {s}.keys
        REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION {s}.note_changes();
    CREATE TRIGGER keys_updated_new AFTER UPDATE ON {s}.keys
        REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION {s}.note_changes();
    CREATE TRIGGER keys_updated_version AFTER UPDATE ON {s}.keys
        REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION {s}.bump_versions();
    CREATE TRIGGER keys_deleted AFTER DELETE ON {s}.keys
        REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION {s}.note_changes();
    CREATE TRIGGER keys_truncated AFTER TRUNCATE ON {s}.keys
        FOR EACH STATEMENT EXECUTE FUNCTION {s}.note_truncate();
    "#,
    // Version 2: SQLite's schema 4. Counts the times a key's limits were
    // set, so that a lease taken before is neither spent nor returned (see
    // `lease`). A constant default rewrites no rows.
    "ALTER TABLE {s}.key_state ADD COLUMN limit_epoch bigint NOT NULL DEFAULT 0;",
];

/// The PostgreSQL schema version this library writes.
pub const PG_SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// The channel a store's triggers notify, one per schema.
pub(crate) fn channel(schema: &str) -> String {
    format!("{schema}_keyhouse_changes")
}

/// Brings the schema up to date, or checks that it is (`migrate` false: for
/// app roles that may not run DDL, after `keyhouse migrate` has run).
pub(crate) fn migrate(client: &mut Client, schema: &str, run: bool) -> Result<()> {
    let found = version(client, schema)?;
    if found == PG_SCHEMA_VERSION {
        return Ok(());
    }
    if found > PG_SCHEMA_VERSION {
        return Err(Error::SchemaTooNew { found: found.into(), supported: PG_SCHEMA_VERSION.into() });
    }
    if !run {
        return Err(Error::Store(format!(
            "schema {schema} is at version {found}, this library needs {PG_SCHEMA_VERSION}: run `keyhouse migrate`"
        )));
    }
    // Every opener of this schema takes the same lock: the first migrates,
    // the others wait, then find the work done. A session lock, taken before
    // the transaction: a transaction that starts after the wait sees the
    // catalog as the first migrator left it (a lock taken inside one does
    // not refresh what that transaction already looked up).
    let lock = "hashtextextended('keyhouse migrate ' || $1, 0)";
    client.execute(&format!("SELECT pg_advisory_lock({lock})"), &[&schema]).map_err(pg_error)?;
    let migrated = migrate_locked(client, schema);
    // Released by the session's end if this fails.
    let _ = client.execute(&format!("SELECT pg_advisory_unlock({lock})"), &[&schema]);
    migrated
}

fn migrate_locked(client: &mut Client, schema: &str) -> Result<()> {
    let mut tx = client.transaction().map_err(pg_error)?;
    let found = version(&mut tx, schema)?;
    if found > PG_SCHEMA_VERSION {
        return Err(Error::SchemaTooNew { found: found.into(), supported: PG_SCHEMA_VERSION.into() });
    }
    if found == PG_SCHEMA_VERSION {
        return Ok(());
    }
    let s = format!("\"{schema}\"");
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {s}; \
         CREATE TABLE IF NOT EXISTS {s}.meta (singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton), \
         version integer NOT NULL); \
         INSERT INTO {s}.meta VALUES (true, 0) ON CONFLICT DO NOTHING;"
    ))
    .map_err(pg_error)?;
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let sql = sql.replace("{s}", &s).replace("{channel}", &channel(schema));
        tx.batch_execute(&sql).map_err(|e| {
            Error::Store(format!(
                "migrating schema {schema} from version {from} to {} failed, nothing was changed: {}",
                from + 1,
                pg_error(e)
            ))
        })?;
    }
    tx.execute(&format!("UPDATE {s}.meta SET version = $1"), &[&PG_SCHEMA_VERSION]).map_err(pg_error)?;
    tx.commit().map_err(pg_error)
}

/// The schema's version: 0 when it does not exist yet.
fn version(client: &mut impl postgres::GenericClient, schema: &str) -> Result<i32> {
    let table = format!("\"{schema}\".meta");
    let exists: bool = client.query_one("SELECT to_regclass($1) IS NOT NULL", &[&table]).map_err(pg_error)?.get(0);
    if !exists {
        return Ok(0);
    }
    let row = client.query_opt(&format!("SELECT version FROM {table}"), &[]).map_err(pg_error)?;
    Ok(row.map_or(0, |r| r.get(0)))
}
