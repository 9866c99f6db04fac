//! Reconnection delays: exponential, capped, with jitter, reset when a
//! connection succeeds. git-annex doubles a delay from one second up to
//! an hour, without jitter; here the delay doubles up to the cap, and each
//! wait is a random part (half to all) of it, so that daemons cut off
//! together do not come back together.

use std::time::Duration;

/// Makes the seeds of backoffs made at the same moment differ.
static SEEDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The delays of one remote's reconnections.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    current: Duration,
    rng: u64,
}

impl Backoff {
    /// Starting at `initial`, never above `max`.
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
            ^ (u64::from(std::process::id()) << 32)
            ^ SEEDS.fetch_add(0x9e37_79b9_7f4a_7c15, std::sync::atomic::Ordering::Relaxed);
        Backoff {
            initial,
            max: max.max(initial),
            current: initial,
            rng: seed | 1,
        }
    }

    /// A random fraction in [0.5, 1] (xorshift64).
    fn fraction(&mut self) -> f64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        0.5 + (self.rng >> 11) as f64 / (1u64 << 53) as f64 / 2.0
    }

    /// The next wait (the current delay, jittered); the delay doubles.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.current.mul_f64(self.fraction());
        self.current = (self.current * 2).min(self.max);
        d
    }

    /// The longest wait (after a protocol error).
    pub fn longest(&mut self) -> Duration {
        self.current = self.max;
        self.next_delay()
    }

    /// A connection succeeded: the next delay is the first again.
    pub fn reset(&mut self) {
        self.current = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn delays_double_up_to_the_cap_with_jitter(init_ms in 1u64..5000, cap_ms in 1u64..100_000, n in 1usize..40) {
            let (init, cap) = (Duration::from_millis(init_ms), Duration::from_millis(cap_ms));
            let mut b = Backoff::new(init, cap);
            let mut nominal = init;
            let top = cap.max(init);
            for _ in 0..n {
                let d = b.next_delay();
                prop_assert!(d <= nominal && d >= nominal / 2 - Duration::from_millis(1));
                nominal = (nominal * 2).min(top);
            }
            b.reset();
            let d = b.next_delay();
            prop_assert!(d <= init);
        }
    }
}
