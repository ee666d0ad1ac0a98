//! A stored key as every backend holds it.

use crate::model::KeyInfo;

/// A stored key: its info plus what only the store sees.
#[derive(Clone, Debug)]
pub(crate) struct KeyRow {
    pub info: KeyInfo,
    pub hash: String,
    /// GCRA state, in units of 1/limit ms (see `ratelimit`).
    pub rate_tat: Option<i64>,
    /// The key whose credits and rate-limit state this key spends, while it
    /// is in the grace period after a roll (see `Keyhouse::roll`).
    pub limit_source: Option<String>,
    /// The row's number in `keys`, which names its `key_state` row; 0 until inserted.
    pub seq: i64,
}

impl KeyRow {
    /// Shows the credits of `source`, the row whose balance this key spends
    /// during a roll's grace period, instead of its own emptied ones.
    pub(crate) fn show_balance_of(&mut self, source: &KeyRow) {
        self.info.remaining = source.info.remaining;
        self.info.refill = source.info.refill;
        self.info.last_refill_at = source.info.last_refill_at;
    }
}
