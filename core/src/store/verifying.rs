//! The verify pipeline of [`Keyhouse`]: lookup, hash compare, status, limits.

use std::sync::Arc;

use super::backend::Tx;
use super::lease::{Lease, Renewal};
use super::prefetch::{prefetch, prefetch_start};
use super::row::KeyRow;
use super::row_info::RowInfo;
use super::usage::UsageCell;
use super::Keyhouse;
use crate::error::{Error, Result};
use crate::format::parse_parts;
use crate::hashing::{hash_key_unchecked, Pepper};
use crate::model::{KeyInfo, Outcome, VerifyResult};
use crate::permissions::validate_required;
use crate::verify::{apply_refill, consume, has_limits, peek_rate_limit, record_use, status_outcome, Limits};
use crate::Timestamp;

impl Keyhouse {
    /// Verifies a key: format and checksum, lookup, constant-time hash
    /// compare, then REVOKED, DISABLED, EXPIRED, INSUFFICIENT_PERMISSIONS,
    /// RATE_LIMITED and USAGE_EXCEEDED, in that order. A key with credits
    /// pays `cost` of them.
    ///
    /// A bad key is an outcome, not an error; errors mean misuse (a bad
    /// permission string) or a failing store. Nothing a client sends can
    /// make verify fail: an unknown id, a wrong secret and a key whose hash
    /// names a pepper no longer configured are all NOT_FOUND, and cost the
    /// same (each hashes the key once).
    pub fn verify(&self, key: &str, required_permissions: &[&str], cost: u32) -> Result<VerifyResult> {
        self.verify_inner(key, required_permissions, cost, true)?
            .ok_or_else(|| Error::Store("verify stopped short of an answer".into()))
    }

    /// [`Keyhouse::verify`] when it can answer from memory: `None` when the
    /// answer needs the database (a key not cached, or not known to be
    /// current, a key with credits or a rate limit to spend, a hash to
    /// upgrade, or usage due to be written). For async servers: answer
    /// inline when this says something, and run `verify` off the event
    /// loop when it does not. It never waits on a lock or the network.
    pub fn verify_cached(&self, key: &str, required_permissions: &[&str], cost: u32) -> Result<Option<VerifyResult>> {
        self.verify_inner(key, required_permissions, cost, false)
    }

