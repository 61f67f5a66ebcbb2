//! The importer's side of handles: for each handle of the peer's that this
//! side holds, how many times it arrived and how many local holders keep it.
//! This is where a release is decided.
//!
//! A *holder* is anything on this side that may still name the handle:
//! - the arrival of the handle in a frame (until the driver either attaches
//!   it to a proxy entry, which then owns that hold, or merges it into a live
//!   entry and gives it back);
//! - one proxy entry (all clones of a proxy share one entry, one hold);
//! - one outgoing frame that names the handle (a proxy passed back to its
//!   owner), from the moment its payload was encoded until it is queued.
//!
//! When the last holder goes, the handle's release, `(id, received)`, is
//! staged. Because an outgoing frame holds the handle until it is queued,
//! its release is always queued *behind* every frame that names it: the
//! owner sees the frame first, whatever else happens meanwhile.

use std::collections::HashMap;

/// What is known of one imported handle.
#[derive(Debug)]
struct Slot {
    fingerprint: u64,
    /// Arrivals since the slot was created: what the release will cover.
    received: u64,
    /// Local holders (see the module docs).
    holders: u64,
}

/// Imported handles of one connection, by the owner's handle ID.
#[derive(Debug, Default)]
pub(crate) struct ImportLedger {
    slots: HashMap<u64, Slot>,
}

/// An arrival that could not be accounted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Conflict {
    /// The fingerprint the handle is live with.
    pub(crate) known: u64,
}

impl ImportLedger {
    /// Accounts for one arrival of handle `id`: one more receipt to release,
    /// and one hold owned by the arrival.
    pub(crate) fn receive(&mut self, id: u64, fingerprint: u64) -> Result<(), Conflict> {
        let slot = self.slots.entry(id).or_insert(Slot {
            fingerprint,
            received: 0,
            holders: 0,
        });
        if slot.fingerprint != fingerprint {
            return Err(Conflict {
                known: slot.fingerprint,
            });
        }
        slot.received += 1;
        slot.holders += 1;
        Ok(())
    }

    /// Adds a holder to a live handle (an outgoing frame that names it).
    /// False when the handle is not live here.
    #[cfg(test)]
    pub(crate) fn hold(&mut self, id: u64) -> bool {
        match self.slots.get_mut(&id) {
            Some(slot) => {
                slot.holders += 1;
                true
            }
            None => false,
        }
    }

    /// Removes a holder. When it was the last, the handle is forgotten and
    /// its release, `(id, received)`, is returned for the caller to stage.
    pub(crate) fn unhold(&mut self, id: u64) -> Option<(u64, u64)> {
        let slot = self.slots.get_mut(&id)?;
        debug_assert!(slot.holders > 0, "unhold of handle {id} with no holder");
        slot.holders = slot.holders.saturating_sub(1);
        if slot.holders > 0 {
            return None;
        }
        let slot = self.slots.remove(&id)?;
        Some((id, slot.received))
    }

    /// Whether handle `id` is live here.
    #[cfg(test)]
    pub(crate) fn contains(&self, id: u64) -> bool {
        self.slots.contains_key(&id)
    }

    /// Forgets everything (the connection ended: the owner released it all).
    pub(crate) fn clear(&mut self) {
        self.slots.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_release_covers_every_arrival_and_waits_for_the_last_holder() {
        let mut l = ImportLedger::default();
        l.receive(7, 1).unwrap();
        l.receive(7, 1).unwrap();
        // Both arrivals merged into one proxy entry: one hold given back.
        assert_eq!(l.unhold(7), None);
        // A frame passing the handle back holds it.
        assert!(l.hold(7));
        assert_eq!(l.unhold(7), None, "the proxy entry still holds it");
        assert_eq!(l.unhold(7), Some((7, 2)), "last holder: release both");
        assert!(!l.contains(7));
        assert!(!l.hold(7), "a forgotten handle cannot be held");
    }

    #[test]
    fn an_arrival_with_another_fingerprint_is_a_conflict_and_changes_nothing() {
        let mut l = ImportLedger::default();
        l.receive(3, 10).unwrap();
        assert_eq!(l.receive(3, 11), Err(Conflict { known: 10 }));
        assert_eq!(l.unhold(3), Some((3, 1)));
    }

    #[test]
    fn a_handle_that_arrives_after_its_release_starts_a_new_count() {
        let mut l = ImportLedger::default();
        l.receive(5, 0).unwrap();
        assert_eq!(l.unhold(5), Some((5, 1)));
        l.receive(5, 0).unwrap();
        assert_eq!(l.unhold(5), Some((5, 1)));
    }
}
