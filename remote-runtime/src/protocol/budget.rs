//! How many log lines one peer can make us write: a few a second, with a
//! count of what was held back reported on the next line let through. A
//! peer that sends a million bad entries costs a handful of lines, not a
//! million.

/// Lines a peer may cause per second.
pub(crate) const LINES_PER_SECOND: u32 = 10;

/// One connection's budget of log lines; the time is passed in.
#[derive(Debug, Default)]
pub(crate) struct LogBudget {
    window_start: u64,
    used: u32,
    held_back: u64,
}

impl LogBudget {
    /// Whether a line may be written at `now` (ms): `Some(n)` with the
    /// lines held back since the last one let through, `None` when this
    /// one is held back.
    pub(crate) fn allow(&mut self, now: u64) -> Option<u64> {
        if now.saturating_sub(self.window_start) >= 1000 {
            self.window_start = now;
            self.used = 0;
        }
        if self.used < LINES_PER_SECOND {
            self.used += 1;
            Some(std::mem::take(&mut self.held_back))
        } else {
            self.held_back += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_costs_a_few_lines_a_second_and_counts_the_rest() {
        let mut budget = LogBudget::default();
        let allowed = (0..1000).filter(|_| budget.allow(5).is_some()).count();
        assert_eq!(allowed, LINES_PER_SECOND as usize);
        // A second later the count of held-back lines comes with the next.
        assert_eq!(budget.allow(1005), Some(1000 - u64::from(LINES_PER_SECOND)));
        assert_eq!(budget.allow(1006), Some(0));
    }
}
