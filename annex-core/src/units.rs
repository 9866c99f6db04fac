//! Data sizes as git-annex reads and shows them: its units (storage units,
//! powers of 1000; committee units, powers of 1024; bandwidth units, bits),
//! one reader ([`read_size`], git-annex's `readSize dataUnits`) and one
//! formatter ([`rough_size`], git-annex's `roughSize`).
//!
//! Every size a user writes (`annex.diskreserve`, `--largerthan`,
//! `largerthan=` in preferred content, `maxsize`, `matchexpression
//! --size`) goes through [`read_size`]; every size shown in git-annex's
//! rough form (`info`, `fsck`'s size notes, `${humansize}`, the
//! disk-space refusal) through [`rough_size`].
//!
//! ```
//! use annex_core::units::{read_size, rough_size, COMMITTEE_UNITS, STORAGE_UNITS};
//! assert_eq!(read_size(b"1.5 kB"), Some(1500));
//! assert_eq!(read_size(b"2 MiB"), Some(2 << 20));
//! assert_eq!(rough_size(&STORAGE_UNITS, true, 1_050_000), "1.05 MB");
//! assert_eq!(rough_size(&STORAGE_UNITS, false, 1), "1 byte");
//! assert_eq!(rough_size(&COMMITTEE_UNITS, false, 33_554_432), "32 mebibytes");
//! ```

use crate::preferred::glob::decode;
use crate::preferred::text::{is_space, reads_double};

/// A unit: its size in bytes, abbreviation and name (singular).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit {
    /// Bytes in one of it.
    pub size: u128,
    /// The abbreviation (`kB`, `MiB`, `Mbit`).
    pub abbrev: &'static str,
    /// The name, singular (`kilobyte`).
    pub name: &'static str,
}

const fn u(size: u128, abbrev: &'static str, name: &'static str) -> Unit {
    Unit { size, abbrev, name }
}

const K: u128 = 1000;

/// Storage units (powers of 1000), largest first, ending with bytes.
pub static STORAGE_UNITS: [Unit; 11] = [
    u(K.pow(10), "QB", "quettabyte"),
    u(K.pow(9), "RB", "ronnabyte"),
    u(K.pow(8), "YB", "yottabyte"),
    u(K.pow(7), "ZB", "zettabyte"),
    u(K.pow(6), "EB", "exabyte"),
    u(K.pow(5), "PB", "petabyte"),
    u(K.pow(4), "TB", "terabyte"),
    u(K.pow(3), "GB", "gigabyte"),
    u(K.pow(2), "MB", "megabyte"),
    u(K, "kB", "kilobyte"),
    u(1, "B", "byte"),
];

/// Committee units (powers of 1024), largest first, ending with bytes.
pub static COMMITTEE_UNITS: [Unit; 9] = [
    u(1 << 80, "YiB", "yobibyte"),
    u(1 << 70, "ZiB", "zebibyte"),
    u(1 << 60, "EiB", "exbibyte"),
    u(1 << 50, "PiB", "pebibyte"),
    u(1 << 40, "TiB", "tebibyte"),
    u(1 << 30, "GiB", "gibibyte"),
    u(1 << 20, "MiB", "mebibyte"),
    u(1 << 10, "KiB", "kibibyte"),
    u(1, "B", "byte"),
];

/// Bandwidth units (bits, powers of 1000), largest first.
pub static BANDWIDTH_UNITS: [Unit; 8] = [
    u(K.pow(8) / 8, "Ybit", "yottabit"),
    u(K.pow(7) / 8, "Zbit", "zettabit"),
    u(K.pow(6) / 8, "Ebit", "exabit"),
    u(K.pow(5) / 8, "Pbit", "petabit"),
    u(K.pow(4) / 8, "Tbit", "terabit"),
    u(K.pow(3) / 8, "Gbit", "gigabit"),
    u(K.pow(2) / 8, "Mbit", "megabit"),
    u(K / 8, "kbit", "kilobit"),
];

/// git-annex's `dataUnits`, in its order: storage, committee, bandwidth.
pub fn data_units() -> impl Iterator<Item = &'static Unit> {
    STORAGE_UNITS
        .iter()
        .chain(&COMMITTEE_UNITS)
        .chain(&BANDWIDTH_UNITS)
}

/// Reads a size such as `10kb`, `0.5 GiB` or `100 KiloBytes` as git-annex
/// does (`readSize dataUnits`): a leading number (as Haskell's `reads`
/// reads a `Double`), then optional white space and a unit named by its
/// abbreviation, its name, its plural, or its abbreviation without the
/// final `b`, in any case; no unit means bytes, and anything after the
/// unit's letters is ignored. Rounds half to even; saturates at the
/// extremes. `None` when git-annex says "bad size".
///
/// ```
/// use annex_core::units::read_size;
/// assert_eq!(read_size(b"10kb"), Some(10_000));
/// assert_eq!(read_size(b"2 megabytes"), Some(2_000_000));
/// assert_eq!(read_size(b"100"), Some(100));
/// assert_eq!(read_size(b"lots"), None);
/// ```
pub fn read_size(s: &[u8]) -> Option<i128> {
    let (number, rest) = reads_double(s)?;
    let rest = decode(rest);
    let unit: String = rest
        .iter()
        .skip_while(|&&c| is_space(c))
        .map_while(|&c| char::from_u32(c).filter(|ch| ch.is_alphabetic()))
        .collect();
    let multiplier = if unit.is_empty() {
        1.0
    } else {
        let v = unit.to_lowercase();
        let eq = |a: &str, b: &str| a.to_lowercase() == b;
        data_units()
            .find(|un| {
                eq(un.abbrev, &v)
                    || eq(un.name, &v)
                    || eq(&format!("{}s", un.name), &v)
                    || eq(un.abbrev, &format!("{v}b"))
            })?
            .size as f64
    };
    let x = (number * multiplier).round_ties_even();
    if x.is_nan() {
        return Some(0);
    }
    // Saturates at the extremes (git-annex uses unbounded integers).
    Some(x as i128)
}

