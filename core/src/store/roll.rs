//! Rolling a key: a new secret with the same settings, and a grace period
//! for the old one.

use std::time::Duration;

use super::checks::check_id;
use super::Keyhouse;
use crate::error::{Error, Result};
use crate::hashing::RowHash;
use crate::model::CreatedKey;
use crate::verify::apply_refill;

impl Keyhouse {
    /// Issues a new key with the same settings, and lets the old one work for
    /// `grace` more before it expires.
    ///
    /// The new key copies the owner, name, prefix, permissions, metadata and
    /// rate limit. Its expiry follows the same policy as `create`: the old
    /// key's lifetime length if it had an expiry, else the config's default,
    /// within `min_expiry`..`max_expiry`.
    ///
    /// Credits and rate-limit state move to the new key, and the old key
    /// spends them from there for the rest of its grace period: however
    /// often a key is rolled, all its generations together never get more
    /// than one balance.
    ///
    /// Refused with INVALID_ARGUMENT: a revoked key, an expired key (its
    /// owner must create a new one, which `max_keys_per_owner` and the
    /// expiry policy then govern), and a key that was already rolled (roll
    /// its replacement). The owner's `max_keys_per_owner` applies to the new
    /// key, not counting the old one, which is on its way out.
    pub fn roll(&self, id: &str, grace: Duration) -> Result<CreatedKey> {
        self.roll_with(id, grace, false)
    }

    /// `roll`, where `keep_expiry` gives the new key the old key's expiry
    /// instead of a fresh lifetime: what a key's owner may do on their own
    /// (a new secret, not a longer life).
    pub(crate) fn roll_with(&self, id: &str, grace: Duration, keep_expiry: bool) -> Result<CreatedKey> {
        check_id(id)?;
        let now = self.now();
        let grace_end = now.checked_add(grace).ok_or_else(|| Error::invalid("grace period reaches past 9999-12-31"))?;
        // What this store holds leased comes back into `old`, and goes to
        // the new key with the rest.
        self.write_key(id, now, |tx, mut old| {
            if old.info.revoked_at.is_some() {
                return Err(Error::invalid(format!("key {id} is revoked and cannot be rolled")));
            }
            if old.info.expires_at.is_some_and(|t| t <= now) {
                return Err(Error::invalid(format!("key {id} has expired and cannot be rolled; create a new key")));
            }
            if let Some(next) = &old.limit_source {
                return Err(Error::invalid(format!("key {id} was already rolled; roll its replacement {next}")));
            }
            let lifetime = old.info.expires_at.map(|t| {
                Duration::from_millis(
                    u64::try_from(t.as_millis().saturating_sub(old.info.created_at.as_millis())).unwrap_or(1).max(1),
                )
            });
            let expires_at = if keep_expiry { old.info.expires_at } else { self.resolve_expiry(lifetime, None, now)? };
            if let (Some(limit), Some(owner)) = (self.config.max_keys_per_owner, old.info.owner_id.as_deref()) {
                if tx.active_keys(owner, now)?.saturating_sub(1) >= limit {
                    return Err(Error::KeyLimitExceeded { owner_id: owner.to_owned(), limit });
                }
            }
            apply_refill(&mut old.info, now);
            let generated = self.generate(&old.info.prefix)?;
            let mut new = old.clone();
            new.hash = RowHash::new(generated.hash);
            new.info.id = generated.id;
            new.info.created_at = now;
            new.info.updated_at = now;
            new.info.last_used_at = None;
            new.info.usage_count = 0;
            new.info.expires_at = expires_at;
            // The old key now spends the new key's limits. Its own credits
            // are emptied, so that deleting the new key cannot bring a
            // second balance back to life.
            old.limit_source = Some(new.info.id.clone());
            if old.info.remaining.is_some() {
                old.info.remaining = Some(0);
                old.info.refill = None;
                old.info.last_refill_at = None;
            }
            old.info.expires_at = Some(old.info.expires_at.map_or(grace_end, |t| t.min(grace_end)));
            old.info.updated_at = now;
            // Its balance moved to the new key: leases of the old one lapse.
            old.limit_epoch += 1;
            tx.update(&old)?;
            tx.insert(&new)?;
            // Earlier generations still in their grace period follow the balance.
            tx.relink_limit_source(id, &new.info.id)?;
            Ok(CreatedKey { key: generated.key, info: new.info.into_info() })
        })
    }
}
