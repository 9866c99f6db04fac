//! Encryption of special remotes as git-annex does it (`encryption=shared`,
//! `hybrid`, `pubkey`, `sharedpubkey`): the cipher kept in `remote.log`,
//! the HMAC key names, and content run through `gpg`.
//!
//! The cipher is gpg's armored random data (`gpg --gen-random --armor`,
//! 512 bytes of entropy for a full cipher, 256 for one used only for
//! names), trailing newline included. `remote.log` keeps it base64-encoded
//! in `cipher=`: as it is for `shared` (and `sharedpubkey`, with the
//! recipients in `pubkeys=`), encrypted to the gpg keys of `cipherkeys=`
//! for `hybrid` and `pubkey`. Its first 256 bytes are the HMAC key that
//! names stored keys (`GPGHMACSHA1--HEX`, [`Mac`], [`encrypt_key`]); the
//! rest is the passphrase of gpg's symmetric encryption (`shared`,
//! `hybrid`), given to gpg as the first line of its standard input
//! (`--passphrase-fd 0`), the content following it. With
//! `pubkey` and `sharedpubkey` content is encrypted to the gpg keys
//! instead. gpg is run with git-annex's options: `--quiet --trust-model
//! always`, `--batch --no-tty --use-agent` first when `GPG_AGENT_INFO` or
//! `GPG_BATCH` is set, `annex.gnupg-options` / `remote.NAME.annex-gnupg-options`
//! (and `-decrypt-options`) added, `gpg.program` as the program.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;

use crate::config::AnnexConfig;
use crate::key::Key;

/// Why encryption could not be set up or used.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// A configuration problem, in git-annex's words.
    #[error("{0}")]
    Config(String),
    /// gpg could not be run.
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// gpg failed.
    #[error("gpg failed ({0})")]
    Gpg(String),
    /// A file could not be read or written.
    #[error("cannot {what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The number of bytes of entropy of a full cipher.
pub const CIPHER_SIZE: usize = 512;
/// The part of the cipher used as the HMAC key (the rest is the
/// passphrase).
pub const CIPHER_BEGINNING: usize = 256;

/// How key names are encrypted (`mac=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mac {
    /// `HMACSHA1`, the default.
    HmacSha1,
    /// `HMACSHA224`.
    HmacSha224,
    /// `HMACSHA256`.
    HmacSha256,
    /// `HMACSHA384`.
    HmacSha384,
    /// `HMACSHA512`.
    HmacSha512,
}

