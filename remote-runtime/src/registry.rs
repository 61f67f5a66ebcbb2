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