/// git-annex's `roughSize units short bytes`: the size in the largest of
/// `units` not above it (the last one for sizes below all), with at most
/// two decimals ([`show_imprecise`]); the abbreviation when `short`, else
/// the name, plural unless the number shown is `1`.
pub fn rough_size(units: &[Unit], short: bool, bytes: u128) -> String {
    let unit = units
        .iter()
        .find(|u| bytes >= u.size)
        .or(units.last())
        .copied()
        .unwrap_or(u(1, "B", "byte"));
    let s = show_imprecise(2, bytes as f64 / unit.size as f64);
    if short {
        format!("{s} {}", unit.abbrev)
    } else if s == "1" {
        format!("{s} {}", unit.name)
    } else {
        format!("{s} {}s", unit.name)
    }
}

/// git-annex's `showImprecise precision n` for a non-negative number: at
/// most `precision` decimals, halves rounded to even, trailing zeros
/// dropped (no decimals at all when they are all zero).
pub fn show_imprecise(precision: u32, n: f64) -> String {
    let int = n.trunc();
    let scale = 10f64.powi(precision as i32);
    let mut remainder = ((n - int) * scale).round_ties_even();
    let mut int_part = int;
    if remainder >= scale {
        int_part += 1.0;
        remainder = 0.0;
    }
    if remainder == 0.0 {
        return format!("{}", int_part as u128);
    }
    let digits = format!("{:0width$}", remainder as u64, width = precision as usize);
    format!("{}.{}", int_part as u128, digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sizes_read_as_git_annex_reads_them() {
        assert_eq!(read_size(b"100 megabytes"), Some(100_000_000));
        assert_eq!(read_size(b"1GB"), Some(1_000_000_000));
        assert_eq!(read_size(b"3k"), Some(3000));
        assert_eq!(read_size(b"1kib"), Some(1024));
        assert_eq!(read_size(b"1mbit"), Some(125_000));
        assert_eq!(read_size(b"1 EB"), Some(1_000_000_000_000_000_000));
        assert_eq!(read_size(b"2.5"), Some(2));
        assert_eq!(read_size(b"1e3"), Some(1000));
        assert_eq!(read_size(b"5 parsecs"), None);
        assert_eq!(read_size(b"-5"), Some(-5));
    }

    #[test]
    fn sizes_shown_as_git_annex_shows_them() {
        assert_eq!(rough_size(&STORAGE_UNITS, false, 18), "18 bytes");
        assert_eq!(rough_size(&STORAGE_UNITS, true, 0), "0 B");
        assert_eq!(rough_size(&STORAGE_UNITS, true, 1999), "2 kB");
        assert_eq!(rough_size(&STORAGE_UNITS, true, 1005), "1 kB");
        assert_eq!(rough_size(&STORAGE_UNITS, true, 1050), "1.05 kB");
        assert_eq!(
            rough_size(&STORAGE_UNITS, false, 21_346_246_400),
            "21.35 gigabytes"
        );
        assert_eq!(
            rough_size(&STORAGE_UNITS, true, u128::from(u64::MAX)),
            "18.45 EB"
        );
        assert_eq!(rough_size(&COMMITTEE_UNITS, true, 1536), "1.5 KiB");
    }

    proptest! {
        /// A size shown short in storage units reads back within the
        /// rounding of its two decimals.
        #[test]
        fn shown_sizes_read_back_close(n in 0u64..u64::MAX) {
            let shown = rough_size(&STORAGE_UNITS, true, u128::from(n));
            let back = read_size(shown.as_bytes()).expect("readable") as f64;
            let unit = STORAGE_UNITS.iter().find(|u| u128::from(n) >= u.size).map_or(1, |u| u.size);
            prop_assert!((back - n as f64).abs() <= unit as f64 * 0.005 + 1.0, "{n} {shown} {back}");
        }

        /// Whole numbers of any unit read exactly.
        #[test]
        fn whole_units_read_exactly(k in 0u64..1000, i in 4usize..11) {
            let unit = STORAGE_UNITS[i];
            let text = format!("{k} {}", unit.abbrev);
            prop_assert_eq!(read_size(text.as_bytes()), Some(i128::from(k) * unit.size as i128));
        }

        /// Reading never panics.
        #[test]
        fn reading_never_panics(s in proptest::collection::vec(any::<u8>(), 0..24)) {
            let _ = read_size(&s);
        }
    }
}
