//! The change listener: one thread per store, on a connection of its own,
//! that keeps the verify cache caught up.
//!
//! It `LISTEN`s on the store's channel and catches up when a notification
//! arrives, and every quarter of `max_staleness` when none does, so that a
//! lost notification costs at most that. After a dropped connection it
//! reconnects and catches up first thing (as PostgREST reloads its schema
//! cache on reconnect): whatever happened while it was away is then seen.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fallible_iterator::FallibleIterator;
use postgres::Client;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::cache::PgCache;
use super::schema::channel;
use super::Sql;

/// The longest a closed store's listener keeps its connection.
const STOP_CHECK: Duration = Duration::from_millis(200);

/// What the listener thread needs, shared with the store.
pub(super) struct Listener {
    pub config: postgres::Config,
    pub tls: MakeRustlsConnect,
    pub cache: Arc<PgCache>,
    pub sql: Arc<Sql>,
    pub schema: String,
    pub stop: Arc<AtomicBool>,
    pub poll_every: Duration,
}

impl Listener {
    /// Starts the thread; it ends soon after `stop` is set.
    pub(super) fn spawn(self) -> std::io::Result<()> {
        std::thread::Builder::new().name("keyhouse-listener".into()).spawn(move || self.run())?;
        Ok(())
    }

    fn run(self) {
        while !self.stop.load(Ordering::Acquire) {
            if let Ok(mut client) = self.config.connect(self.tls.clone()) {
                self.listen(&mut client);
            }
            // Unreachable or dropped: try again soon. Verifies meanwhile
            // catch up themselves, or fail closed once the bound passes.
            self.sleep(self.poll_every);
        }
    }

    /// Serves one connection until it fails or the store closes.
    fn listen(&self, client: &mut Client) {
        if client.batch_execute(&format!("LISTEN \"{}\"", channel(&self.schema))).is_err() {
            return;
        }
        let mut catch_up_at = Instant::now();
        while !self.stop.load(Ordering::Acquire) {
            if Instant::now() >= catch_up_at {
                if self.cache.catch_up(client, &self.sql).is_err() {
                    return;
                }
                catch_up_at = Instant::now() + self.poll_every;
            }
            // Waits in short steps, so that a closed store's connection goes
            // within STOP_CHECK, however long `max_staleness` is.
            let wait = catch_up_at.saturating_duration_since(Instant::now()).min(STOP_CHECK);
            let mut notifications = client.notifications();
            let heard = notifications.timeout_iter(wait).next();
            match heard {
                // One catch-up covers every notification already queued.
                Ok(Some(_)) => {
                    while let Ok(Some(_)) = notifications.iter().next() {}
                    catch_up_at = Instant::now();
                }
                Ok(None) => {}
                Err(_) => return,
            }
        }
    }

    /// Sleeps up to `d`, waking early once the store closes.
    fn sleep(&self, d: Duration) {
        let step = Duration::from_millis(20);
        let mut left = d;
        while !left.is_zero() && !self.stop.load(Ordering::Acquire) {
            std::thread::sleep(step.min(left));
            left = left.saturating_sub(step);
        }
    }
}