    /// The pipeline of both: with `io` false, every step that would touch
    /// the database returns `None` instead.
    fn verify_inner(
        &self,
        key: &str,
        required_permissions: &[&str],
        cost: u32,
        io: bool,
    ) -> Result<Option<VerifyResult>> {
        validate_required(required_permissions)?;
        let parts = match parse_parts(key) {
            Ok(parts) => parts,
            Err(reason) => {
                let result = VerifyResult { malformed_reason: Some(reason), ..VerifyResult::bare(Outcome::Malformed) };
                return Ok(Some(result));
            }
        };
        let now = self.now();
        let lookup = |stale_ok: &dyn Fn(&KeyRow) -> bool| {
            if io {
                self.db.lookup(parts.id, stale_ok).map(Some)
            } else {
                Ok(self.db.lookup_cached(parts.id, stale_ok))
            }
        };
        let Some(mut lookup_found) = lookup(&|row| {
            // Only a key that would go on to spend in a write transaction
            // needs no fresh read here.
            self.spends_in_store(row) && status_outcome(&row.info, now, required_permissions).is_none()
        })?
        else {
            return Ok(None);
        };
        if let Some(row) = &lookup_found.found {
            // Every line of the row at once, rather than each when a field
            // on it is first read; then the usage cell, which a verify
            // counts in at its end (finding it waits for the row's line
            // that points to it), to load while the key is hashed below.
            prefetch(&**row);
            prefetch(&**row.usage.cell());
        }
        let mut hashed = false;
        let new_hash = loop {
            let Some(row) = lookup_found.found.clone() else {
                if !hashed {
                    self.hash_for_timing(key);
                }
                return Ok(Some(VerifyResult::bare(Outcome::NotFound)));
            };
            match self.authenticate(key, parts.prefix, &row)? {
                Some(new_hash) => break new_hash,
                None if lookup_found.fresh => return Ok(Some(VerifyResult::bare(Outcome::NotFound))),
                // A stale row's hash may predate a rehash whose old pepper
                // has since been retired: only a fresh row can say no. The
                // key was hashed once already, as for any wrong secret, so
                // a second hash is spent only on a changed row.
                None => {
                    hashed = true;
                    let Some(again) = lookup(&|_| false)? else { return Ok(None) };
                    lookup_found = again;
                    if lookup_found.found.as_ref().is_some_and(|fresh| same_secret(fresh, &row)) {
                        return Ok(Some(VerifyResult::bare(Outcome::NotFound)));
                    }
                }
            }
        };
        let fresh = lookup_found.fresh;
        let Some(shared) = lookup_found.found else { return Err(Error::Store("a proved key has no row".into())) };
        if self.spends_in_store(&shared)
            && !(fresh && status_outcome(&shared.info, now, required_permissions).is_some())
        {
            if !io {
                return Ok(None);
            }
            // Credits and rate limits are decided again by the backend on
            // fresh state (SQLite: in a write transaction; PostgreSQL: in
            // one statement that locks the row), so they hold exactly
            // across threads and processes. The row above, fresh or not,
            // only proved the secret and chose this path.
            let spend = Spend { key, prefix: parts.prefix, proved: &shared, new_hash, required_permissions, cost, now };
            if let (Some(book), Some(source)) = (&self.leases, &shared.limit_source) {
                // Leased mode, in a roll's grace period: spend exactly, on
                // the new key's balance with this store's leases on it given back.
                return self.spend_giving_back(book, source, spend).map(Some);
            }
            return self.db.spend(self, spend).map(Some);
        }
        if let Some(outcome) = status_outcome(&shared.info, now, required_permissions) {
            return Ok(Some(self.refused(Arc::unwrap_or_clone(shared), outcome, now)));
        }
        if !io && (new_hash.is_some() || self.usage.is_due(now)) {
            return Ok(None);
        }
        if let (Some(book), true) = (&self.leases, has_limits(&shared)) {
            let asked = Asked { key, prefix: parts.prefix, required_permissions, cost };
            return self.verify_leased(book, Arc::unwrap_or_clone(shared), new_hash, asked, now, io);
        }
        // The caller gets the info alone: copying the rest of a cached row
        // (its hash, `limit_source`) would only add work per verify. A row
        // that is shared is a cache's (or was, until lately), and counts
        // its uses in its cell.
        let shared_seq = shared.seq;
        match Arc::try_unwrap(shared) {
            Ok(row) => self.admit(row.info.into_info(), shared_seq, None, new_hash.as_deref(), now, io),
            Err(shared) => {
                let info = info_as_proved(&shared.info, parts.id, parts.prefix);
                self.admit(info, shared_seq, Some(shared.usage.cell()), new_hash.as_deref(), now, io)
            }
        }
        .map(Some)
    }

    /// Whether a verify of this key decides in a write on the store: a key
    /// with limits in exact mode, and in leased mode one whose limits live
    /// on another key (a roll's grace period).
    fn spends_in_store(&self, row: &KeyRow) -> bool {
        has_limits(row) && (self.leases.is_none() || row.limit_source.is_some())
    }

    /// VALID for a key whose limits, if any, are settled: stores the new
    /// hash if there is one, and counts the use in the usage buffer (or in
    /// `cached`, the cell of the cached row `info` was read from), whose
    /// flush is handed to the flush thread when due and `io` allows.
    pub(crate) fn admit(
        &self,
        mut info: KeyInfo,
        seq: i64,
        cached: Option<&Arc<UsageCell>>,
        new_hash: Option<&str>,
        now: Timestamp,
        io: bool,
    ) -> Result<VerifyResult> {
        if let Some(hash) = new_hash {
            self.db.write(|tx| tx.rehash(&info.id, hash))?;
        }
        let first = self.usage.record(&mut info, seq, now, cached);
        if let Some(flusher) = &self.flusher {
            // `verify_cached` never waits: it leaves the start to the next verify.
            flusher.start_if((first, io), self.flushed());
        }
        if io {
            self.flush_if_due(now);
        }
        Ok(VerifyResult { key: Some(info), ..VerifyResult::bare(Outcome::Valid) })
    }