impl Mac {
    /// Every MAC with its name, in the order git-annex lists them.
    pub const ALL: [(Mac, &'static str); 5] = [
        (Mac::HmacSha1, "HMACSHA1"),
        (Mac::HmacSha224, "HMACSHA224"),
        (Mac::HmacSha256, "HMACSHA256"),
        (Mac::HmacSha384, "HMACSHA384"),
        (Mac::HmacSha512, "HMACSHA512"),
    ];

    /// The MAC named `s`.
    pub fn parse(s: &str) -> Option<Mac> {
        Mac::ALL.iter().find(|(_, n)| *n == s).map(|(m, _)| *m)
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        Mac::ALL
            .iter()
            .find(|(m, _)| *m == self)
            .map(|(_, n)| *n)
            .unwrap_or("HMACSHA1")
    }

    /// The HMAC of `msg` under `key`, in lower-case hex.
    pub fn hmac_hex(self, key: &[u8], msg: &[u8]) -> String {
        let out = match self {
            Mac::HmacSha1 => hmac::<sha1::Sha1>(64, key, msg),
            Mac::HmacSha224 => hmac::<sha2::Sha224>(64, key, msg),
            Mac::HmacSha256 => hmac::<sha2::Sha256>(64, key, msg),
            Mac::HmacSha384 => hmac::<sha2::Sha384>(128, key, msg),
            Mac::HmacSha512 => hmac::<sha2::Sha512>(128, key, msg),
        };
        out.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// HMAC (RFC 2104) with hash `D` of block size `block`.
fn hmac<D: sha2::Digest>(block: usize, key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut k = if key.len() > block {
        D::digest(key).to_vec()
    } else {
        key.to_vec()
    };
    k.resize(block, 0);
    let mut inner = D::new();
    inner.update(k.iter().map(|b| b ^ 0x36).collect::<Vec<u8>>());
    inner.update(msg);
    let ih = inner.finalize();
    let mut outer = D::new();
    outer.update(k.iter().map(|b| b ^ 0x5c).collect::<Vec<u8>>());
    outer.update(ih);
    outer.finalize().to_vec()
}

/// `encryption=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `none`.
    None,
    /// `shared`: the cipher in `remote.log` as it is.
    Shared,
    /// `hybrid`: the cipher encrypted to gpg keys, content symmetric.
    Hybrid,
    /// `pubkey`: the cipher (names only) encrypted to gpg keys, content
    /// encrypted to them.
    PubKey,
    /// `sharedpubkey`: the cipher (names only) as it is, content encrypted
    /// to the gpg keys of `pubkeys=`.
    SharedPubKey,
}

impl Scheme {
    /// The values of `encryption=` in git-annex's order.
    pub const NAMES: [(&'static str, Scheme); 5] = [
        ("hybrid", Scheme::Hybrid),
        ("none", Scheme::None),
        ("pubkey", Scheme::PubKey),
        ("shared", Scheme::Shared),
        ("sharedpubkey", Scheme::SharedPubKey),
    ];

    /// The scheme named `s`.
    pub fn parse(s: &str) -> Option<Scheme> {
        Scheme::NAMES.iter().find(|(n, _)| *n == s).map(|(_, m)| *m)
    }
}

/// The message refusing a missing or unknown `encryption=`.
pub fn bad_encryption_message() -> String {
    let names: Vec<String> = Scheme::NAMES
        .iter()
        .map(|(n, _)| format!("encryption={n}"))
        .collect();
    format!("Specify {}.", names.join(" or "))
}

/// The cipher as `remote.log` keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredCipher {
    /// `shared`: the cipher itself.
    Shared(Vec<u8>),
    /// `hybrid` or `pubkey`: the cipher encrypted to the key ids.
    Encrypted {
        /// The encrypted cipher.
        data: Vec<u8>,
        /// `pubkey` (the cipher names keys only) or `hybrid`.
        pubkey: bool,
        /// `cipherkeys=`.
        keys: Vec<String>,
    },
    /// `sharedpubkey`: the cipher itself, content to the key ids.
    SharedPubKey {
        /// The cipher.
        data: Vec<u8>,
        /// `pubkeys=`.
        keys: Vec<String>,
    },
}

impl StoredCipher {
    /// The cipher of a `remote.log` configuration, as git-annex's
    /// `extractCipher` finds it (none when encryption is off).
    pub fn extract(c: &BTreeMap<String, String>) -> Option<StoredCipher> {
        let b64 = |t: &str| {
            base64::engine::general_purpose::STANDARD
                .decode(t.trim())
                .ok()
        };
        let data = b64(c.get("cipher")?)?;
        let keys = c
            .get("cipherkeys")
            .or_else(|| c.get("pubkeys"))
            .map(|k| k.split(',').map(str::to_string).collect::<Vec<_>>());
        match (keys, scheme_of(c)) {
            (Some(keys), Some(Scheme::Hybrid)) => Some(StoredCipher::Encrypted {
                data,
                pubkey: false,
                keys,
            }),
            (Some(keys), Some(Scheme::PubKey)) => Some(StoredCipher::Encrypted {
                data,
                pubkey: true,
                keys,
            }),
            (Some(keys), Some(Scheme::SharedPubKey)) => {
                Some(StoredCipher::SharedPubKey { data, keys })
            }
            (None, Some(Scheme::Shared)) => Some(StoredCipher::Shared(data)),
            _ => None,
        }
    }

    /// Adds the cipher to a configuration (`cipher=`, and `cipherkeys=` or
    /// `pubkeys=`).
    pub fn store(&self, c: &mut BTreeMap<String, String>) {
        let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
        match self {
            StoredCipher::Shared(d) => {
                c.insert("cipher".into(), b64(d));
            }
            StoredCipher::Encrypted { data, keys, .. } => {
                c.insert("cipher".into(), b64(data));
                c.insert("cipherkeys".into(), keys.join(","));
            }
            StoredCipher::SharedPubKey { data, keys } => {
                c.insert("cipher".into(), b64(data));
                c.insert("pubkeys".into(), keys.join(","));
            }
        }
    }

    /// What `initremote` says of it (`encryption key stored in git
    /// repository`, `to gpg keys: ID...`).
    pub fn describe(&self) -> String {
        match self {
            StoredCipher::Shared(_) => "encryption key stored in git repository".to_string(),
            StoredCipher::Encrypted { keys, .. } | StoredCipher::SharedPubKey { keys, .. } => {
                format!("to gpg keys: {}", keys.join(" "))
            }
        }
    }
}

/// The scheme of a configuration: `encryption=`, else hybrid when
/// `keyid=` or `cipher=` is there (as git-annex).
pub fn scheme_of(c: &BTreeMap<String, String>) -> Option<Scheme> {
    match c.get("encryption") {
        Some(s) => Scheme::parse(s),
        None if c.contains_key("keyid") || c.contains_key("cipher") => Some(Scheme::Hybrid),
        None => None,
    }
}

/// The decrypted cipher.
#[derive(Clone, PartialEq, Eq)]
pub enum Cipher {
    /// A full cipher: names and symmetric passphrase.
    Full(Vec<u8>),
    /// A cipher for names only (content is encrypted to public keys).
    MacOnly(Vec<u8>),
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(..)")
    }
}

impl Cipher {
    /// The HMAC key.
    pub fn mac_key(&self) -> &[u8] {
        match self {
            Cipher::Full(c) => &c[..c.len().min(CIPHER_BEGINNING)],
            Cipher::MacOnly(c) => c,
        }
    }

