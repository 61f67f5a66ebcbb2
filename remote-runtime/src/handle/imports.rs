//! The importer's side of handles: one shared entry per remote object, however
//! many times it arrived and however many proxies were cloned from it.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use serde::de::DeserializeOwned;

use crate::wire::codec;

use crate::session::Session;

/// One remote object as seen by the process that imported it. Every proxy of
/// that object shares one `ImportEntry`; when the last one is dropped the
/// owner is told how many receipts to release.
pub(crate) struct ImportEntry {
    pub(crate) session: Arc<Session>,
    pub(crate) id: u64,
    pub(crate) fingerprint: u64,
    /// How many times this entry's handle arrived; released as one count.
    received: AtomicU64,
    /// The object's property snapshot: as it arrived, then decoded on first
    /// use.
    props: Mutex<Snapshot>,
}

#[derive(Default)]
enum Snapshot {
    #[default]
    None,
    Encoded(Vec<u8>),
    Decoded(Arc<dyn Any + Send + Sync>),
}

impl ImportEntry {
    /// Keeps the snapshot that came with a handle, unless this entry already
    /// has one (a handle that arrives again keeps its first snapshot).
    pub(crate) fn offer_snapshot(&self, bytes: Vec<u8>) {
        let mut props = self.props.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(*props, Snapshot::None) {
            *props = Snapshot::Encoded(bytes);
        }
    }

    /// The snapshot as `P`, decoding it on first use.
    pub(crate) fn snapshot<P: DeserializeOwned + Send + Sync + 'static>(&self) -> Option<Arc<P>> {
        let mut props = self.props.lock().unwrap_or_else(|e| e.into_inner());
        match &*props {
            Snapshot::None => None,
            Snapshot::Decoded(any) => any.clone().downcast::<P>().ok(),
            Snapshot::Encoded(bytes) => {
                let decoded: P = codec::decode(bytes).ok()?.0;
                let decoded = Arc::new(decoded);
                *props = Snapshot::Decoded(decoded.clone());
                Some(decoded)
            }
        }
    }

    /// Replaces the snapshot with a fresh one.
    pub(crate) fn store_snapshot<P: Send + Sync + 'static>(&self, fresh: P) -> Arc<P> {
        let fresh = Arc::new(fresh);
        *self.props.lock().unwrap_or_else(|e| e.into_inner()) = Snapshot::Decoded(fresh.clone());
        fresh
    }
}

impl Drop for ImportEntry {
    fn drop(&mut self) {
        let received = *self.received.get_mut();
        self.session
            .import_dropped(self.id, self as *const ImportEntry, received);
    }
}

/// Live imports of one connection, by the owner's handle ID.
#[derive(Default)]
pub(crate) struct ImportTable {
    by_id: HashMap<u64, Weak<ImportEntry>>,
}

/// What happened when a handle arrived.
pub(crate) enum Imported {
    Entry(Arc<ImportEntry>),
    /// The same ID is already live with another trait: the peer is confused
    /// or hostile.
    Conflict {
        known: u64,
    },
}

impl ImportTable {
    /// Accounts for one arrival of handle `id`.
    pub(crate) fn receive(
        &mut self,
        session: &Arc<Session>,
        id: u64,
        fingerprint: u64,
    ) -> Imported {
        if let Some(entry) = self.by_id.get(&id).and_then(Weak::upgrade) {
            if entry.fingerprint != fingerprint {
                return Imported::Conflict {
                    known: entry.fingerprint,
                };
            }
            entry.received.fetch_add(1, Ordering::Relaxed);
            return Imported::Entry(entry);
        }
        let entry = Arc::new(ImportEntry {
            session: session.clone(),
            id,
            fingerprint,
            received: AtomicU64::new(1),
            props: Mutex::default(),
        });
        self.by_id.insert(id, Arc::downgrade(&entry));
        Imported::Entry(entry)
    }

    /// Forgets `id` if its slot still holds the entry at `ptr` (a newer entry
    /// for the same ID, created while the old one was being dropped, stays).
    pub(crate) fn forget(&mut self, id: u64, ptr: *const ImportEntry) -> bool {
        match self.by_id.get(&id) {
            Some(w) if Weak::as_ptr(w) == ptr => {
                self.by_id.remove(&id);
                true
            }
            _ => false,
        }
    }

    pub(crate) fn clear(&mut self) {
        self.by_id.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }
}