    /// Whether `key` is the key `row` holds the hash of; if so, the hash to
    /// store instead when the configured pepper has changed since.
    #[allow(clippy::option_option)]
    pub(crate) fn authenticate(&self, key: &str, prefix: &str, row: &KeyRow) -> Result<Option<Option<String>>> {
        let stored = row.hash.stored().map_err(|_| Error::Store(format!("key {} has a corrupt hash", row.info.id)))?;
        // The row's line that holds its hash has arrived, and so, most
        // likely, its others (see `verify_inner`): start loading the text a
        // result copies out of the row, to arrive while the key is hashed.
        let info = &row.info;
        for text in
            [info.owner_id.as_deref(), info.name.as_deref(), Some(info.metadata.as_json())].into_iter().flatten()
        {
            prefetch_start(text.as_bytes());
        }
        prefetch_start(&info.permissions);
        // A hash made with a pepper that is no longer configured cannot
        // match any key this store accepts; that is the client's NOT_FOUND,
        // not an error a forged key could raise.
        let matched = stored.matches(key, &self.peppers).unwrap_or_else(|_| {
            // `matches` refuses before hashing.
            self.hash_for_timing(key);
            false
        });
        if row.prefix() != prefix || !matched {
            return Ok(None);
        }
        let current = self.config.pepper.as_ref();
        Ok(Some(
            (self.config.rehash_on_verify && stored.pepper_id() != current.map(Pepper::id))
                .then(|| hash_key_unchecked(key, current)),
        ))
    }

    /// The write-transaction half of verify, for keys with limits, on a
    /// backend whose write transactions lock what they read.
    ///
    /// With a `renewal` (leased mode), first gives back its leases, then,
    /// if the request is admitted, reserves a new lease from what is left;
    /// if refused, remembers the refusal in an empty lease.
    pub(crate) fn consume_in(
        &self,
        tx: &mut dyn Tx,
        spend: Spend<'_>,
        renewal: Option<&mut Renewal>,
    ) -> Result<VerifyResult> {
        let Spend { key, prefix, proved, mut new_hash, required_permissions, cost, now } = spend;
        let id = proved.info.id.as_str();
        // Deleted since the secret was checked.
        let Some(mut row) = tx.load(id)? else {
            self.db.forget(id);
            return Ok(VerifyResult::bare(Outcome::NotFound));
        };
        // This store's leases on the key go back first, whatever the answer.
        let mut gave_back = false;
        let mut renewal = renewal;
        if let (Some(r), None) = (renewal.as_deref_mut(), &row.limit_source) {
            gave_back = r.give_back_into(&mut row, now);
        }
        if !same_secret(&row, proved) {
            // Re-hashed since the cached copy was read: prove the secret
            // again, and decide any rehash from the stored hash, not the old one.
            self.db.forget(id);
            match self.authenticate(key, prefix, &row)? {
                Some(hash) => new_hash = hash,
                None => {
                    if gave_back {
                        tx.save_state(&row)?;
                    }
                    return Ok(VerifyResult::bare(Outcome::NotFound));
                }
            }
        }
        if let Some(outcome) = status_outcome(&row.info, now, required_permissions) {
            if gave_back {
                tx.save_state(&row)?;
            }
            // Refused keys are answered from a fresh cached row next time, without a write.
            self.db.forget(id);
            return Ok(self.refused(row, outcome, now));
        }
        if !has_limits(&row) {
            // Its limits were removed since it was cached: let the next
            // verify read it afresh and take the path without a write.
            self.db.forget(id);
        }
        // During a roll's grace period the limits live on the new key.
        let mut source = match &row.limit_source {
            Some(src) => tx.load(src)?,
            None => None,
        };
        let in_grace = source.is_some();
        let holder = source.as_mut().unwrap_or(&mut row);
        let mut source_changed = false;
        if let (Some(r), true) = (renewal.as_deref_mut(), in_grace) {
            // In a grace period, the leases returned are on the new key.
            source_changed = r.give_back_into(holder, now);
        }
        let decision = consume(holder, now, cost);
        // A key in its grace period spends exactly: no lease is taken on
        // another key's limits.
        let renewal = renewal.filter(|_| source.is_none());
        if let Some(src) = &source {
            if source_changed || matches!(decision, Limits::Admitted { .. }) {
                tx.save_state(src)?;
            }
            // Callers see the balance the key actually spends.
            row.show_balance_of(src);
        }
        match decision {
            Limits::Admitted { rate_limit } => {
                // The caller sees the balance before any lease is taken out
                // of it: what is leased is this store's to admit.
                let shown = row.info.remaining;
                if let Some(r) = renewal {
                    r.granted = Some(Lease::reserve(&mut row, now, cost, r.size));
                }
                if let Some(hash) = &new_hash {
                    tx.rehash(id, hash)?;
                    // The cached copy holds the old hash; read the new one next time.
                    self.db.forget(id);
                }
                record_use(&mut row.info, now);
                if source.is_some() {
                    tx.save_usage(&row)?;
                } else {
                    tx.save_state(&row)?;
                }
                row.info.remaining = shown;
                self.usage.overlay(&mut row.info);
                Ok(VerifyResult { key: Some(row.info.into_info()), rate_limit, ..VerifyResult::bare(Outcome::Valid) })
            }
            Limits::Refused { outcome, retry_after, rate_limit } => {
                if let Some(r) = renewal {
                    if gave_back {
                        tx.save_state(&row)?;
                    }
                    r.granted = Some(Lease::refusal(&row, now));
                }
                self.usage.overlay(&mut row.info);
                Ok(VerifyResult {
                    outcome,
                    key: Some(row.info.into_info()),
                    malformed_reason: None,
                    retry_after,
                    rate_limit,
                })
            }
        }
    }