    /// The symmetric passphrase (a full cipher only).
    pub fn passphrase(&self) -> Option<&[u8]> {
        match self {
            Cipher::Full(c) => Some(&c[c.len().min(CIPHER_BEGINNING)..]),
            Cipher::MacOnly(_) => None,
        }
    }
}

/// The encrypted name of `key`: `GPG<MAC>--<hex HMAC of the key>`.
pub fn encrypt_key(mac: Mac, cipher: &Cipher, key: &Key) -> Option<Key> {
    let name = format!(
        "GPG{}--{}",
        mac.name(),
        mac.hmac_hex(cipher.mac_key(), key.as_bytes())
    );
    Key::parse(name.as_bytes()).ok()
}

/// Stops a child gpg that is not going to be waited for otherwise: killed
/// (it may be done already) and waited for, so that no zombie is left.
fn reap(child: &mut std::process::Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// How gpg is run for a remote.
#[derive(Debug, Clone)]
pub struct Gpg {
    /// `gpg.program`, else `gpg`.
    pub program: String,
    /// `remote.NAME.annex-gnupg-options`, else `annex.gnupg-options`.
    pub options: Vec<String>,
    /// `remote.NAME.annex-gnupg-decrypt-options`, else
    /// `annex.gnupg-decrypt-options`.
    pub decrypt_options: Vec<String>,
}

impl Gpg {
    /// gpg as git config sets it for remote `name`.
    pub fn from_config(config: &AnnexConfig, name: &str) -> Gpg {
        let opts = |field: &str| {
            config
                .get_str(&format!("remote.{name}.annex-{field}"))
                .or_else(|| config.get_str(&format!("annex.{field}")))
                .map(|s| s.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default()
        };
        Gpg {
            program: config
                .get_str("gpg.program")
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "gpg".to_string()),
            options: opts("gnupg-options"),
            decrypt_options: opts("gnupg-decrypt-options"),
        }
    }

    /// git-annex's leading parameters, then `params`.
    fn args(&self, params: &[String]) -> Vec<String> {
        let mut a = Vec::new();
        if std::env::var_os("GPG_AGENT_INFO").is_some() || std::env::var_os("GPG_BATCH").is_some() {
            a.extend(["--batch", "--no-tty", "--use-agent"].map(String::from));
        }
        a.extend(["--quiet", "--trust-model", "always"].map(String::from));
        a.extend(params.iter().cloned());
        a
    }

    fn spawn_err(&self, source: std::io::Error) -> CryptoError {
        CryptoError::Spawn {
            program: self.program.clone(),
            source,
        }
    }

    /// Runs gpg with `params`, `input` on its stdin; its stdout.
    fn pipe(&self, params: &[String], input: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut child = Command::new(&self.program)
            .args(self.args(params))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| self.spawn_err(e))?;
        let stdin = child.stdin.take();
        let input = input.to_vec();
        let writer = std::thread::spawn(move || {
            if let Some(mut s) = stdin {
                // gpg may not read it all (it failed): not an error here,
                // its exit status says.
                let _ = s.write_all(&input);
            }
        });
        let mut out = Vec::new();
        let read = match child.stdout.take() {
            Some(mut so) => so.read_to_end(&mut out).map(drop),
            None => Ok(()),
        };
        if let Err(e) = read {
            // gpg killed, the writer unblocked (its pipe broken), both
            // waited for.
            reap(&mut child);
            let _ = writer.join();
            return Err(self.spawn_err(e));
        }
        let _ = writer.join();
        let status = child.wait().map_err(|e| {
            reap(&mut child);
            self.spawn_err(e)
        })?;
        if !status.success() {
            return Err(CryptoError::Gpg(format!(
                "{} exited {status}",
                self.program
            )));
        }
        Ok(out)
    }

    /// Random data for a cipher: `gpg --gen-random --armor Q SIZE`.
    pub fn gen_random(&self, high_quality: bool, size: usize) -> Result<Vec<u8>, CryptoError> {
        let q = if high_quality { "2" } else { "1" };
        let params: Vec<String> = vec![
            "--gen-random".into(),
            "--armor".into(),
            q.into(),
            size.to_string(),
        ];
        let out = self.pipe(&params, b"")?;
        let expected = size * 8 / 6;
        if out.len() < expected {
            return Err(CryptoError::Gpg(format!(
                "Not enough bytes returned from gpg (got {}; expected {expected})",
                out.len()
            )));
        }
        Ok(out)
    }

    /// The key ids of the public keys matching `what` (`pub` lines of
    /// `--with-colons --list-public-keys`); `ID!` is taken as it is.
    pub fn find_pub_keys(&self, what: &str) -> Result<Vec<String>, CryptoError> {
        let body = what.strip_suffix('!');
        if let Some(b) = body
            && !b.is_empty()
            && b.chars().all(|c| c.is_ascii_hexdigit())
        {
            return Ok(vec![what.to_string()]);
        }
        let out = self.pipe(
            &[
                "--with-colons".into(),
                "--list-public-keys".into(),
                what.into(),
            ],
            b"",
        )?;
        Ok(String::from_utf8_lossy(&out)
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.first() == Some(&"pub") && f.len() > 5).then(|| f[4].to_string())
            })
            .collect())
    }

    fn recipients(keys: &[String]) -> Vec<String> {
        keys.iter()
            .flat_map(|k| ["--recipient".to_string(), k.clone()])
            .collect()
    }

    fn pk_params() -> Vec<String> {
        ["--encrypt", "--no-encrypt-to", "--no-default-recipient"]
            .map(String::from)
            .to_vec()
    }

    fn sym_params() -> Vec<String> {
        ["--symmetric"].map(String::from).to_vec()
    }

    fn std_tail() -> Vec<String> {
        ["--force-mdc", "--no-textmode"].map(String::from).to_vec()
    }

    /// A new cipher for `scheme` (`keyid` looked up for the schemes with
    /// gpg keys).
    pub fn new_cipher(
        &self,
        scheme: Scheme,
        keyid: Option<&str>,
        high_quality: bool,
    ) -> Result<StoredCipher, CryptoError> {
        let need_key = || {
            keyid
                .map(|k| self.find_pub_keys(k))
                .unwrap_or_else(|| Err(CryptoError::Config("Specify keyid=...".to_string())))
        };
        match scheme {
            Scheme::None => Err(CryptoError::Config("no encryption".into())),
            Scheme::Shared => Ok(StoredCipher::Shared(
                self.gen_random(high_quality, CIPHER_SIZE)?,
            )),
            Scheme::SharedPubKey => {
                let keys = need_key()?;
                let data = self.gen_random(high_quality, CIPHER_SIZE)?;
                Ok(StoredCipher::SharedPubKey { data, keys })
            }
            Scheme::Hybrid | Scheme::PubKey => {
                let keys = need_key()?;
                let size = if scheme == Scheme::Hybrid {
                    CIPHER_SIZE
                } else {
                    CIPHER_BEGINNING
                };
                let cipher = self.gen_random(high_quality, size)?;
                self.encrypt_cipher(&cipher, scheme == Scheme::PubKey, keys)
            }
        }
    }

    /// Encrypts a cipher to `keys` (sorted, duplicates dropped).
    pub fn encrypt_cipher(
        &self,
        cipher: &[u8],
        pubkey: bool,
        mut keys: Vec<String>,
    ) -> Result<StoredCipher, CryptoError> {
        keys.sort();
        keys.dedup();
        let mut params = self.options.clone();
        params.extend(Self::recipients(&keys));
        params.extend(Self::pk_params());
        params.extend(Self::std_tail());
        let data = self.pipe(&params, cipher)?;
        Ok(StoredCipher::Encrypted { data, pubkey, keys })
    }

    /// The cipher of a stored one (decrypted with gpg when encrypted).
    pub fn decrypt_cipher(&self, stored: &StoredCipher) -> Result<Cipher, CryptoError> {
        match stored {
            StoredCipher::Shared(d) => Ok(Cipher::Full(d.clone())),
            StoredCipher::SharedPubKey { data, .. } => Ok(Cipher::MacOnly(data.clone())),
            StoredCipher::Encrypted { data, pubkey, .. } => {
                let mut params = vec!["--decrypt".to_string()];
                params.extend(self.decrypt_options.clone());
                let c = self.pipe(&params, data)?;
                Ok(if *pubkey {
                    Cipher::MacOnly(c)
                } else {
                    Cipher::Full(c)
                })
            }
        }
    }

    /// Runs gpg from file `src` to file `dst`. The passphrase (when
    /// given) is the first line of gpg's standard input, the content
    /// following it (`--passphrase-fd 0`: gpg reads that line byte by byte
    /// before the content): no descriptor but gpg's standard ones is
    /// inherited, by gpg or by any other program started meanwhile.
    fn run_files(
        &self,
        mut params: Vec<String>,
        passphrase: Option<&[u8]>,
        src: &Path,
        dst: &Path,
    ) -> Result<(), CryptoError> {
        let io = |what, path: &Path| {
            let path = path.to_path_buf();
            move |source| CryptoError::Io { what, path, source }
        };
        let mut input = std::fs::File::open(src).map_err(io("read", src))?;
        let output = std::fs::File::create(dst).map_err(io("write", dst))?;
        // gpg reads the passphrase up to its first newline (the cipher's
        // armored text has several lines): only that is sent, or the rest
        // would be read as content.
        let line = passphrase.map(|p| {
            let end = p.iter().position(|&b| b == b'\n').unwrap_or(p.len());
            let mut line = p[..end].to_vec();
            line.push(b'\n');
            line
        });
        if line.is_some() {
            let mut p2 = vec!["--passphrase-fd".to_string(), "0".to_string()];
            p2.append(&mut params);
            params = p2;
        }
        let mut all = vec!["--batch".to_string()];
        all.extend(params);
        let mut cmd = Command::new(&self.program);
        cmd.args(self.args(&all)).stdout(output);
        let result = match line {
            None => cmd.stdin(input).status().map_err(|e| self.spawn_err(e)),
            Some(line) => {
                let mut child = cmd
                    .stdin(Stdio::piped())
                    .spawn()
                    .map_err(|e| self.spawn_err(e))?;
                let stdin = child.stdin.take();
                let writer = std::thread::spawn(move || -> Result<(), (bool, std::io::Error)> {
                    let Some(mut s) = stdin else {
                        return Ok(());
                    };
                    s.write_all(&line).map_err(|e| (false, e))?;
                    let mut buf = vec![0u8; 1 << 16];
                    loop {
                        let n = match input.read(&mut buf) {
                            Ok(0) => return Ok(()),
                            Ok(n) => n,
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                            Err(e) => return Err((true, e)),
                        };
                        s.write_all(&buf[..n]).map_err(|e| (false, e))?;
                    }
                });
                match writer.join() {
                    Ok(Err((true, e))) => {
                        // The content could not be read: gpg stopped.
                        reap(&mut child);
                        Err(io("read", src)(e))
                    }
                    // A write gpg did not take: its exit status says why.
                    Ok(_) => child.wait().map_err(|e| {
                        reap(&mut child);
                        self.spawn_err(e)
                    }),
                    Err(_) => {
                        reap(&mut child);
                        Err(CryptoError::Gpg("the writer to gpg failed".to_string()))
                    }
                }
            }
        };
        match result {
            Ok(status) if status.success() => Ok(()),
            Ok(status) => {
                let _ = std::fs::remove_file(dst);
                Err(CryptoError::Gpg(format!(
                    "{} exited {status}",
                    self.program
                )))
            }
            Err(e) => {
                let _ = std::fs::remove_file(dst);
                Err(e)
            }
        }
    }

    /// Encrypts file `src` into `dst` with `cipher` (symmetric for a full
    /// cipher, else to `recipients`).
    pub fn encrypt_file(
        &self,
        cipher: &Cipher,
        recipients: &[String],
        src: &Path,
        dst: &Path,
    ) -> Result<(), CryptoError> {
        let mut params = self.options.clone();
        match cipher.passphrase() {
            Some(p) => {
                params.extend(Self::sym_params());
                params.extend(Self::std_tail());
                self.run_files(params, Some(p), src, dst)
            }
            None => {
                params.extend(Self::recipients(recipients));
                params.extend(Self::pk_params());
                params.extend(Self::std_tail());
                self.run_files(params, None, src, dst)
            }
        }
    }

    /// Decrypts file `src` into `dst`.
    pub fn decrypt_file(&self, cipher: &Cipher, src: &Path, dst: &Path) -> Result<(), CryptoError> {
        let mut params = vec!["--decrypt".to_string()];
        params.extend(self.decrypt_options.clone());
        self.run_files(params, cipher.passphrase(), src, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha1_is_the_references_known_value() {
        // git-annex's prop_HmacSha1WithCipher_sane.
        assert_eq!(
            Mac::HmacSha1.hmac_hex(b"foo", b"bar"),
            "46b4ec586117154dacd49d664e5d63fdc88efb51"
        );
    }

    #[test]
    fn hmacs_match_rfc_4231_case_2() {
        let (k, m) = (
            b"Jefe".as_slice(),
            b"what do ya want for nothing?".as_slice(),
        );
        assert_eq!(
            Mac::HmacSha224.hmac_hex(k, m),
            "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44"
        );
        assert_eq!(
            Mac::HmacSha256.hmac_hex(k, m),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(
            Mac::HmacSha384
                .hmac_hex(k, m)
                .starts_with("af45d2e376484031617f78d2b58a6b1b")
        );
        assert!(
            Mac::HmacSha512
                .hmac_hex(k, m)
                .starts_with("164b7a7bfcf819e2e395fbe73b56e0a3")
        );
        // A key longer than the block is hashed first.
        let long = [0xaau8; 131];
        assert!(
            Mac::HmacSha256
                .hmac_hex(
                    &long,
                    b"Test Using Larger Than Block-Size Key - Hash Key First"
                )
                .starts_with("60e431591ee0b67f0d8a26aacbf5b77f")
        );
    }

    #[test]
    fn encrypted_key_names_are_the_references() {
        // A chunk key's name on a shared remote the reference wrote.
        let cipher = Cipher::Full(vec![b'a'; 300]);
        let key = Key::parse(b"SHA256E-s40-S10-C1--abc").unwrap();
        let k = encrypt_key(Mac::HmacSha1, &cipher, &key).unwrap();
        let expect = Mac::HmacSha1.hmac_hex(&[b'a'; 256], key.as_bytes());
        assert_eq!(
            String::from_utf8_lossy(k.as_bytes()),
            format!("GPGHMACSHA1--{expect}")
        );
        let k = encrypt_key(Mac::HmacSha512, &Cipher::MacOnly(vec![1; 10]), &key).unwrap();
        assert!(k.as_bytes().starts_with(b"GPGHMACSHA512--"));
    }

    #[test]
    fn stored_ciphers_round_trip_through_the_configuration() {
        for (scheme, stored) in [
            ("shared", StoredCipher::Shared(b"abc\n".to_vec())),
            (
                "hybrid",
                StoredCipher::Encrypted {
                    data: vec![0, 1, 2, 255],
                    pubkey: false,
                    keys: vec!["A".into(), "B".into()],
                },
            ),
            (
                "pubkey",
                StoredCipher::Encrypted {
                    data: vec![9; 40],
                    pubkey: true,
                    keys: vec!["C".into()],
                },
            ),
            (
                "sharedpubkey",
                StoredCipher::SharedPubKey {
                    data: vec![7; 3],
                    keys: vec!["D".into()],
                },
            ),
        ] {
            let mut c = BTreeMap::new();
            c.insert("encryption".to_string(), scheme.to_string());
            stored.store(&mut c);
            assert_eq!(StoredCipher::extract(&c), Some(stored.clone()), "{scheme}");
        }
        let mut c = BTreeMap::new();
        c.insert("encryption".to_string(), "none".to_string());
        assert_eq!(StoredCipher::extract(&c), None);
    }

    #[test]
    fn the_cipher_splits_at_256() {
        let c = Cipher::Full((0..=255u8).chain(0..100).collect());
        assert_eq!(c.mac_key().len(), 256);
        assert_eq!(c.passphrase().map(<[u8]>::len), Some(100));
        assert_eq!(Cipher::MacOnly(vec![1; 5]).passphrase(), None);
        assert_eq!(
            bad_encryption_message(),
            "Specify encryption=hybrid or encryption=none or encryption=pubkey or encryption=shared or encryption=sharedpubkey."
        );
    }

    /// A fake gpg: `body` run by sh, in `dir` (its name the program's).
    fn fake_gpg(dir: &Path, name: &str, body: &str) -> Gpg {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        Gpg {
            program: p.to_string_lossy().into_owned(),
            options: Vec::new(),
            decrypt_options: Vec::new(),
        }
    }

    fn open_fds(listing: &[u8]) -> usize {
        listing
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count()
    }

    #[test]
    fn the_passphrase_pipe_is_inherited_by_gpg_alone_and_only_as_stdin() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        // What any program started from here inherits (ls's own directory
        // included).
        let baseline = Command::new("sh")
            .args(["-c", "ls /proc/self/fd"])
            .output()
            .unwrap();
        let gpg = fake_gpg(
            d,
            "gpg",
            r#"here=$(dirname "$0")
ls /proc/self/fd > "$here/fds"
while [ $# -gt 0 ]; do [ "$1" = --passphrase-fd ] && fd=$2; shift; done
IFS= read -r pass <&$fd
printf '%s\n' "$pass" > "$here/pass"
cat"#,
        );
        let src = d.join("src");
        std::fs::write(&src, b"content\nmore\n").unwrap();
        let dst = d.join("dst");
        // Only the first line of the passphrase is gpg's (as from a pipe
        // of its own); the rest is not content.
        gpg.run_files(vec![], Some(b"s3cret\nrest\n"), &src, &dst)
            .unwrap();
        assert_eq!(std::fs::read(d.join("pass")).unwrap(), b"s3cret\n");
        assert_eq!(std::fs::read(&dst).unwrap(), b"content\nmore\n");
        let fds = std::fs::read(d.join("fds")).unwrap();
        assert!(
            open_fds(&fds) <= open_fds(&baseline.stdout),
            "gpg inherited more than its standard descriptors: {}",
            String::from_utf8_lossy(&fds)
        );
    }

    #[test]
    fn gpg_is_killed_and_waited_for_when_the_content_cannot_be_read() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        let gpg = fake_gpg(d, "gpgkilltest", "exec sleep 600");
        // A directory opens but cannot be read.
        let src = d.join("srcdir");
        std::fs::create_dir(&src).unwrap();
        let dst = d.join("dst");
        let start = std::time::Instant::now();
        let r = gpg.run_files(vec![], Some(b"s3cret"), &src, &dst);
        assert!(
            matches!(r, Err(CryptoError::Io { what: "read", .. })),
            "{r:?}"
        );
        assert!(start.elapsed() < std::time::Duration::from_secs(60));
        assert!(!dst.exists());
        // No child of ours left, running or zombie.
        let me = std::process::id().to_string();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            let Some((comm, rest)) = stat.split_once(") ") else {
                continue;
            };
            let ppid = rest.split(' ').nth(1);
            assert!(
                !(ppid == Some(me.as_str())
                    && (comm.ends_with("(gpgkilltest") || comm.ends_with("(sleep"))),
                "gpg left behind: {stat}"
            );
        }
    }
}
