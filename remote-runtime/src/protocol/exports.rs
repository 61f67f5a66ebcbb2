//! The owner's side of handles: what this process lent to one peer, and how
//! many times it sent each handle. This is where a release is counted.
//!
//! Layout, chosen for a million live handles per peer: entries live in a slab
//! (32 bytes each) addressed by the handle ID itself, and the identity index
//! (object -> handle) is a hash table of 4-byte slab positions. A handle ID is
//! `generation << 32 | (position + 1)`: looking one up is an index and a
//! generation check, and a reused position gets a new generation, so IDs are
//! never reused on a connection.

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

use super::Exported;
use crate::RemoteError;

/// Identity of a local object as a given trait: the address of its data and
/// the trait's fingerprint. Two `Arc`s of one object, sent as the same trait,
/// are one handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ObjKey {
    pub(crate) addr: usize,
    pub(crate) fingerprint: u64,
}

const NONE: u32 = u32::MAX;

struct Slot<O> {
    /// The object while the slot is live.
    object: Option<O>,
    /// Times this handle was sent on the connection, minus the times the peer
    /// reported as released.
    outstanding: u64,
    generation: u32,
    /// Live: the peer call site whose reply first carried this handle.
    /// Vacant: the next vacant position.
    site_or_next: u32,
}

/// Live exports of one connection.
pub(crate) struct ExportTable<O> {
    slots: Vec<Slot<O>>,
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
    free: u32,
    live: usize,
    /// Generation of positions created after the slab was last compacted.
    generation_floor: u32,
    max_generation: u32,
    /// Compaction waits until fewer than this many handles are live.
    compact_below: usize,
}

impl<O> Default for ExportTable<O> {
    fn default() -> Self {
        ExportTable {
            slots: Vec::new(),
            index: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            free: NONE,
            live: 0,
            generation_floor: 0,
            max_generation: 0,
            compact_below: usize::MAX,
        }
    }
}

fn id_of(position: u32, generation: u32) -> u64 {
    (u64::from(generation) << 32) | (u64::from(position) + 1)
}

impl<O: Exported> ExportTable<O> {
    fn position(&self, id: u64) -> Option<u32> {
        let low = (id & 0xffff_ffff) as u32;
        let position = low.checked_sub(1)?;
        let slot = self.slots.get(position as usize)?;
        (slot.object.is_some() && u64::from(slot.generation) == id >> 32).then_some(position)
    }

    fn find(&self, key: ObjKey) -> Option<u32> {
        let hash = self.hasher.hash_one(key);
        let slots = &self.slots;
        self.index
            .find(hash, |&p| {
                slots[p as usize]
                    .object
                    .as_ref()
                    .is_some_and(|o| o.key() == key)
            })
            .copied()
    }

    /// Records one more send of the object with `key` and returns its ID;
    /// `make` builds the dispatcher the first time, which is then returned
    /// too (the handle is new on this connection).
    pub(crate) fn send(
        &mut self,
        key: ObjKey,
        site: u32,
        make: impl FnOnce() -> O,
    ) -> (u64, Option<O>) {
        if let Some(position) = self.find(key) {
            let slot = &mut self.slots[position as usize];
            slot.outstanding += 1;
            return (id_of(position, slot.generation), None);
        }
        let object = make();
        let created = object.clone();
        let position = if self.free != NONE {
            let position = self.free;
            let slot = &mut self.slots[position as usize];
            self.free = slot.site_or_next;
            slot.generation += 1;
            slot.object = Some(object);
            slot.outstanding = 1;
            slot.site_or_next = site;
            position
        } else {
            let position =
                u32::try_from(self.slots.len()).expect("fewer than 4 billion live handles");
            self.slots.push(Slot {
                object: Some(object),
                outstanding: 1,
                generation: self.generation_floor,
                site_or_next: site,
            });
            position
        };
        let generation = self.slots[position as usize].generation;
        self.max_generation = self.max_generation.max(generation);
        self.live += 1;
        self.compact_below = self.compact_below.max(self.live);
        let hash = self.hasher.hash_one(key);
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index.insert_unique(hash, position, |&p| {
            let o = slots[p as usize]
                .object
                .as_ref()
                .expect("indexed slots are live");
            hasher.hash_one(o.key())
        });
        (id_of(position, generation), Some(created))
    }