    /// Hashes `key` and throws the result away, so that a key turned away
    /// before its hash is compared (an unknown id, a retired pepper) costs
    /// what a wrong secret does, and timing does not tell which ids exist.
    fn hash_for_timing(&self, key: &str) {
        std::hint::black_box(hash_key_unchecked(key, self.config.pepper.as_ref()));
    }

    /// The result for a key whose secret matched but which is refused by a status check.
    pub(crate) fn refused(&self, mut row: KeyRow, outcome: Outcome, now: Timestamp) -> VerifyResult {
        let rate_limit = peek_rate_limit(&row, now);
        apply_refill(&mut row.info, now);
        self.usage.overlay(&mut row.info);
        VerifyResult { key: Some(row.info.into_info()), rate_limit, ..VerifyResult::bare(outcome) }
    }

    fn flush_if_due(&self, now: Timestamp) {
        if !self.usage.due(now) {
            return;
        }
        // Handed to the flush thread, so that this verify answers now.
        if let Some(flusher) = &self.flusher {
            if flusher.ask(self.flushed()) {
                return;
            }
        }
        // Best effort: a busy database must not fail a verify. Unwritten
        // counts stay pending and go out with the next flush. Leases stay:
        // they go back when idle.
        let _ = self.db.flush(&self.usage);
    }
}

/// What a verify asks, as the leased path passes it on.
pub(crate) struct Asked<'a> {
    pub key: &'a str,
    pub prefix: &'a str,
    pub required_permissions: &'a [&'a str],
    pub cost: u32,
}

/// A consuming verify, passed from the read half to the write half.
pub(crate) struct Spend<'a> {
    pub key: &'a str,
    pub prefix: &'a str,
    /// The row the secret was checked against (perhaps a stale copy).
    pub proved: &'a KeyRow,
    pub new_hash: Option<String>,
    pub required_permissions: &'a [&'a str],
    pub cost: u32,
    pub now: Timestamp,
}

/// Whether two copies of a key hold the same hash: an id's hash changes only
/// when the same key is re-hashed, so a secret proved against one is proved
/// against the other.
pub(crate) fn same_secret(a: &KeyRow, b: &KeyRow) -> bool {
    a.hash == b.hash && a.prefix() == b.prefix()
}

