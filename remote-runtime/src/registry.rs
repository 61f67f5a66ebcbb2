//! Names a peer can resolve: exports (`require`), modules (exports every
//! client sees as ready-made accessors) and globals (`get_global`).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use crate::connection::{Access, Connection};
use crate::context::Encoded;
use crate::dispatch::Dispatch;
use crate::protocol::exports::ObjKey;
use crate::session::Session;
use crate::RemoteError;

#[derive(Clone)]
pub(crate) struct Export {
    pub(crate) object: Arc<dyn Dispatch>,
    pub(crate) key: ObjKey,
}

/// Encodes a global's value for one connection (a value holding a `Remote`
/// is lent to that connection as it is read).
pub(crate) type GlobalFn = dyn Fn(&Arc<Session>, u32) -> Result<Encoded, RemoteError> + Send + Sync;

/// Decides, per connection, which names it may reach.
pub(crate) type PolicyFn = dyn Fn(&Connection, &Access<'_>) -> bool + Send + Sync;

#[derive(Default)]
pub(crate) struct Registry {
    policy: RwLock<Option<Arc<PolicyFn>>>,
    names: RwLock<HashMap<String, Export>>,
    modules: RwLock<BTreeSet<String>>,
    globals: RwLock<HashMap<String, Arc<GlobalFn>>>,
    /// Calls still running whose connection has closed (their caller is
    /// gone): counted for `stats()`.
    pub(crate) orphaned: std::sync::atomic::AtomicUsize,
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

impl Registry {
    pub(crate) fn set_policy(&self, policy: Arc<PolicyFn>) {
        *write(&self.policy) = Some(policy);
    }

    /// Whether `session` may reach `access`; with no policy, everything.
    pub(crate) fn allows(&self, session: &Arc<Session>, access: &Access<'_>) -> bool {
        let policy = read(&self.policy).clone();
        match policy {
            None => true,
            Some(policy) => policy(
                &Connection {
                    session: session.clone(),
                },
                access,
            ),
        }
    }

    pub(crate) fn insert(&self, name: String, export: Export) -> Option<Export> {
        write(&self.names).insert(name, export)
    }

    pub(crate) fn remove(&self, name: &str) -> Option<Export> {
        write(&self.modules).remove(name);
        write(&self.names).remove(name)
    }

    pub(crate) fn get(&self, name: &str) -> Option<Export> {
        read(&self.names).get(name).cloned()
    }

    pub(crate) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = read(&self.names).keys().cloned().collect();
        names.sort();
        names
    }

    pub(crate) fn mark_module(&self, name: String) {
        write(&self.modules).insert(name);
    }

    pub(crate) fn modules(&self) -> Vec<String> {
        read(&self.modules).iter().cloned().collect()
    }

    pub(crate) fn set_global(&self, name: String, value: Arc<GlobalFn>) {
        write(&self.globals).insert(name, value);
    }

    pub(crate) fn remove_global(&self, name: &str) -> bool {
        write(&self.globals).remove(name).is_some()
    }

    pub(crate) fn global(&self, name: &str) -> Option<Arc<GlobalFn>> {
        read(&self.globals).get(name).cloned()
    }
}

/// The name of `names` closest to `wanted`, if it is close enough to be a
/// typo of it: at most a third of its characters (and at least one) to
/// insert, delete or change.
pub(crate) fn closest(wanted: &str, names: Vec<String>) -> Option<String> {
    let wanted: Vec<char> = wanted.chars().collect();
    let limit = (wanted.len() / 3).max(1);
    names
        .into_iter()
        .map(|name| {
            (
                edit_distance(&wanted, &name.chars().collect::<Vec<_>>()),
                name,
            )
        })
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, name)| name)
}

/// Edits between two names: insertions, deletions, changes, and swaps of
/// two neighbours (the optimal string alignment distance), so `hots` is one
/// edit from `host`.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let change = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + change);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn a_typo_finds_the_name_and_a_different_name_finds_none() {
        let names = || {
            vec![
                "host".to_string(),
                "calculator".to_string(),
                "windows/main".to_string(),
            ]
        };
        assert_eq!(closest("hots", names()).as_deref(), Some("host"));
        assert_eq!(
            closest("calculater", names()).as_deref(),
            Some("calculator")
        );
        assert_eq!(
            closest("windows/mian", names()).as_deref(),
            Some("windows/main")
        );
        assert_eq!(closest("nope", names()), None);
        assert_eq!(closest("", names()), None);
    }
}
