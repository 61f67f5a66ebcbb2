//! Leak diagnostics: which line of the peer's source obtained the handles a
//! peer holds. Call sites are interned per connection (a name travels once,
//! then a small number), so carrying them costs a byte or two per call.

use std::collections::HashMap;
use std::panic::Location;

/// The importer's side: call-site numbers it has announced.
#[derive(Default)]
pub(crate) struct SiteIds {
    by_location: HashMap<usize, u32>,
}

impl SiteIds {
    /// The number of `location`, and whether it is new (must be announced).
    pub(crate) fn id(&mut self, location: &'static Location<'static>) -> (u32, bool) {
        let key = location as *const Location<'static> as usize;
        let next = self.by_location.len() as u32 + 1;
        match self.by_location.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => (*e.get(), false),
            std::collections::hash_map::Entry::Vacant(e) => (*e.insert(next), true),
        }
    }
}

/// The owner's side: what the peer's call-site numbers mean, and when to warn
/// again.
/// The most call-site names kept per connection.
pub(crate) const MAX_SITES: usize = 4096;
/// The longest call-site name kept (`file:line:column`), in bytes.
pub(crate) const MAX_SITE_NAME: usize = 512;

pub(crate) struct SiteNames {
    names: HashMap<u32, String>,
    next_warning: usize,
    threshold: usize,
}

impl SiteNames {
    pub(crate) fn new(threshold: usize) -> Self {
        SiteNames {
            names: HashMap::new(),
            next_warning: threshold,
            threshold,
        }
    }

    pub(crate) fn name(&mut self, id: u32, mut name: String) {
        // A peer cannot make us store more than one name per number, names
        // past a sane count are ignored, and each is cut to a sane length:
        // at most MAX_SITES x MAX_SITE_NAME bytes per connection.
        if name.len() > MAX_SITE_NAME {
            let mut end = MAX_SITE_NAME;
            while !name.is_char_boundary(end) {
                end -= 1;
            }
            name.truncate(end);
            name.push('…');
        }
        if self.names.len() < MAX_SITES || self.names.contains_key(&id) {
            self.names.insert(id, name);
        }
    }

    pub(crate) fn describe(&self, id: u32) -> String {
        match (id, self.names.get(&id)) {
            (0, _) => "an unknown call site".to_string(),
            (_, Some(name)) => name.clone(),
            (_, None) => format!("call site #{id}"),
        }
    }

    /// Whether `live` handles call for a warning now. Warns when the count
    /// passes the threshold, again at each doubling, and re-arms once it
    /// falls back under the threshold.
    pub(crate) fn should_warn(&mut self, live: usize) -> bool {
        if live < self.threshold {
            self.next_warning = self.threshold;
            return false;
        }
        if live > self.next_warning {
            self.next_warning = self.next_warning.saturating_mul(2);
            return true;
        }
        false
    }
}

/// The largest group of a census, with its count.
pub(crate) fn dominant<K: std::hash::Hash + Eq + Clone>(
    items: impl Iterator<Item = K>,
) -> Option<(K, usize)> {
    let mut counts: HashMap<K, usize> = HashMap::new();
    for k in items {
        *counts.entry(k).or_default() += 1;
    }
    counts.into_iter().max_by_key(|(_, n)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_past_the_threshold_then_at_each_doubling_and_rearms() {
        let mut s = SiteNames::new(10);
        assert!(!s.should_warn(10));
        assert!(s.should_warn(11));
        assert!(!s.should_warn(15));
        assert!(s.should_warn(21));
        assert!(!s.should_warn(5));
        assert!(s.should_warn(11));
    }

    #[test]
    fn the_same_location_keeps_its_number() {
        let mut ids = SiteIds::default();
        let here = Location::caller();
        assert_eq!(ids.id(here), (1, true));
        assert_eq!(ids.id(here), (1, false));
    }

    #[test]
    fn dominant_picks_the_largest_group() {
        assert_eq!(dominant(["a", "b", "a"].into_iter()), Some(("a", 2)));
    }
}

#[cfg(test)]
mod site_tests {
    use super::*;

    #[test]
    fn a_peer_cannot_make_site_names_cost_more_than_the_bound() {
        let mut names = SiteNames::new(10);
        let huge = "é".repeat(1024);
        for id in 1..=(MAX_SITES as u32 + 100) {
            names.name(id, huge.clone());
        }
        assert_eq!(names.names.len(), MAX_SITES);
        let kept: usize = names.names.values().map(String::len).sum();
        assert!(kept <= MAX_SITES * (MAX_SITE_NAME + 3), "{kept} bytes kept");
        assert!(names.describe(1).ends_with('…'));
        assert!(names
            .describe(MAX_SITES as u32 + 1)
            .starts_with("call site #"));
    }
}