/// A copy of `info` for a verify's result, with the id and prefix of the
/// key just proved against it: the same text (the lookup matched the id,
/// `authenticate` the prefix), but read from the request, not from the
/// row's own strings, which with a million keys cached are two cache
/// misses per verify. The metadata is parsed from the row's text.
fn info_as_proved(info: &RowInfo, id: &str, prefix: &str) -> KeyInfo {
    debug_assert!(info.id == id && info.prefix == prefix);
    KeyInfo {
        id: id.to_owned(),
        prefix: prefix.to_owned(),
        owner_id: info.owner_id.clone(),
        name: info.name.clone(),
        permissions: info.permissions.clone(),
        metadata: info.metadata.parse(),
        enabled: info.enabled,
        created_at: info.created_at,
        updated_at: info.updated_at,
        expires_at: info.expires_at,
        revoked_at: info.revoked_at,
        last_used_at: info.last_used_at,
        usage_count: info.usage_count,
        remaining: info.remaining,
        refill: info.refill,
        last_refill_at: info.last_refill_at,
        rate_limit: info.rate_limit,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::PathBuf;

    use crate::{Config, CreateOptions, Keyhouse, Outcome};

    /// A store on a file of its own, in a directory the test removes.
    pub(crate) fn file_store(name: &str) -> (PathBuf, Keyhouse) {
        let dir = std::env::temp_dir().join(format!("keyhouse-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let kh = Keyhouse::open(dir.join("k.db"), Config::default()).unwrap();
        (dir, kh)
    }

    /// Closes `kh` (again, if it was) and removes its directory.
    pub(crate) fn done(dir: PathBuf, kh: Keyhouse) {
        kh.close().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn cached_rows(kh: &Keyhouse) -> usize {
        kh.db.cache_len().expect("a file store has a verify cache").0
    }

    #[test]
    fn a_file_store_caches_rows_and_unknown_ids() {
        let (dir, kh) = file_store("cache-unit");
        let created = kh.create(CreateOptions::default()).unwrap();
        let unknown = crate::generate("kh").unwrap().key;
        for _ in 0..3 {
            assert_eq!(kh.verify(&created.key, &[], 1).unwrap().outcome, Outcome::Valid);
            assert_eq!(kh.verify(&unknown, &[], 1).unwrap().outcome, Outcome::NotFound);
        }
        assert_eq!(kh.db.cache_len(), Some((1, 1)));
        done(dir, kh);
    }

    #[test]
    fn a_flush_in_several_transactions_keeps_every_row_cached_with_its_count_right() {
        let (dir, kh) = file_store("cache-chunks");
        let n = 2 * crate::store::usage::FLUSH_CHUNK + 10;
        let keys: Vec<String> =
            kh.create_many(vec![CreateOptions::default(); n]).unwrap().into_iter().map(|c| c.key).collect();
        for key in &keys {
            assert_eq!(kh.verify(key, &[], 1).unwrap().outcome, Outcome::Valid);
        }
        kh.flush().unwrap();
        // Catches up with the flush's commits; then each key has one use
        // written and one more pending (two for the first).
        assert_eq!(kh.verify(&keys[0], &[], 1).unwrap().key.unwrap().usage_count, 2);
        // Each answered from memory (verify_cached never queries), with the
        // flushed use and this one's; and from memory again after that.
        let counts: Vec<u64> =
            keys[1..].iter().map(|k| kh.verify_cached(k, &[], 1).unwrap().unwrap().key.unwrap().usage_count).collect();
        assert!(counts.iter().all(|&c| c == 2), "{:?}", counts.iter().filter(|&&c| c != 2).take(5).collect::<Vec<_>>());
        let missed = keys.iter().filter(|k| kh.verify_cached(k, &[], 1).unwrap().is_none()).count();
        assert_eq!((missed, cached_rows(&kh)), (0, n));
        done(dir, kh);
    }

    #[test]
    fn a_write_that_panics_does_not_stop_the_cache_keeping_rows() {
        let (dir, kh) = file_store("cache-panic");
        let created = kh.create(CreateOptions::default()).unwrap();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            kh.db.write(|_| -> crate::Result<()> { panic!("a write transaction panics") })
        }));
        assert!(panicked.is_err());
        // The rolled-back write has ended: the row read now is kept.
        assert_eq!(kh.verify(&created.key, &[], 1).unwrap().outcome, Outcome::Valid);
        assert_eq!(cached_rows(&kh), 1);
        done(dir, kh);
    }
}
