//! Leased mode (`Config::lease_size`): many stores ("processes") on one
//! database, each leasing credits and rate-limit slots, never admit more
//! than the limits allow, on SQLite and on PostgreSQL.
//!
//! The simulations drive several stores on one clock in a random order, with
//! restarts (`close` and open again) and crashes (a store leaked with
//! `mem::forget`, whose leases are never given back), and check every
//! admission against the limits.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::{pg_url, PgSchema, TempDir};
use keyhouse::seam::{Clock, ManualClock, OsRandom, Seams};
use keyhouse::{Config, CreateOptions, ErrorCode, Keyhouse, Outcome, RateLimit, Refill, Timestamp, UpdateOptions};

const T0: i64 = 1_700_000_000_000;

/// A small deterministic generator, so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Where the stores of one test live: a SQLite file or a PostgreSQL schema.
struct Db {
    path: PathBuf,
    schema: String,
    _dir: Option<TempDir>,
    _pg: Option<PgSchema>,
}

impl Db {
    fn sqlite() -> Db {
        let dir = TempDir::new("leases");
        Db { path: dir.db(), schema: "keyhouse".into(), _dir: Some(dir), _pg: None }
    }

    fn postgres() -> Db {
        let pg = PgSchema::new("leases");
        Db { path: PathBuf::from(pg_url()), schema: pg.0.clone(), _dir: None, _pg: Some(pg) }
    }

    fn open(&self, clock: &Arc<ManualClock>, lease_size: Option<u32>) -> Keyhouse {
        self.open_with(clock, Config { lease_size, ..Config::default() })
    }

    /// A store with `config`, in this database's schema, on `clock`.
    fn open_with(&self, clock: &Arc<ManualClock>, config: Config) -> Keyhouse {
        let config = Config { schema: self.schema.clone(), pool_size: 2, ..config };
        Keyhouse::open_with_seams(&self.path, config, Seams { clock: clock.clone(), random: Arc::new(OsRandom) })
            .unwrap()
    }

    /// A clock at `T0`, and an exact-mode store on it for creating and checking keys.
    fn start(&self) -> (Arc<ManualClock>, Keyhouse) {
        let clock = ManualClock::new(Timestamp::from_millis(T0));
        let admin = self.open(&clock, None);
        (clock, admin)
    }
}

fn create(kh: &Keyhouse, options: CreateOptions) -> (String, String) {
    let c = kh.create(options).unwrap();
    (c.key, c.info.id)
}

/// Spends a key from four leasing stores in random order, with restarts and
/// crashes; returns when each admission happened (ms) and at what cost, and
/// whether a store crashed.
fn storm(
    db: &Db,
    clock: &Arc<ManualClock>,
    key: &str,
    steps: usize,
    max_step_ms: u64,
    seed: u64,
) -> (Vec<(i64, u32)>, bool) {
    storm_with(db, clock, key, steps, max_step_ms, seed, Some(8))
}

/// [`storm`] with the stores in the mode `lease`.
fn storm_with(
    db: &Db,
    clock: &Arc<ManualClock>,
    key: &str,
    steps: usize,
    max_step_ms: u64,
    seed: u64,
    lease: Option<u32>,
) -> (Vec<(i64, u32)>, bool) {
    let mut rng = Rng(seed);
    let mut stores: Vec<Keyhouse> = (0..4).map(|_| db.open(clock, lease)).collect();
    let mut admitted = Vec::new();
    let mut crashes = 0;
    for _ in 0..steps {
        match rng.below(100) {
            0..=2 => {
                let i = rng.below(4) as usize;
                stores[i].close().unwrap();
                stores[i] = db.open(clock, lease);
            }
            // A leaked store keeps its connections: a few crashes prove as much.
            3 if crashes < 3 => {
                let i = rng.below(4) as usize;
                std::mem::forget(std::mem::replace(&mut stores[i], db.open(clock, lease)));
                crashes += 1;
            }
            // Quiet spells, after which every store may hold an old lease.
            4 => clock.advance_millis(rng.below(max_step_ms * 100) as i64),
            5..=29 => clock.advance_millis(rng.below(max_step_ms) as i64),
            _ => {
                let cost = 1 + rng.below(3) as u32;
                let r = stores[rng.below(4) as usize].verify(key, &[], cost).unwrap();
                if r.outcome == Outcome::Valid {
                    admitted.push((clock.now().as_millis(), cost));
                } else {
                    assert!(matches!(r.outcome, Outcome::UsageExceeded | Outcome::RateLimited), "{:?}", r.outcome);
                }
            }
        }
    }
    for kh in stores {
        kh.close().unwrap();
    }
    (admitted, crashes > 0)
}