    /// Takes back one send of `id` (an encode that failed after counting it).
    pub(crate) fn unsend(&mut self, id: u64) -> Option<O> {
        self.release(id, 1).ok().flatten()
    }

    /// Whether sending `key` would add a handle (it is not live yet).
    pub(crate) fn is_new(&self, key: ObjKey) -> bool {
        self.find(key).is_none()
    }

    /// The live object behind `id`.
    pub(crate) fn get(&self, id: u64) -> Option<O> {
        let position = self.position(id)?;
        self.slots[position as usize].object.clone()
    }

    /// The peer released `count` receipts of `id`. Returns the object if that
    /// was the last outstanding send, so the caller drops it outside the lock.
    pub(crate) fn release(&mut self, id: u64, count: u64) -> Result<Option<O>, RemoteError> {
        let Some(position) = self.position(id) else {
            return Err(RemoteError::NoSuchObject { id });
        };
        let slot = &mut self.slots[position as usize];
        if count == 0 || count > slot.outstanding {
            return Err(RemoteError::Protocol(format!(
                "release of handle {id} covers {count} sends but {} are outstanding",
                slot.outstanding
            )));
        }
        slot.outstanding -= count;
        if slot.outstanding > 0 {
            return Ok(None);
        }
        let object = slot.object.take().expect("position() checked it is live");
        // A position whose generations are used up is retired for good:
        // reusing it would repeat an ID.
        if slot.generation < u32::MAX {
            slot.site_or_next = self.free;
            self.free = position;
        }
        self.live -= 1;
        let hash = self.hasher.hash_one(object.key());
        if let Ok(entry) = self.index.find_entry(hash, |&p| p == position) {
            entry.remove();
        }
        // Compact when the slab is mostly vacant and its tail is free to
        // drop; each compaction at least halves what triggers the next.
        if self.slots.len() > 1024
            && self.live < self.slots.len() / 8
            && self.live < self.compact_below
            && self.slots.last().is_some_and(|s| s.object.is_none())
        {
            self.compact();
            self.compact_below = self.live / 2 + 1;
        }
        Ok(Some(object))
    }

    /// Gives memory back once most handles are released: drops the vacant
    /// tail of the slab and shrinks the index. Positions dropped here come back
    /// with a generation above any used before, so no ID repeats.
    fn compact(&mut self) {
        // Dropped positions come back above every generation used, which
        // needs one left.
        if self.max_generation < u32::MAX {
            while self.slots.last().is_some_and(|s| s.object.is_none()) {
                self.slots.pop();
            }
            self.generation_floor = self.max_generation + 1;
        }
        self.free = NONE;
        for (position, slot) in self.slots.iter_mut().enumerate().rev() {
            if slot.object.is_none() && slot.generation < u32::MAX {
                slot.site_or_next = self.free;
                self.free = position as u32;
            }
        }
        self.slots.shrink_to_fit();
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index.shrink_to_fit(|&p| {
            let o = slots[p as usize]
                .object
                .as_ref()
                .expect("indexed slots are live");
            hasher.hash_one(o.key())
        });
    }

