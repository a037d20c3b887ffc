//! Failed password sign-ins, counted per user name and per client address, in memory: past a
//! limit within a window, sign-in answers 429 without looking at the password. It knows nothing
//! of HTTP or the database; a restart forgets the counts (documented in the README).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long failures are remembered, counted from a key's first failure in the window.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failures one user name may have per window: guessing one account's password stops here.
pub const MAX_PER_NAME: u32 = 10;
/// Failures one client address may have per window, over all names it tries.
pub const MAX_PER_ADDRESS: u32 = 50;
/// Keys kept at most; past it, keys whose window ended are dropped, then the whole table, so
/// memory stays bounded whatever a client sends.
const MAX_KEYS: usize = 100_000;

/// What a sign-in is counted under.
pub struct Keys {
    name: String,
    address: Option<String>,
}

impl Keys {
    /// Names are counted in lower case, so `Alice` and `alice` share their failures.
    pub fn new(username: &str, address: Option<String>) -> Keys {
        Keys {
            name: format!("name:{}", username.to_lowercase()),
            address: address.map(|address| format!("addr:{address}")),
        }
    }

    fn each(&self) -> impl Iterator<Item = (&String, u32)> {
        std::iter::once((&self.name, MAX_PER_NAME))
            .chain(self.address.iter().map(|key| (key, MAX_PER_ADDRESS)))
    }
}

struct Window {
    started: Instant,
    failures: u32,
}

#[derive(Default)]
pub struct LoginThrottle {
    windows: Mutex<HashMap<String, Window>>,
}

impl LoginThrottle {
    /// `Err(wait)` when any of the keys has used up its failures; `wait` is how long until its
    /// window ends.
    pub fn check(&self, keys: &Keys) -> Result<(), Duration> {
        let windows = self.lock();
        let now = Instant::now();
        let wait = keys
            .each()
            .filter_map(|(key, limit)| {
                let window = windows.get(key)?;
                let elapsed = now.duration_since(window.started);
                (elapsed < WINDOW && window.failures >= limit).then(|| WINDOW - elapsed)
            })
            .max();
        wait.map_or(Ok(()), Err)
    }

    pub fn failed(&self, keys: &Keys) {
        let mut windows = self.lock();
        let now = Instant::now();
        if windows.len() >= MAX_KEYS {
            windows.retain(|_, window| now.duration_since(window.started) < WINDOW);
            if windows.len() >= MAX_KEYS {
                windows.clear();
            }
        }
        for (key, _) in keys.each() {
            let window = windows.entry(key.clone()).or_insert(Window {
                started: now,
                failures: 0,
            });
            if now.duration_since(window.started) >= WINDOW {
                *window = Window {
                    started: now,
                    failures: 0,
                };
            }
            window.failures += 1;
        }
    }

    /// A right password forgets the name's failures (not the address's).
    pub fn succeeded(&self, keys: &Keys) {
        self.lock().remove(&keys.name);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Window>> {
        // A panic while holding the lock leaves only counters behind; they stay usable.
        self.windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_refused_after_its_failures_and_others_are_not() {
        let throttle = LoginThrottle::default();
        let alice = Keys::new("Alice", None);
        for _ in 0..MAX_PER_NAME {
            assert!(throttle.check(&alice).is_ok());
            throttle.failed(&alice);
        }
        let wait = throttle.check(&Keys::new("alice", None)).unwrap_err();
        assert!(wait <= WINDOW);
        assert!(throttle.check(&Keys::new("bob", None)).is_ok());
    }

    #[test]
    fn an_address_is_refused_after_its_failures_over_many_names() {
        let throttle = LoginThrottle::default();
        let address = || Some("10.0.0.1".to_string());
        for n in 0..MAX_PER_ADDRESS {
            throttle.failed(&Keys::new(&format!("user{n}"), address()));
        }
        assert!(throttle.check(&Keys::new("fresh", address())).is_err());
        assert!(throttle
            .check(&Keys::new("fresh", Some("10.0.0.2".to_string())))
            .is_ok());
    }

    #[test]
    fn success_forgets_the_names_failures() {
        let throttle = LoginThrottle::default();
        let alice = Keys::new("alice", None);
        for _ in 0..MAX_PER_NAME - 1 {
            throttle.failed(&alice);
        }
        throttle.succeeded(&alice);
        throttle.failed(&alice);
        assert!(throttle.check(&alice).is_ok());
    }
}