fn credits_are_never_over_spent(db: &Db) {
    let (clock, admin) = db.start();
    let credits = 600;
    let (key, id) = create(&admin, CreateOptions { remaining: Some(credits), ..Default::default() });
    let (admitted, crashed) = storm(db, &clock, &key, 3000, 5, 7);
    let spent: i64 = admitted.iter().map(|&(_, c)| i64::from(c)).sum();
    assert!(spent <= credits, "{spent} credits admitted of {credits}");
    assert!(spent > credits / 2, "only {spent} of {credits} admitted: the storm proves little");
    // Every store has closed (or crashed): what is left is spent exactly.
    let left = admin.get(&id).unwrap().remaining.unwrap();
    let mut rest = 0;
    while admin.verify(&key, &[], 1).unwrap().outcome == Outcome::Valid {
        rest += 1;
    }
    assert_eq!(rest, left);
    if crashed {
        assert!(spent + rest <= credits);
    } else {
        assert_eq!(spent + rest, credits, "closed stores give every unspent credit back");
    }
}

/// GCRA's own bound: any `[a, b]` holds at most `limit + (b - a) / T`
/// admissions, `T = window / limit`. Checked over every pair of admissions.
fn within_gcra(times: &[i64], rl: RateLimit) -> Result<(), String> {
    let mut t = times.to_vec();
    t.sort_unstable();
    let (limit, window) = (i64::from(rl.limit), rl.window.as_millis() as i64);
    for i in 0..t.len() {
        for j in i..t.len() {
            let count = (j - i + 1) as i64;
            let allowed = limit + (t[j] - t[i]) * limit / window;
            if count > allowed {
                return Err(format!("{count} admitted in [{}, {}] ms, GCRA allows {allowed}", t[i] - T0, t[j] - T0));
            }
        }
    }
    Ok(())
}

fn rate_limits_stay_within_gcra(db: &Db) {
    let rl = RateLimit { limit: 20, window: Duration::from_millis(1000) };
    let mut runs = Vec::new();
    for lease in [Some(8), None] {
        let (clock, admin) = db.start();
        let (key, _) = create(&admin, CreateOptions { rate_limit: Some(rl), ..Default::default() });
        let (admitted, _) = storm_with(db, &clock, &key, 4000, 40, 11, lease);
        let times: Vec<i64> = admitted.iter().map(|&(t, _)| t).collect();
        within_gcra(&times, rl).unwrap();
        runs.push(times.len());
    }
    // The same requests at the same instants, in exact mode: leases may
    // refuse some early, not most.
    let (leased, exact) = (runs[0], runs[1]);
    assert!(leased * 10 >= exact * 7, "leased mode admitted {leased}, exact mode {exact}");
}

#[test]
fn the_gcra_check_refuses_a_double_burst() {
    let rl = RateLimit { limit: 5, window: Duration::from_millis(1000) };
    assert!(within_gcra(&[T0; 5], rl).is_ok());
    assert!(within_gcra(&[T0; 6], rl).is_err());
    assert!(within_gcra(&[T0, T0, T0, T0, T0, T0 + 200, T0 + 399], rl).is_err());
}

#[test]
fn leased_credits_are_never_over_spent_on_sqlite() {
    credits_are_never_over_spent(&Db::sqlite());
}

#[test]
fn leased_credits_are_never_over_spent_on_postgres() {
    credits_are_never_over_spent(&Db::postgres());
}

#[test]
fn leased_rate_limits_stay_within_gcra_on_sqlite() {
    rate_limits_stay_within_gcra(&Db::sqlite());
}

#[test]
fn leased_rate_limits_stay_within_gcra_on_postgres() {
    rate_limits_stay_within_gcra(&Db::postgres());
}

