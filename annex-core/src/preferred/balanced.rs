//! Which repositories of a group a key is balanced to, as git-annex picks
//! them: HMAC-SHA256 of the key (its serialized form) under the
//! concatenation of all the group's UUIDs (sorted) gives a big-endian
//! number N; of the candidate repositories (sorted), those at positions
//! `(N + i) mod count` for `i` in `0..n` are picked.
//!
//! ```
//! use std::collections::BTreeSet;
//! use annex_core::{key::Key, uuid::Uuid, preferred::balanced::pick};
//! // The reference's own stability check (prop_balanced_stable).
//! let us: BTreeSet<Uuid> = (1..=500).map(|i| Uuid::parse(i.to_string().as_bytes()).unwrap()).collect();
//! let k = Key::parse(b"WORM--test").unwrap();
//! let got: Vec<String> = pick(&us, &us, &k, 3).iter().map(|u| u.to_string()).collect();
//! assert_eq!(got, ["332", "333", "334"]);
//! ```

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

use crate::key::Key;
use crate::uuid::Uuid;

/// HMAC-SHA256 (RFC 2104).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(message);
    let ih = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(ih);
    outer.finalize().into()
}

/// Picks `n` of `candidates` for `key`, balanced over `group` (every UUID
/// that could ever be picked). The same repository may come more than once
/// when `n` exceeds the candidates; nothing when either set is empty or
/// `n <= 0`.
pub fn pick(group: &BTreeSet<Uuid>, candidates: &BTreeSet<Uuid>, key: &Key, n: i64) -> Vec<Uuid> {
    if candidates.is_empty() || n <= 0 {
        return Vec::new();
    }
    let mut secret = Vec::new();
    for u in group {
        secret.extend_from_slice(u.as_str().as_bytes());
    }
    let mac = hmac_sha256(&secret, key.as_bytes());
    let m = candidates.len() as u128;
    let r = mac
        .iter()
        .fold(0u128, |acc, &b| (acc * 256 + u128::from(b)) % m);
    let list: Vec<&Uuid> = candidates.iter().collect();
    (0..n)
        .map(|i| {
            let idx = (r + (i as u128 % m)) % m;
            list[idx as usize].clone()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_rfc4231_case2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
