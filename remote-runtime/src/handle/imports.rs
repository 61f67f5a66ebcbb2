//! The importer's side of handles, as proxies see it: one shared entry per
//! remote object, however many times it arrived and however many proxies were
//! cloned from it. The entry is one holder of the handle in the protocol
//! core's import ledger (which counts receipts); dropping the last proxy
//! gives that hold back.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use serde::de::DeserializeOwned;

use crate::wire::codec;

use crate::session::Session;

/// One remote object as seen by the process that imported it. Every proxy of
/// that object shares one `ImportEntry`; when the last one is dropped its
/// hold on the handle goes, and the owner is told once nothing else holds
/// it.
pub(crate) struct ImportEntry {
    pub(crate) session: Arc<Session>,
    pub(crate) id: u64,
    pub(crate) fingerprint: u64,
    /// The object's property snapshot: as it arrived, then decoded on first
    /// use.
    props: Mutex<Snapshot>,
}

#[derive(Default)]
enum Snapshot {
    #[default]
    None,
    Encoded(Vec<u8>),
    /// Decoded, with the bytes it arrived as (none for a refresh).
    Decoded(Arc<dyn Any + Send + Sync>, Option<Vec<u8>>),
}

impl ImportEntry {
    /// A new entry, owning the hold its handle's arrival took.
    pub(crate) fn new(session: Arc<Session>, id: u64, fingerprint: u64) -> Self {
        ImportEntry {
            session,
            id,
            fingerprint,
            props: Mutex::default(),
        }
    }

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
        match &mut *props {
            Snapshot::None => None,
            Snapshot::Decoded(any, _) => any.clone().downcast::<P>().ok(),
            Snapshot::Encoded(bytes) => {
                let decoded: P = codec::decode(bytes).ok()?.0;
                let decoded = Arc::new(decoded);
                let bytes = std::mem::take(bytes);
                *props = Snapshot::Decoded(decoded.clone(), Some(bytes));
                Some(decoded)
            }
        }
    }

    /// The snapshot's bytes as they arrived, while this entry has them (a
    /// relay offers them to its peer).
    pub(crate) fn snapshot_bytes(&self) -> Option<Vec<u8>> {
        match &*self.props.lock().unwrap_or_else(|e| e.into_inner()) {
            Snapshot::Encoded(bytes) | Snapshot::Decoded(_, Some(bytes)) => Some(bytes.clone()),
            _ => None,
        }
    }

    /// Replaces the snapshot with a fresh one.
    pub(crate) fn store_snapshot<P: Send + Sync + 'static>(&self, fresh: P) -> Arc<P> {
        let fresh = Arc::new(fresh);
        *self.props.lock().unwrap_or_else(|e| e.into_inner()) =
            Snapshot::Decoded(fresh.clone(), None);
        fresh
    }
}

impl Drop for ImportEntry {
    fn drop(&mut self) {
        self.session
            .import_dropped(self.id, self as *const ImportEntry);
    }
}

/// The live proxy entry of each imported handle of one connection.
#[derive(Default)]
pub(crate) struct ImportTable {
    by_id: HashMap<u64, Weak<ImportEntry>>,
}

impl ImportTable {
    /// The entry of handle `id`, if one is alive.
    pub(crate) fn live(&self, id: u64) -> Option<Arc<ImportEntry>> {
        self.by_id.get(&id).and_then(Weak::upgrade)
    }

    /// Makes `entry` the entry of handle `id`.
    pub(crate) fn insert(&mut self, id: u64, entry: &Arc<ImportEntry>) {
        self.by_id.insert(id, Arc::downgrade(entry));
    }

    /// Forgets `id` if its slot still holds the entry at `ptr` (a newer entry
    /// for the same ID, created while the old one was being dropped, stays).
    pub(crate) fn forget(&mut self, id: u64, ptr: *const ImportEntry) {
        if self.by_id.get(&id).is_some_and(|w| Weak::as_ptr(w) == ptr) {
            self.by_id.remove(&id);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.by_id.clear();
    }
}