#[test]
fn leased_credits_stay_in_their_refill_period() {
    let db = Db::sqlite();
    let (clock, admin) = db.start();
    let refill = Refill { amount: 30, interval: Duration::from_millis(1000) };
    let (key, _) = create(&admin, CreateOptions { remaining: Some(30), refill: Some(refill), ..Default::default() });
    let (admitted, _) = storm(&db, &clock, &key, 3000, 20, 3);
    let mut per_period = std::collections::BTreeMap::new();
    for (t, cost) in admitted {
        *per_period.entry((t - T0) / 1000).or_insert(0) += i64::from(cost);
    }
    assert!(per_period.len() > 5, "{per_period:?}");
    for (period, spent) in per_period {
        assert!(spent <= 30, "{spent} credits spent in period {period}");
    }
}

#[test]
fn leased_mode_admits_from_memory_while_another_process_holds_the_write_lock() {
    let db = Db::sqlite();
    let (clock, admin) = db.start();
    let rl = RateLimit { limit: 3, window: Duration::from_secs(3600) };
    let (credits, _) = create(&admin, CreateOptions { remaining: Some(100), ..Default::default() });
    let (limited, _) = create(&admin, CreateOptions { rate_limit: Some(rl), ..Default::default() });
    let config = Config { lease_size: Some(10), busy_timeout: Duration::from_millis(50), ..Config::default() };
    let kh = db.open_with(&clock, config);
    // One write each takes a lease.
    assert_eq!(kh.verify(&credits, &[], 1).unwrap().outcome, Outcome::Valid);
    assert_eq!(kh.verify(&limited, &[], 1).unwrap().outcome, Outcome::Valid);
    let blocker = rusqlite::Connection::open(&db.path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    for n in 2..=10 {
        let r = kh.verify(&credits, &[], 1).unwrap();
        assert_eq!((r.outcome, r.key.unwrap().remaining), (Outcome::Valid, Some(100 - n)));
    }
    let r = kh.verify(&limited, &[], 1).unwrap();
    assert_eq!((r.outcome, r.rate_limit.unwrap().remaining), (Outcome::Valid, 1));
    assert_eq!(kh.verify(&limited, &[], 1).unwrap().outcome, Outcome::Valid);
    // The limit is reached: the refusal, too, comes from memory.
    let r = kh.verify(&limited, &[], 1).unwrap();
    assert_eq!(r.outcome, Outcome::RateLimited);
    assert!(r.retry_after.unwrap() > Duration::from_secs(1000));
    // The lease is spent: the eleventh needs the store, which is locked.
    let err = kh.verify(&credits, &[], 1).unwrap_err();
    assert_eq!(err.code(), ErrorCode::StoreBusy, "{err}");
    blocker.execute_batch("ROLLBACK").unwrap();
    assert_eq!(kh.verify(&credits, &[], 1).unwrap().key.unwrap().remaining, Some(89));
}

#[test]
fn an_idle_lease_goes_back_without_flush_or_close() {
    let db = Db::sqlite();
    let (clock, admin) = db.start();
    let (key, id) = create(&admin, CreateOptions { remaining: Some(20), ..Default::default() });
    let config = Config { lease_size: Some(16), lease_idle: Duration::from_millis(100), ..Config::default() };
    let holder = db.open_with(&clock, config);
    assert_eq!(holder.verify(&key, &[], 1).unwrap().outcome, Outcome::Valid);
    assert_eq!(admin.get(&id).unwrap().remaining, Some(4), "15 leased, 1 spent");
    assert_eq!(holder.get(&id).unwrap().remaining, Some(19), "the holder counts its own lease");
    clock.advance_millis(150);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while admin.get(&id).unwrap().remaining != Some(19) {
        assert!(std::time::Instant::now() < deadline, "the idle lease never came back");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut spent = 0;
    while admin.verify(&key, &[], 1).unwrap().outcome == Outcome::Valid {
        spent += 1;
    }
    assert_eq!(spent, 19);
}

#[test]
fn setting_credits_cancels_leases_taken_before() {
    for db in [Db::sqlite(), Db::postgres()] {
        let (clock, admin) = db.start();
        let (key, id) = create(&admin, CreateOptions { remaining: Some(100), ..Default::default() });
        let a = db.open(&clock, Some(50));
        assert_eq!(a.verify(&key, &[], 1).unwrap().outcome, Outcome::Valid);
        admin.update(&id, UpdateOptions { remaining: Some(Some(5)), ..Default::default() }).unwrap();
        // PostgreSQL: a's verify sees the update within max_staleness (1 s),
        // as it sees a revoke; until then its lease may still admit.
        if db._pg.is_some() {
            std::thread::sleep(Duration::from_millis(1500));
        }
        let mut valid = 0;
        for _ in 0..20 {
            valid += u32::from(a.verify(&key, &[], 1).unwrap().outcome == Outcome::Valid);
        }
        a.close().unwrap();
        assert_eq!(valid, 5, "the 49 credits leased before the update are neither spent nor given back");
        assert_eq!(admin.get(&id).unwrap().remaining, Some(0));
    }
}

#[test]
fn a_roll_carries_the_rolling_store_s_lease_to_the_new_key() {
    let db = Db::sqlite();
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let kh = db.open(&clock, Some(10));
    let (key, id) = create(&kh, CreateOptions { remaining: Some(30), ..Default::default() });
    assert_eq!(kh.verify(&key, &[], 1).unwrap().outcome, Outcome::Valid);
    let rolled = kh.roll(&id, Duration::from_secs(60)).unwrap();
    assert_eq!(rolled.info.remaining, Some(29));
    let admin = db.open(&clock, None);
    assert_eq!(admin.get(&rolled.info.id).unwrap().remaining, Some(29));
}

#[test]
fn bad_lease_settings_are_refused() {
    for config in [
        Config { lease_size: Some(0), ..Config::default() },
        Config { lease_size: Some(100_001), ..Config::default() },
        Config { lease_idle: Duration::from_millis(1), ..Config::default() },
    ] {
        let err = Keyhouse::open_in_memory(config).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidArgument, "{err}");
    }
}

#[test]
fn threads_of_one_store_hold_one_lease_between_them() {
    let db = Db::sqlite();
    let (clock, admin) = db.start();
    let (key, id) = create(&admin, CreateOptions { remaining: Some(100_000), ..Default::default() });
    let kh = Arc::new(db.open(&clock, Some(10)));
    // Eight threads verify at once, with no lease held yet.
    let barrier = Arc::new(std::sync::Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (kh, key, barrier) = (kh.clone(), key.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                kh.verify(&key, &[], 1).unwrap().outcome
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), Outcome::Valid);
    }
    // While one thread renews, the others spend exactly: at most one lease (9 credits) is out.
    let out = 100_000 - 8 - admin.get(&id).unwrap().remaining.unwrap();
    assert!((0..=9).contains(&out), "{out} credits held leased");
}

