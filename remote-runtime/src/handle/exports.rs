//! The owner's side of handles: what this process lent to one peer, and how
//! many times it sent each handle. This is where a release is counted.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::Arc;

use crate::dispatch::Dispatch;
use crate::RemoteError;

/// Identity of a local object as a given trait: the address of its data and
/// the trait object type. Two `Arc`s of one object, sent as the same trait,
/// are one handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ObjKey {
    addr: usize,
    interface: TypeId,
}

impl ObjKey {
    pub(crate) fn of<T: ?Sized + 'static>(object: &Arc<T>) -> ObjKey {
        ObjKey {
            addr: Arc::as_ptr(object) as *const () as usize,
            interface: TypeId::of::<T>(),
        }
    }
}

struct ExportEntry {
    object: Arc<dyn Dispatch>,
    key: ObjKey,
    /// Times this handle was sent on the connection, minus the times the peer
    /// reported as released.
    outstanding: u64,
    /// The peer's call site whose reply first carried this handle.
    site: u32,
}

/// Live exports of one connection.
#[derive(Default)]
pub(crate) struct ExportTable {
    next_id: u64,
    by_id: HashMap<u64, ExportEntry>,
    by_key: HashMap<ObjKey, u64>,
}

impl ExportTable {
    /// Records one more send of the object with `key` and returns its ID;
    /// `make` builds the dispatcher the first time.
    pub(crate) fn send(
        &mut self,
        key: ObjKey,
        site: u32,
        make: impl FnOnce() -> Arc<dyn Dispatch>,
    ) -> u64 {
        if let Some(&id) = self.by_key.get(&key) {
            if let Some(entry) = self.by_id.get_mut(&id) {
                entry.outstanding += 1;
                return id;
            }
        }
        // IDs start at 1 and are never reused on a connection.
        self.next_id += 1;
        let id = self.next_id;
        self.by_id.insert(
            id,
            ExportEntry {
                object: make(),
                key,
                outstanding: 1,
                site,
            },
        );
        self.by_key.insert(key, id);
        id
    }

    /// Takes back one send of `id` (an encode that failed after counting it).
    pub(crate) fn unsend(&mut self, id: u64) -> Option<Arc<dyn Dispatch>> {
        self.release(id, 1).ok().flatten()
    }

    /// The live object behind `id`.
    pub(crate) fn get(&self, id: u64) -> Option<Arc<dyn Dispatch>> {
        self.by_id.get(&id).map(|e| e.object.clone())
    }

    /// The peer released `count` receipts of `id`. Returns the object if that
    /// was the last outstanding send, so the caller drops it outside the lock.
    pub(crate) fn release(
        &mut self,
        id: u64,
        count: u64,
    ) -> Result<Option<Arc<dyn Dispatch>>, RemoteError> {
        let Some(entry) = self.by_id.get_mut(&id) else {
            return Err(RemoteError::NoSuchObject { id });
        };
        if count == 0 || count > entry.outstanding {
            return Err(RemoteError::Protocol(format!(
                "release of handle {id} covers {count} sends but {} are outstanding",
                entry.outstanding
            )));
        }
        entry.outstanding -= count;
        if entry.outstanding > 0 {
            return Ok(None);
        }
        let entry = self.by_id.remove(&id).expect("entry present");
        self.by_key.remove(&entry.key);
        Ok(Some(entry.object))
    }

    /// Empties the table (the connection ended); the caller drops the result
    /// outside the lock.
    pub(crate) fn drain(&mut self) -> Vec<Arc<dyn Dispatch>> {
        self.by_key.clear();
        self.by_id.drain().map(|(_, e)| e.object).collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    /// The trait and originating call site of every live handle.
    pub(crate) fn census(&self) -> impl Iterator<Item = (&'static str, u32)> + '_ {
        self.by_id
            .values()
            .map(|e| (e.object.interface_name(), e.site))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::tests::Nop;

    fn key(n: usize) -> ObjKey {
        ObjKey {
            addr: n,
            interface: TypeId::of::<()>(),
        }
    }

    #[test]
    fn a_resend_during_a_release_keeps_the_object() {
        let mut t = ExportTable::default();
        let id = t.send(key(1), 0, || Arc::new(Nop));
        assert_eq!(
            t.send(key(1), 0, || unreachable!()),
            id,
            "same object, same id"
        );
        // The peer released after receiving it twice...
        // ...but meanwhile it was sent a third time.
        assert_eq!(t.send(key(1), 0, || unreachable!()), id);
        assert!(t.release(id, 2).unwrap().is_none(), "third send still live");
        assert!(t.get(id).is_some());
        assert!(t.release(id, 1).unwrap().is_some(), "now the last one");
        assert!(t.get(id).is_none());
        assert_eq!(t.len(), 0);
        let again = t.send(key(1), 0, || Arc::new(Nop));
        assert_ne!(again, id, "ids are never reused");
    }

    #[test]
    fn over_release_is_a_protocol_error_and_changes_nothing() {
        let mut t = ExportTable::default();
        let id = t.send(key(1), 0, || Arc::new(Nop));
        assert!(matches!(t.release(id, 2), Err(RemoteError::Protocol(_))));
        assert!(t.get(id).is_some());
        assert!(matches!(
            t.release(99, 1),
            Err(RemoteError::NoSuchObject { id: 99 })
        ));
    }
}