    /// Empties the table (the connection ended); the caller drops the result
    /// outside the lock.
    pub(crate) fn drain(&mut self) -> Vec<O> {
        self.index.clear();
        self.free = NONE;
        self.live = 0;
        std::mem::take(&mut self.slots)
            .into_iter()
            .filter_map(|s| s.object)
            .collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.live
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The trait and originating call site of every live handle.
    pub(crate) fn census(&self) -> impl Iterator<Item = (&'static str, u32)> + '_ {
        self.slots.iter().filter_map(|s| {
            s.object
                .as_ref()
                .map(|o| (o.interface_name(), s.site_or_next))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::sim::Obj;

    fn nop(addr: usize) -> (ObjKey, impl FnOnce() -> Obj) {
        let obj = Obj {
            owner: 0,
            serial: addr as u64,
        };
        (obj.key(), move || obj)
    }

    #[test]
    fn a_resend_during_a_release_keeps_the_object() {
        let mut t = ExportTable::<Obj>::default();
        let (k, make) = nop(1);
        let id = t.send(k, 0, make).0;
        assert_eq!(
            t.send(k, 0, || unreachable!()).0,
            id,
            "same object, same id"
        );
        // The peer released after receiving it twice...
        // ...but meanwhile it was sent a third time.
        assert_eq!(t.send(k, 0, || unreachable!()).0, id);
        assert!(t.release(id, 2).unwrap().is_none(), "third send still live");
        assert!(t.get(id).is_some());
        assert!(t.release(id, 1).unwrap().is_some(), "now the last one");
        assert!(t.get(id).is_none());
        assert_eq!(t.len(), 0);
        let (k, make) = nop(1);
        let again = t.send(k, 0, make).0;
        assert_ne!(again, id, "ids are never reused");
    }

    #[test]
    fn a_position_whose_generations_ran_out_is_never_reused() {
        let mut t = ExportTable::<Obj>::default();
        let (k, make) = nop(1);
        let first = t.send(k, 0, make).0;
        t.release(first, 1).unwrap();
        // As if the position had been reused 2^32 - 2 times.
        t.slots[0].generation = u32::MAX - 1;
        let mut seen = vec![first];
        for addr in 2..5 {
            let (k, make) = nop(addr);
            let id = t.send(k, 0, make).0;
            assert!(!seen.contains(&id), "id {id:#x} repeated");
            seen.push(id);
            t.release(id, 1).unwrap();
        }
        // The last generation was used once, then the position retired.
        assert_eq!(seen[1] >> 32, u64::from(u32::MAX));
        assert_eq!(
            seen[2] & 0xffff_ffff,
            2,
            "a new position, not the retired one"
        );
    }

    #[test]
    fn over_release_is_a_protocol_error_and_changes_nothing() {
        let mut t = ExportTable::<Obj>::default();
        let (k, make) = nop(1);
        let id = t.send(k, 0, make).0;
        assert!(matches!(t.release(id, 2), Err(RemoteError::Protocol(_))));
        assert!(t.get(id).is_some());
        assert!(matches!(
            t.release(99, 1),
            Err(RemoteError::NoSuchObject { id: 99 })
        ));
        assert!(t.get(0).is_none());
        assert!(t.get(u64::MAX).is_none());
    }

    #[test]
    fn memory_comes_back_when_most_handles_are_released() {
        let mut t = ExportTable::<Obj>::default();
        let (k, make) = nop(1);
        let keep = t.send(k, 0, make).0;
        let ids: Vec<u64> = (0..100_000)
            .map(|i| {
                let (k, make) = nop(i + 10);
                t.send(k, 0, make).0
            })
            .collect();
        for id in ids {
            assert!(t.release(id, 1).unwrap().is_some());
        }
        assert_eq!(t.len(), 1);
        assert!(
            t.slots.capacity() < 1024,
            "slab kept {} slots",
            t.slots.capacity()
        );
        assert!(
            t.index.capacity() < 1024,
            "index kept {}",
            t.index.capacity()
        );
        assert!(t.get(keep).is_some(), "the survivor keeps its id");
    }

    #[test]
    fn ids_stay_unique_through_reuse_and_reset() {
        let mut t = ExportTable::<Obj>::default();
        let mut seen = std::collections::HashSet::new();
        for round in 0..3 {
            let ids: Vec<u64> = (0..2000)
                .map(|i| {
                    let (k, make) = nop(i + 10);
                    t.send(k, 0, make).0
                })
                .collect();
            for &id in &ids {
                assert!(seen.insert(id), "id {id} reused in round {round}");
            }
            // Release half, re-export them (slot reuse), then release all
            // (storage reset).
            for &id in ids.iter().step_by(2) {
                assert!(t.release(id, 1).unwrap().is_some());
            }
            for i in (0..2000).step_by(2) {
                let (k, make) = nop(i + 10);
                assert!(seen.insert(t.send(k, 0, make).0));
            }
            let live: Vec<u64> = (0..2000)
                .map(|i| {
                    t.find(nop(i + 10).0)
                        .map(|p| id_of(p, t.slots[p as usize].generation))
                        .unwrap()
                })
                .collect();
            for id in live {
                assert!(t.release(id, 1).unwrap().is_some());
            }
            assert_eq!(t.len(), 0);
        }
    }
}
