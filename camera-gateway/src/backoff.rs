//! Exponential backoff with jitter, for re-dialling the portal and cameras.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max: max.max(base),
            attempt: 0,
        }
    }

    /// The next delay: `base * 2^n` capped at `max`, then a random point in
    /// its upper half, so many gateways that lost the portal at once do not
    /// all come back in the same instant.
    pub fn next_delay(&mut self) -> Duration {
        let exp = self
            .base
            .checked_mul(1u32 << self.attempt.min(20))
            .unwrap_or(self.max)
            .min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let half = exp / 2;
        let jitter_ms = rand::rng().random_range(0..=half.as_millis().max(1) as u64);
        half + Duration::from_millis(jitter_ms)
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_caps_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let first = b.next_delay();
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(101));
        for _ in 0..30 {
            let d = b.next_delay();
            assert!(d <= Duration::from_millis(2001), "{d:?}");
        }
        assert!(b.next_delay() >= Duration::from_secs(1));
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(101));
    }
}
