//! One deadline for the whole capture (`capture.max_duration_secs`): the
//! page's pass, every further comment page, every opened post and the
//! artifacts share it. Passes stop at the pass deadline, which leaves the
//! artifacts their reserve, so an endless feed ends within the deadline
//! rather than after it.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    started: Instant,
    total: Duration,
    reserve: Duration,
}

impl Deadline {
    /// From now, `total` in all, of which `reserve` is kept for artifacts;
    /// the reserve is at most a third of the total, so short budgets still
    /// leave the pass most of the time.
    pub fn new(total: Duration, reserve: Duration) -> Self {
        Self {
            started: Instant::now(),
            total,
            reserve: reserve.min(total / 3),
        }
    }

    pub fn total(&self) -> Duration {
        self.total
    }

    /// Time left until the whole capture's deadline.
    pub fn left(&self) -> Duration {
        self.total.saturating_sub(self.started.elapsed())
    }

    /// Time left for passes (the page's, further pages', opened posts').
    pub fn pass_left(&self) -> Duration {
        self.total
            .saturating_sub(self.reserve)
            .saturating_sub(self.started.elapsed())
    }

    /// `bound`, or less when the deadline comes first (never zero, so a
    /// call that could answer at once still can).
    pub fn bound(&self, bound: Duration) -> Duration {
        bound.min(self.left()).max(Duration::from_millis(500))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_leave_the_reserve_and_bounds_shrink() {
        let d = Deadline::new(Duration::from_secs(600), Duration::from_secs(90));
        assert!(d.pass_left() <= Duration::from_secs(510));
        assert!(d.pass_left() > Duration::from_secs(509));
        assert_eq!(d.bound(Duration::from_secs(5)), Duration::from_secs(5));
        assert!(d.bound(Duration::from_secs(900)) <= Duration::from_secs(600));
        // The reserve is at most a third.
        let d = Deadline::new(Duration::from_secs(30), Duration::from_secs(90));
        assert!(d.pass_left() <= Duration::from_secs(20));
        assert!(d.pass_left() > Duration::from_secs(19));
        let d = Deadline::new(Duration::ZERO, Duration::ZERO);
        assert!(d.left().is_zero());
        assert_eq!(d.bound(Duration::from_secs(5)), Duration::from_millis(500));
    }
}