#[test]
fn a_lease_takes_no_rate_limit_slots_its_credits_cannot_pay_for() {
    let db = Db::sqlite();
    let (clock, admin) = db.start();
    let rl = RateLimit { limit: 10, window: Duration::from_secs(1) };
    let (key, _) = create(&admin, CreateOptions { remaining: Some(1), rate_limit: Some(rl), ..Default::default() });
    let leased = db.open(&clock, Some(8));
    assert_eq!(leased.verify(&key, &[], 1).unwrap().outcome, Outcome::Valid);
    let r = admin.verify(&key, &[], 1).unwrap();
    assert_eq!((r.outcome, r.rate_limit.unwrap().remaining), (Outcome::UsageExceeded, 9));
}

#[test]
fn a_lease_on_a_disabled_key_admits_nothing_and_goes_back_on_close() {
    let db = Db::sqlite();
    let (clock, admin) = db.start();
    let (key, id) = create(&admin, CreateOptions { remaining: Some(50), ..Default::default() });
    let leased = db.open(&clock, Some(20));
    assert_eq!(leased.verify(&key, &[], 1).unwrap().outcome, Outcome::Valid);
    admin.update(&id, UpdateOptions { enabled: Some(false), ..Default::default() }).unwrap();
    assert_eq!(leased.verify(&key, &[], 1).unwrap().outcome, Outcome::Disabled);
    admin.revoke(&id).unwrap();
    assert_eq!(leased.verify(&key, &[], 1).unwrap().outcome, Outcome::Revoked);
    leased.close().unwrap();
    assert_eq!(admin.get(&id).unwrap().remaining, Some(49), "a status change keeps the credits");
}
