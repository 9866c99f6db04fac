//! Medians and ratios over the samples of one operation.

use std::time::Duration;

/// The median of `values` (the mean of the two middle values for an even
/// count); `None` for no values.
pub fn median_f64(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

/// The median of durations, as in [`median_f64`].
pub fn median_duration(values: &[Duration]) -> Option<Duration> {
    let secs: Vec<f64> = values.iter().map(Duration::as_secs_f64).collect();
    median_f64(&secs).map(Duration::from_secs_f64)
}

/// The median of integer samples (peak RSS in KiB), rounded down.
pub fn median_u64(values: &[u64]) -> Option<u64> {
    let v: Vec<f64> = values.iter().map(|&x| x as f64).collect();
    median_f64(&v).map(|m| m as u64)
}

/// `reference / ours`: above 1 when ours is faster (or smaller). `None`
/// when ours is zero, where the ratio means nothing.
pub fn ratio(reference: f64, ours: f64) -> Option<f64> {
    (ours > 0.0 && reference.is_finite() && ours.is_finite()).then(|| reference / ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_even_empty() {
        assert_eq!(median_f64(&[]), None);
        assert_eq!(median_f64(&[3.0]), Some(3.0));
        assert_eq!(median_f64(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median_f64(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median_u64(&[10, 30, 20, 1000]), Some(25));
        assert_eq!(
            median_duration(&[
                Duration::from_millis(30),
                Duration::from_millis(10),
                Duration::from_millis(20)
            ]),
            Some(Duration::from_millis(20))
        );
    }

    #[test]
    fn median_is_robust_to_one_outlier() {
        assert_eq!(median_f64(&[1.0, 1.1, 100.0]), Some(1.1));
    }

    #[test]
    fn ratio_direction_and_zero() {
        assert_eq!(ratio(2.0, 1.0), Some(2.0));
        assert_eq!(ratio(1.0, 4.0), Some(0.25));
        assert_eq!(ratio(1.0, 0.0), None);
        assert_eq!(ratio(f64::NAN, 1.0), None);
    }
}
