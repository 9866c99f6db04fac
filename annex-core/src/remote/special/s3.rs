//! `type=S3`: content kept as objects in a bucket of Amazon S3 or any
//! S3-compatible server, as git-annex keeps it: the object of a key is
//! named `FILEPREFIX` + the key, the bucket holds `FILEPREFIX` +
//! `annex-uuid` (the remote's UUID, written by `initremote`), and the
//! configuration is git-annex's (`bucket`, `host`, `port`, `protocol`,
//! `requeststyle=path`, `signature=v2|v4|anonymous`, `region`,
//! `datacenter`, `storageclass`, `fileprefix`, `partsize`, `publicurl`,
//! `versioning`, `x-amz-meta-*`, `x-amz-tagging`), read by [`S3Config`].
//!
//! The client is ours: S3's REST requests over the HTTP client the web
//! remote already uses (reqwest, blocking, rustls), signed with AWS
//! signature version 4, or version 2 (which git-annex uses by default for
//! hosts other than Amazon's). The maintained S3 crates (the AWS SDK,
//! rust-s3) bring an async runtime and a hundred more crates into every
//! build for the handful of requests git-annex makes (HEAD, GET, PUT,
//! DELETE of an object, multipart upload, making a bucket), which are a
//! few hundred lines here. Connections are checked against
//! `annex.security.allowed-ip-addresses` as the web remote's are (the
//! reference refuses a private address for S3 too).
//!
//! Credentials ([`credentials`]), in git-annex's order: the environment
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, with
//! `AWS_SESSION_TOKEN`), the local cache `.git/annex/creds/UUID` (the two
//! lines, mode 0600), then the `s3creds=` that `embedcreds=yes` put in
//! `remote.log` (base64 of the two lines; then cached locally).
//!
//! A file larger than `partsize` is sent with a multipart upload (the
//! parts read from the file one at a time, the upload aborted when a part
//! fails). Retrieval resumes what an interrupted one left (`Range`) and
//! checks the content against its key.
//!
//! Chunking (`chunk=`) and encryption go through [`super::layered`]:
//! this type is its [`Storage`](super::layered::Storage), each chunk or
//! encrypted object an object named `FILEPREFIX` + its key (`KEY-S...-C...`,
//! `GPGHMACSHA1--...`), as git-annex names them.
//!
//! Not yet: encrypted `s3creds` (an encrypted remote's embedded
//! credentials), recording S3 version IDs (git-annex records
//! them only for exported trees), export/import, `restore=yes`, the
//! Internet Archive's mode, progress inside an upload part.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use sha2::Digest;

use crate::key::Key;
use crate::remote::special::web::AddressPolicy;
use crate::remote::{ContentLockGuard, Progress, Remote, RemoteError};
use crate::uuid::Uuid;

/// Amazon's S3 host, git-annex's default `host=`.
pub const DEFAULT_HOST: &str = "s3.amazonaws.com";

/// Why an S3 request or setting failed.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// A configuration value git-annex would refuse.
    #[error("{0}")]
    Config(String),
    /// No credentials (git-annex's words).
    #[error("Set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to use S3")]
    NoCreds,
    /// The address is not allowed.
    #[error(
        "Configuration of annex.security.allowed-ip-addresses does not allow accessing address {0}"
    )]
    AddressRefused(String),
    /// The server answered with an error.
    #[error("S3 error {status}: {code}{}{message}", if message.is_empty() { "" } else { " " })]
    Status {
        /// HTTP status.
        status: u16,
        /// S3's error code.
        code: String,
        /// S3's message.
        message: String,
    },
    /// The HTTP client failed.
    #[error("{0}")]
    Http(String),
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> S3Error + '_ {
    move |source| S3Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// How requests are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signature {
    /// AWS signature version 2.
    V2,
    /// AWS signature version 4.
    V4,
    /// Not signed.
    Anonymous,
}

/// An S3 remote's configuration, as git-annex reads `remote.log`'s.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// The bucket (lower-cased, as git-annex uses it).
    pub bucket: String,
    /// The server's host name.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// Whether it is spoken to over https.
    pub https: bool,
    /// `requeststyle=path`: `/BUCKET/OBJECT` rather than `BUCKET.HOST`.
    pub path_style: bool,
    /// How requests are signed.
    pub signature: Signature,
    /// The region signature version 4 names.
    pub region: String,
    /// `datacenter=` (a new bucket's location constraint).
    pub datacenter: String,
    /// `storageclass=`.
    pub storageclass: String,
    /// `fileprefix=`.
    pub fileprefix: String,
    /// `partsize=` in bytes (0 or none: no multipart upload).
    pub partsize: Option<u64>,
    /// `publicurl=`.
    pub publicurl: Option<String>,
    /// `versioning=yes`.
    pub versioning: bool,
    /// `x-amz-meta-*` headers sent with each object.
    pub meta: Vec<(String, String)>,
    /// `x-amz-tagging=`.
    pub tagging: Option<String>,
}

fn yes_no(c: &BTreeMap<String, String>, k: &str) -> bool {
    c.get(k).is_some_and(|v| v == "yes")
}

impl S3Config {
    /// Reads a remote's configuration (its `remote.log` fields).
    pub fn parse(c: &BTreeMap<String, String>) -> Result<S3Config, S3Error> {
        let bad = |s: String| S3Error::Config(s);
        let bucket = c
            .get("bucket")
            .map(|b| b.to_lowercase())
            .ok_or_else(|| bad("S3 bucket not configured".to_string()))?;
        let host = c
            .get("host")
            .cloned()
            .unwrap_or_else(|| DEFAULT_HOST.to_string());
        let proto = match c.get("protocol").map(String::as_str) {
            Some("https") => Some(true),
            Some("http") => Some(false),
            Some(s) => return Err(bad(format!("bad S3 protocol value: {s}"))),
            None => None,
        };
        let port = match c.get("port") {
            Some(s) => match s.trim().parse::<u16>() {
                Ok(80) if proto == Some(true) => 443,
                Ok(p) => p,
                Err(_) => return Err(bad(format!("bad S3 port value: {s}"))),
            },
            None if proto == Some(true) => 443,
            None => 80,
        };
        let https = proto.unwrap_or(port == 443);
        let path_style = match c.get("requeststyle").map(String::as_str) {
            Some("path") => true,
            Some(s) => return Err(bad(format!("bad S3 requeststyle value: {s}"))),
            None => false,
        };
        let signature = match c.get("signature").map(String::as_str) {
            Some("v4") => Signature::V4,
            Some("v2") => Signature::V2,
            Some("anonymous") => Signature::Anonymous,
            // git-annex signs with version 4 by default only for
            // Amazon's own host.
            _ if host == DEFAULT_HOST => Signature::V4,
            _ => Signature::V2,
        };
        let datacenter = c
            .get("datacenter")
            .cloned()
            .unwrap_or_else(|| "US".to_string());
        // As git-annex: with Amazon's default host, the endpoint of the
        // datacenter is used (`EU` is `s3-eu-west-1.amazonaws.com`,
        // another region `s3-REGION.amazonaws.com`), and requests are
        // signed for that region.
        let host = if host == DEFAULT_HOST {
            match datacenter.as_str() {
                "US" | "" => host,
                "EU" => "s3-eu-west-1.amazonaws.com".to_string(),
                r => format!("s3-{r}.amazonaws.com"),
            }
        } else {
            host
        };
        let region = c
            .get("region")
            .cloned()
            .unwrap_or_else(|| match datacenter.as_str() {
                "US" | "" => "us-east-1".to_string(),
                "EU" => "eu-west-1".to_string(),
                r => r.to_string(),
            });
        // Internet Archive remotes name their objects otherwise
        // (`mungekeys=ia`): refused rather than looked up under names
        // the reference does not use.
        if c.contains_key("mungekeys") {
            return Err(bad(
                "Internet Archive S3 remotes (mungekeys=) are not supported yet by git-annex-rs"
                    .to_string(),
            ));
        }
        let partsize = match c.get("partsize") {
            Some(s) => crate::units::read_size(s.as_bytes())
                .and_then(|n| u64::try_from(n).ok())
                .filter(|n| *n > 0),
            None => None,
        };
        let meta = c
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("x-amz-meta-")
                    .map(|m| (format!("x-amz-meta-{m}"), v.clone()))
            })
            .collect();
        Ok(S3Config {
            bucket,
            host,
            port,
            https,
            path_style,
            signature,
            region,
            storageclass: c
                .get("storageclass")
                .cloned()
                .unwrap_or_else(|| "STANDARD".to_string()),
            datacenter,
            fileprefix: c.get("fileprefix").cloned().unwrap_or_default(),
            partsize,
            publicurl: c.get("publicurl").cloned(),
            versioning: yes_no(c, "versioning"),
            meta,
            tagging: c.get("x-amz-tagging").cloned(),
        })
    }

    /// The object name of a key: the file prefix, then the key.
    pub fn object(&self, key: &Key) -> String {
        format!(
            "{}{}",
            self.fileprefix,
            String::from_utf8_lossy(key.as_bytes())
        )
    }

    /// The object holding the remote's UUID.
    pub fn uuid_object(&self) -> String {
        format!("{}annex-uuid", self.fileprefix)
    }
}

/// A pair of credentials.
#[derive(Clone)]
pub struct Creds {
    /// The access key id.
    pub id: String,
    /// The secret.
    pub secret: String,
    /// `AWS_SESSION_TOKEN`, when set.
    pub token: Option<String>,
}

impl std::fmt::Debug for Creds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Creds(..)")
    }
}

impl Creds {
    /// The two lines git-annex stores (`ID\nSECRET\n`).
    pub fn encode(&self) -> String {
        format!("{}\n{}\n", self.id, self.secret)
    }

    /// Reads the two lines.
    pub fn decode(s: &str) -> Option<Creds> {
        let lines: Vec<&str> = s.lines().collect();
        match lines.as_slice() {
            [id, secret] => Some(Creds {
                id: id.to_string(),
                secret: secret.to_string(),
                token: None,
            }),
            _ => None,
        }
    }

    /// The `s3creds=` value `embedcreds=yes` stores (base64 of the lines).
    pub fn embedded(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(self.encode())
    }
}

/// The credentials in the environment, when both are set.
pub fn env_credentials() -> Option<Creds> {
    let id = std::env::var("AWS_ACCESS_KEY_ID").ok()?;
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").ok()?;
    Some(Creds {
        id,
        secret,
        token: std::env::var("AWS_SESSION_TOKEN").ok(),
    })
}

/// The local cache of a remote's credentials: `.git/annex/creds/UUID`.
pub fn creds_file(git_dir: &Path, uuid: &Uuid) -> PathBuf {
    git_dir
        .join("annex/creds")
        .join(uuid.as_str().replace('/', ""))
}

/// Writes the local cache (readable by the user only).
pub fn write_creds_cache(git_dir: &Path, uuid: &Uuid, creds: &Creds) -> Result<(), S3Error> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = creds_file(git_dir, uuid);
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(io_err(d))?;
    }
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    f.write_all(creds.encode().as_bytes())
        .map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io_err(&path))
}

/// A remote's credentials, in git-annex's order: the environment, the
/// local cache, the embedded `s3creds=` (then cached). `Err` for embedded
/// credentials that cannot be read.
pub fn credentials(
    git_dir: &Path,
    uuid: &Uuid,
    config: &BTreeMap<String, String>,
) -> Result<Option<Creds>, S3Error> {
    if let Some(c) = env_credentials() {
        return Ok(Some(c));
    }
    if let Ok(s) = std::fs::read_to_string(creds_file(git_dir, uuid))
        && let Some(c) = Creds::decode(&s)
    {
        return Ok(Some(c));
    }
    let Some(embedded) = config.get("s3creds") else {
        return Ok(None);
    };
    if config.contains_key("cipher") {
        return Err(S3Error::Config(
            "encrypted embedded credentials are not supported yet".to_string(),
        ));
    }
    use base64::Engine;
    let c = base64::engine::general_purpose::STANDARD
        .decode(embedded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s: String| Creds::decode(&s))
        .ok_or_else(|| S3Error::Config("bad creds".to_string()))?;
    let _ = write_creds_cache(git_dir, uuid, &c);
    Ok(Some(c))
}

fn hmac<D: Digest>(key: &[u8], msg: &[u8]) -> Vec<u8> {
    const BLOCK: usize = 64;
    let mut k = if key.len() > BLOCK {
        D::digest(key).to_vec()
    } else {
        key.to_vec()
    };
    k.resize(BLOCK, 0);
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let mut inner = D::new();
    inner.update(&ipad);
    inner.update(msg);
    let ih = inner.finalize();
    let mut outer = D::new();
    outer.update(&opad);
    outer.update(ih);
    outer.finalize().to_vec()
}

fn hex(b: &[u8]) -> String {
    crate::backend::hex(b)
}

/// S3's URI encoding: unreserved characters kept, `/` kept when
/// `keep_slash`, every other byte `%XX`.
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// (year, month, day, hour, minute, second, weekday 0=Sunday) of a Unix
/// time.
fn civil(t: u64) -> (i64, u32, u32, u32, u32, u32, u32) {
    let days = (t / 86400) as i64;
    let secs = t % 86400;
    let weekday = ((days + 4).rem_euclid(7)) as u32;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = if m <= 2 { y + 1 } else { y };
    (
        y,
        m,
        d,
        (secs / 3600) as u32,
        ((secs % 3600) / 60) as u32,
        (secs % 60) as u32,
        weekday,
    )
}

/// An HTTP date (`Mon, 07 Dec 2026 17:21:06 GMT`).
pub fn http_date(t: u64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, m, d, hh, mm, ss, wd) = civil(t);
    format!(
        "{}, {d:02} {} {y} {hh:02}:{mm:02}:{ss:02} GMT",
        DAYS[wd as usize],
        MONTHS[(m - 1) as usize]
    )
}

/// An ISO 8601 basic time (`20261207T172106Z`).
pub fn amz_date(t: u64) -> String {
    let (y, m, d, hh, mm, ss, _) = civil(t);
    format!("{y:04}{m:02}{d:02}T{hh:02}{mm:02}{ss:02}Z")
}

/// The text of the first `<tag>...</tag>` of an XML document.
fn xml_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&close)? + start;
    Some(&xml[start..end])
}

/// What a request sends.
enum Payload {
    /// Nothing.
    Empty,
    /// Bytes in memory.
    Bytes(Vec<u8>),
    /// `len` bytes of a file from `offset`.
    File {
        path: PathBuf,
        offset: u64,
        len: u64,
    },
}

/// An S3 client for one remote's bucket.
#[derive(Debug)]
pub struct S3Client {
    cfg: S3Config,
    creds: Option<Creds>,
    client: reqwest::blocking::Client,
}

impl S3Client {
    /// A client for `cfg`, connecting only where `policy` allows.
    pub fn new(
        cfg: S3Config,
        creds: Option<Creds>,
        policy: &AddressPolicy,
    ) -> Result<S3Client, S3Error> {
        let mut builder = reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(None)
            .user_agent("git-annex/10.20261026");
        if !policy.unrestricted() {
            builder = builder.no_proxy();
            let host = cfg.request_host();
            let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
                Ok(ip) => vec![SocketAddr::new(ip, cfg.port)],
                Err(_) => (host.as_str(), cfg.port)
                    .to_socket_addrs()
                    .map_err(|e| S3Error::Http(format!("cannot resolve {host}: {e}")))?
                    .collect(),
            };
            let ok: Vec<SocketAddr> = addrs.iter().filter(|a| policy.allows(a)).copied().collect();
            if ok.is_empty() {
                return Err(match addrs.first() {
                    Some(a) => S3Error::AddressRefused(a.ip().to_string()),
                    None => S3Error::Http(format!("cannot resolve {host}")),
                });
            }
            if host.parse::<IpAddr>().is_err() {
                builder = builder.resolve_to_addrs(&host, &ok);
            }
        }
        let client = builder.build().map_err(|e| S3Error::Http(e.to_string()))?;
        Ok(S3Client { cfg, creds, client })
    }

    /// The configuration.
    pub fn config(&self) -> &S3Config {
        &self.cfg
    }

    /// Whether requests can be signed (or need not be).
    pub fn can_sign(&self) -> bool {
        self.creds.is_some() || self.cfg.signature == Signature::Anonymous
    }

    /// Sends one request about `object` (`None`: the bucket) with the
    /// sub-resources `query` (sorted by name).
    fn send(
        &self,
        method: reqwest::Method,
        object: Option<&str>,
        query: &[(&str, &str)],
        mut headers: Vec<(String, String)>,
        payload: Payload,
    ) -> Result<reqwest::blocking::Response, S3Error> {
        let cfg = &self.cfg;
        let path = match object {
            Some(o) => uri_encode(o, true),
            None => String::new(),
        };
        let (url_path, canonical_uri) = if cfg.path_style {
            let p = format!("/{}/{path}", cfg.bucket);
            (p.clone(), p)
        } else {
            let p = format!("/{path}");
            (p.clone(), p)
        };
        let mut q: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        q.sort();
        let query_string = q
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    uri_encode(k, false)
                } else {
                    format!("{}={}", uri_encode(k, false), uri_encode(v, false))
                }
            })
            .collect::<Vec<_>>()
            .join("&");
        let host = cfg.request_host();
        let default_port = if cfg.https { 443 } else { 80 };
        let host_header = if cfg.port == default_port {
            host.clone()
        } else {
            format!("{host}:{}", cfg.port)
        };
        let url = format!(
            "{}://{host_header}{url_path}{}{query_string}",
            if cfg.https { "https" } else { "http" },
            if query_string.is_empty() { "" } else { "?" }
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let (body, payload_hash, content_len) = match payload {
            Payload::Empty => (
                reqwest::blocking::Body::from(Vec::new()),
                hex(&sha2::Sha256::digest(b"")),
                0,
            ),
            Payload::Bytes(b) => {
                let h = hex(&sha2::Sha256::digest(&b));
                let n = b.len() as u64;
                (reqwest::blocking::Body::from(b), h, n)
            }
            Payload::File { path, offset, len } => {
                let mut f = std::fs::File::open(&path).map_err(io_err(&path))?;
                f.seek(SeekFrom::Start(offset)).map_err(io_err(&path))?;
                (
                    reqwest::blocking::Body::sized(f.take(len), len),
                    "UNSIGNED-PAYLOAD".to_string(),
                    len,
                )
            }
        };
        if method == reqwest::Method::PUT || method == reqwest::Method::POST {
            headers.push(("content-length".to_string(), content_len.to_string()));
        }
        if let Some(c) = &self.creds
            && let Some(t) = &c.token
            && cfg.signature != Signature::Anonymous
        {
            headers.push(("x-amz-security-token".to_string(), t.clone()));
        }
        match (cfg.signature, &self.creds) {
            (Signature::Anonymous, _) | (_, None) => {}
            (Signature::V2, Some(c)) => {
                let date = http_date(now);
                headers.push(("date".to_string(), date.clone()));
                let mut amz: Vec<(String, String)> = headers
                    .iter()
                    .filter(|(k, _)| k.starts_with("x-amz-"))
                    .map(|(k, v)| (k.to_lowercase(), v.trim().to_string()))
                    .collect();
                amz.sort();
                let content_type = headers
                    .iter()
                    .find(|(k, _)| k == "content-type")
                    .map(|(_, v)| v.as_str())
                    .unwrap_or("");
                let mut resource = format!("/{}/{path}", cfg.bucket);
                if !q.is_empty() {
                    resource.push('?');
                    resource.push_str(
                        &q.iter()
                            .map(|(k, v)| {
                                if v.is_empty() {
                                    k.clone()
                                } else {
                                    format!("{k}={v}")
                                }
                            })
                            .collect::<Vec<_>>()
                            .join("&"),
                    );
                }
                let mut to_sign = format!("{}\n\n{content_type}\n{date}\n", method.as_str());
                for (k, v) in &amz {
                    to_sign.push_str(&format!("{k}:{v}\n"));
                }
                to_sign.push_str(&resource);
                use base64::Engine;
                let sig = base64::engine::general_purpose::STANDARD
                    .encode(hmac::<sha1::Sha1>(c.secret.as_bytes(), to_sign.as_bytes()));
                headers.push(("authorization".to_string(), format!("AWS {}:{sig}", c.id)));
            }
            (Signature::V4, Some(c)) => {
                let amzdate = amz_date(now);
                let date = &amzdate[..8];
                headers.push(("x-amz-date".to_string(), amzdate.clone()));
                headers.push(("x-amz-content-sha256".to_string(), payload_hash.clone()));
                headers.push(("host".to_string(), host_header.clone()));
                let mut signed: Vec<(String, String)> = headers
                    .iter()
                    .map(|(k, v)| (k.to_lowercase(), v.trim().to_string()))
                    .collect();
                signed.sort();
                let signed_names = signed
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>()
                    .join(";");
                let canonical_headers: String =
                    signed.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
                let canonical_query = q
                    .iter()
                    .map(|(k, v)| format!("{}={}", uri_encode(k, false), uri_encode(v, false)))
                    .collect::<Vec<_>>()
                    .join("&");
                let canonical = format!(
                    "{}\n{canonical_uri}\n{canonical_query}\n{canonical_headers}\n{signed_names}\n{payload_hash}",
                    method.as_str()
                );
                let scope = format!("{date}/{}/s3/aws4_request", cfg.region);
                let to_sign = format!(
                    "AWS4-HMAC-SHA256\n{amzdate}\n{scope}\n{}",
                    hex(&sha2::Sha256::digest(canonical.as_bytes()))
                );
                let k_date =
                    hmac::<sha2::Sha256>(format!("AWS4{}", c.secret).as_bytes(), date.as_bytes());
                let k_region = hmac::<sha2::Sha256>(&k_date, cfg.region.as_bytes());
                let k_service = hmac::<sha2::Sha256>(&k_region, b"s3");
                let k_signing = hmac::<sha2::Sha256>(&k_service, b"aws4_request");
                let sig = hex(&hmac::<sha2::Sha256>(&k_signing, to_sign.as_bytes()));
                headers.push((
                    "authorization".to_string(),
                    format!(
                        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_names}, Signature={sig}",
                        c.id
                    ),
                ));
            }
        }
        let mut req = self.client.request(method, &url).body(body);
        for (k, v) in &headers {
            if k == "host" || k == "content-length" {
                continue;
            }
            req = req.header(k.as_str(), v.as_str());
        }
        req.send().map_err(|e| S3Error::Http(describe(&e)))
    }

    /// Turns a failure status into an error (S3's code and message).
    fn check(resp: reqwest::blocking::Response) -> Result<reqwest::blocking::Response, S3Error> {
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let reason = resp.status().canonical_reason().unwrap_or("").to_string();
        let text = resp.text().unwrap_or_default();
        Err(S3Error::Status {
            status,
            // A HEAD answer has no body: the status's reason then.
            code: xml_text(&text, "Code").map_or(reason, str::to_string),
            message: xml_text(&text, "Message").unwrap_or("").to_string(),
        })
    }

    /// Whether the object exists (`HEAD`).
    pub fn head(&self, object: &str) -> Result<bool, S3Error> {
        let resp = self.send(
            reqwest::Method::HEAD,
            Some(object),
            &[],
            Vec::new(),
            Payload::Empty,
        )?;
        match resp.status().as_u16() {
            200..=299 => Ok(true),
            404 => Ok(false),
            _ => Self::check(resp).map(|_| false),
        }
    }

    /// The object's content, when it exists.
    pub fn get_bytes(&self, object: &str) -> Result<Option<Vec<u8>>, S3Error> {
        let resp = self.send(
            reqwest::Method::GET,
            Some(object),
            &[],
            Vec::new(),
            Payload::Empty,
        )?;
        if resp.status().as_u16() == 404 {
            return Ok(None);
        }
        let resp = Self::check(resp)?;
        resp.bytes()
            .map(|b| Some(b.to_vec()))
            .map_err(|e| S3Error::Http(describe(&e)))
    }

    /// Downloads the object into `dest`, resuming from what `dest` holds;
    /// `Ok(false)` when there is no such object.
    pub fn get_to(
        &self,
        object: &str,
        dest: &Path,
        progress: &mut dyn FnMut(u64),
    ) -> Result<bool, S3Error> {
        let have = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
        let headers = if have > 0 {
            vec![("range".to_string(), format!("bytes={have}-"))]
        } else {
            Vec::new()
        };
        let resp = self.send(
            reqwest::Method::GET,
            Some(object),
            &[],
            headers,
            Payload::Empty,
        )?;
        let status = resp.status().as_u16();
        if status == 404 {
            return Ok(false);
        }
        // Range beyond the object: start again.
        if status == 416 {
            std::fs::remove_file(dest).map_err(io_err(dest))?;
            return self.get_to(object, dest, progress);
        }
        let mut resp = Self::check(resp)?;
        let mut out = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(dest)
            .map_err(io_err(dest))?;
        let mut done = if status == 206 {
            out.seek(SeekFrom::Start(have)).map_err(io_err(dest))?;
            have
        } else {
            out.set_len(0).map_err(io_err(dest))?;
            0
        };
        progress(done);
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = resp
                .read(&mut buf)
                .map_err(|e| S3Error::Http(e.to_string()))?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n]).map_err(io_err(dest))?;
            done += n as u64;
            progress(done);
        }
        out.sync_all().map_err(io_err(dest))?;
        Ok(true)
    }

    fn object_headers(&self) -> Vec<(String, String)> {
        let mut h = vec![(
            "x-amz-storage-class".to_string(),
            self.cfg.storageclass.clone(),
        )];
        h.extend(self.cfg.meta.iter().cloned());
        if let Some(t) = &self.cfg.tagging {
            h.push(("x-amz-tagging".to_string(), t.clone()));
        }
        h
    }

    /// Stores `bytes` as the object.
    pub fn put_bytes(&self, object: &str, bytes: Vec<u8>) -> Result<(), S3Error> {
        let resp = self.send(
            reqwest::Method::PUT,
            Some(object),
            &[],
            self.object_headers(),
            Payload::Bytes(bytes),
        )?;
        Self::check(resp).map(drop)
    }

    /// Stores the file as the object: in one request, or in parts of
    /// `partsize` when it is larger than that.
    pub fn put_file(
        &self,
        object: &str,
        src: &Path,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), S3Error> {
        let len = std::fs::metadata(src).map_err(io_err(src))?.len();
        match self.cfg.partsize {
            Some(part) if len > part => self.put_multipart(object, src, len, part, progress),
            _ => {
                let resp = self.send(
                    reqwest::Method::PUT,
                    Some(object),
                    &[],
                    self.object_headers(),
                    Payload::File {
                        path: src.to_path_buf(),
                        offset: 0,
                        len,
                    },
                )?;
                Self::check(resp)?;
                progress(len);
                Ok(())
            }
        }
    }

    fn put_multipart(
        &self,
        object: &str,
        src: &Path,
        len: u64,
        part: u64,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), S3Error> {
        let resp = self.send(
            reqwest::Method::POST,
            Some(object),
            &[("uploads", "")],
            self.object_headers(),
            Payload::Empty,
        )?;
        let text = Self::check(resp)?
            .text()
            .map_err(|e| S3Error::Http(describe(&e)))?;
        let upload_id = xml_text(&text, "UploadId")
            .ok_or_else(|| S3Error::Http("no UploadId in the answer".to_string()))?
            .to_string();
        let sent = (|| -> Result<Vec<String>, S3Error> {
            let mut etags = Vec::new();
            let mut offset = 0u64;
            let mut number = 1u32;
            while offset < len {
                let size = part.min(len - offset);
                let n = number.to_string();
                let resp = self.send(
                    reqwest::Method::PUT,
                    Some(object),
                    &[("partNumber", &n), ("uploadId", &upload_id)],
                    Vec::new(),
                    Payload::File {
                        path: src.to_path_buf(),
                        offset,
                        len: size,
                    },
                )?;
                let resp = Self::check(resp)?;
                let etag = resp
                    .headers()
                    .get("etag")
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| S3Error::Http("no ETag for an uploaded part".to_string()))?
                    .to_string();
                etags.push(etag);
                offset += size;
                number += 1;
                progress(offset);
            }
            Ok(etags)
        })();
        let etags = match sent {
            Ok(e) => e,
            Err(e) => {
                let _ = self.send(
                    reqwest::Method::DELETE,
                    Some(object),
                    &[("uploadId", &upload_id)],
                    Vec::new(),
                    Payload::Empty,
                );
                return Err(e);
            }
        };
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (i, e) in etags.iter().enumerate() {
            xml.push_str(&format!(
                "<Part><PartNumber>{}</PartNumber><ETag>{e}</ETag></Part>",
                i + 1
            ));
        }
        xml.push_str("</CompleteMultipartUpload>");
        let resp = self.send(
            reqwest::Method::POST,
            Some(object),
            &[("uploadId", &upload_id)],
            vec![("content-type".to_string(), "application/xml".to_string())],
            Payload::Bytes(xml.into_bytes()),
        )?;
        let resp = Self::check(resp)?;
        // S3 can answer 200 with an error in the body.
        let text = resp.text().map_err(|e| S3Error::Http(describe(&e)))?;
        if text.contains("<Error>") {
            return Err(S3Error::Status {
                status: 200,
                code: xml_text(&text, "Code").unwrap_or("").to_string(),
                message: xml_text(&text, "Message").unwrap_or("").to_string(),
            });
        }
        Ok(())
    }

    /// Deletes the object (one that is not there is fine).
    pub fn delete(&self, object: &str) -> Result<(), S3Error> {
        let resp = self.send(
            reqwest::Method::DELETE,
            Some(object),
            &[],
            Vec::new(),
            Payload::Empty,
        )?;
        if resp.status().as_u16() == 404 {
            return Ok(());
        }
        Self::check(resp).map(drop)
    }

    /// Whether the bucket exists (a listing of it works).
    pub fn bucket_exists(&self) -> Result<bool, S3Error> {
        let resp = self.send(reqwest::Method::GET, None, &[], Vec::new(), Payload::Empty)?;
        match resp.status().as_u16() {
            200..=299 => Ok(true),
            404 => Ok(false),
            _ => Self::check(resp).map(|_| false),
        }
    }

    /// Makes the bucket in `datacenter` (`US`: no location constraint).
    pub fn create_bucket(&self) -> Result<(), S3Error> {
        let dc = &self.cfg.datacenter;
        let payload = if dc == "US" || dc.is_empty() {
            Payload::Empty
        } else {
            Payload::Bytes(
                format!(
                    "<CreateBucketConfiguration><LocationConstraint>{dc}</LocationConstraint></CreateBucketConfiguration>"
                )
                .into_bytes(),
            )
        };
        let resp = self.send(reqwest::Method::PUT, None, &[], Vec::new(), payload)?;
        Self::check(resp).map(drop)
    }

    /// Turns on the bucket's versioning.
    pub fn enable_versioning(&self) -> Result<(), S3Error> {
        let body = "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>Enabled</Status></VersioningConfiguration>";
        let resp = self.send(
            reqwest::Method::PUT,
            None,
            &[("versioning", "")],
            Vec::new(),
            Payload::Bytes(body.as_bytes().to_vec()),
        )?;
        Self::check(resp).map(drop)
    }

    /// The bucket's location constraint, when it exists and says one.
    pub fn location(&self) -> Option<String> {
        let resp = self
            .send(
                reqwest::Method::GET,
                None,
                &[("location", "")],
                Vec::new(),
                Payload::Empty,
            )
            .ok()?;
        let resp = Self::check(resp).ok()?;
        let text = resp.text().ok()?;
        let start = text.find("<LocationConstraint")?;
        let rest = &text[start..];
        let open_end = rest.find('>')?;
        let inner = &rest[open_end + 1..];
        let end = inner.find("</LocationConstraint>")?;
        Some(inner[..end].to_string()).filter(|s| !s.is_empty())
    }
}

impl S3Config {
    /// The host requests go to: `BUCKET.HOST` unless path style.
    fn request_host(&self) -> String {
        if self.path_style {
            self.host.clone()
        } else {
            format!("{}.{}", self.bucket, self.host)
        }
    }
}

fn describe(e: &reqwest::Error) -> String {
    use std::error::Error;
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// An S3 special remote.
#[derive(Debug)]
pub struct S3Remote {
    name: String,
    uuid: Uuid,
    cost: f64,
    client: S3Client,
    public: Option<crate::remote::special::web::Http>,
}

impl S3Remote {
    /// The remote `name` of configuration `config`.
    pub fn new(
        name: &str,
        uuid: Uuid,
        cost: f64,
        client: S3Client,
        public: Option<crate::remote::special::web::Http>,
    ) -> S3Remote {
        S3Remote {
            name: name.to_string(),
            uuid,
            cost,
            client,
            public,
        }
    }

    fn err(&self, e: S3Error) -> RemoteError {
        match e {
            S3Error::Http(_) | S3Error::AddressRefused(_) => RemoteError::Unavailable {
                remote: self.name.clone(),
                reason: e.to_string(),
            },
            _ => RemoteError::Refused {
                remote: self.name.clone(),
                reason: e.to_string(),
            },
        }
    }

    fn need_creds(&self) -> Result<(), RemoteError> {
        if self.client.can_sign() {
            Ok(())
        } else {
            Err(RemoteError::Refused {
                remote: self.name.clone(),
                reason: format!("{} (No S3 credentials configured)", S3Error::NoCreds),
            })
        }
    }

    /// The public URL of the key's object, when `publicurl=` says one.
    fn public_url(&self, key: &Key) -> Option<String> {
        let base = self.client.cfg.publicurl.as_ref()?;
        let obj = uri_encode(&self.client.cfg.object(key), true);
        Some(if base.ends_with('/') {
            format!("{base}{obj}")
        } else {
            format!("{base}/{obj}")
        })
    }

    /// Copies the object of `key` into `dest` (not verified), resuming
    /// what `dest` holds; from the public URL when there are no
    /// credentials and `publicurl=` says one.
    fn fetch(&self, key: &Key, dest: &Path, progress: Progress<'_>) -> Result<(), RemoteError> {
        if let Some(dir) = dest.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if !self.client.can_sign()
            && let (Some(url), Some(http)) = (self.public_url(key), &self.public)
        {
            // A chunk's key carries the whole content's size.
            let size = if key.is_chunk() { None } else { key.size() };
            return http
                .download(&url, dest, size, progress)
                .map_err(|e| RemoteError::Refused {
                    remote: self.name.clone(),
                    reason: crate::remote::special::web::download_failure(&e),
                });
        }
        self.need_creds()?;
        match self
            .client
            .get_to(&self.client.cfg.object(key), dest, progress)
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(RemoteError::NotPresent),
            Err(e) => Err(self.err(e)),
        }
    }
}

impl Remote for S3Remote {
    fn name(&self) -> &str {
        &self.name
    }

    fn uuid(&self) -> &Uuid {
        &self.uuid
    }

    fn cost(&self) -> f64 {
        self.cost
    }

    fn check_present(&self, key: &Key) -> Result<bool, RemoteError> {
        if !self.client.can_sign()
            && let (Some(url), Some(http)) = (self.public_url(key), &self.public)
        {
            return http
                .info(&url)
                .map(|i| i.exists)
                .map_err(|e| RemoteError::Unavailable {
                    remote: self.name.clone(),
                    reason: e.to_string(),
                });
        }
        self.need_creds()?;
        self.client
            .head(&self.client.cfg.object(key))
            .map_err(|e| self.err(e))
    }

    fn retrieve(
        &self,
        key: &Key,
        dest: &Path,
        _our_uuid: &Uuid,
        _file: &[u8],
        progress: Progress<'_>,
    ) -> Result<(), RemoteError> {
        self.fetch(key, dest, progress)?;
        super::web::verify_download(key, dest)
    }

    fn store(
        &self,
        key: &Key,
        src: &Path,
        _our_uuid: &Uuid,
        _file: &[u8],
        progress: Progress<'_>,
    ) -> Result<(), RemoteError> {
        self.need_creds()?;
        self.client
            .put_file(&self.client.cfg.object(key), src, progress)
            .map_err(|e| self.err(e))
    }

    fn remove(&self, key: &Key) -> Result<(), RemoteError> {
        self.need_creds()?;
        self.client
            .delete(&self.client.cfg.object(key))
            .map_err(|e| self.err(e))
    }

    fn lock_content(&self, _key: &Key) -> Result<Box<dyn ContentLockGuard>, RemoteError> {
        Err(super::cannot_lock_content(&self.name))
    }

    fn commit(&self) -> Result<(), RemoteError> {
        Ok(())
    }
}

impl super::layered::Storage for S3Remote {
    fn name(&self) -> &str {
        &self.name
    }
    fn uuid(&self) -> &Uuid {
        &self.uuid
    }
    fn cost(&self) -> f64 {
        self.cost
    }
    fn store_object(
        &self,
        key: &Key,
        src: &Path,
        progress: Progress<'_>,
    ) -> Result<(), RemoteError> {
        Remote::store(self, key, src, &self.uuid, b"", progress)
    }
    fn retrieve_object(
        &self,
        key: &Key,
        dest: &Path,
        progress: Progress<'_>,
    ) -> Result<(), RemoteError> {
        self.fetch(key, dest, progress)
    }
    fn check_object(&self, key: &Key) -> Result<bool, RemoteError> {
        Remote::check_present(self, key)
    }
    fn remove_object(&self, key: &Key) -> Result<(), RemoteError> {
        Remote::remove(self, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Regression: with Amazon's default host and `datacenter=EU` we sent
    /// requests to `s3.amazonaws.com` signed for a region `EU`, which
    /// Amazon refuses; git-annex connects to the datacenter's endpoint.
    #[test]
    fn a_datacenter_with_the_default_host_uses_its_endpoint_and_region() {
        let eu = S3Config::parse(&conf(&[("bucket", "b"), ("datacenter", "EU")])).unwrap();
        assert_eq!(
            (eu.host.as_str(), eu.region.as_str()),
            ("s3-eu-west-1.amazonaws.com", "eu-west-1")
        );
        let w = S3Config::parse(&conf(&[("bucket", "b"), ("datacenter", "us-west-2")])).unwrap();
        assert_eq!(
            (w.host.as_str(), w.region.as_str()),
            ("s3-us-west-2.amazonaws.com", "us-west-2")
        );
        assert_eq!(w.signature, Signature::V4);
        let us = S3Config::parse(&conf(&[("bucket", "b")])).unwrap();
        assert_eq!(
            (us.host.as_str(), us.region.as_str()),
            (DEFAULT_HOST, "us-east-1")
        );
        let other = S3Config::parse(&conf(&[
            ("bucket", "b"),
            ("host", "minio.example"),
            ("datacenter", "EU"),
        ]))
        .unwrap();
        assert_eq!(other.host, "minio.example", "another host is used as it is");
    }

    /// Regression: an Internet Archive remote (`mungekeys=ia`) was opened
    /// and its objects looked for under names the reference does not use.
    #[test]
    fn an_internet_archive_remote_is_refused_not_misread() {
        let e = S3Config::parse(&conf(&[("bucket", "b"), ("mungekeys", "ia")]));
        assert!(e.is_err());
    }

    #[test]
    fn configuration_is_read_as_git_annex_reads_it() {
        let c = S3Config::parse(&conf(&[
            ("bucket", "Vers"),
            ("host", "127.0.0.1"),
            ("port", "5055"),
            ("requeststyle", "path"),
            ("fileprefix", "pre/"),
            ("partsize", "1MiB"),
            ("x-amz-meta-a", "b"),
        ]))
        .unwrap();
        assert_eq!(c.bucket, "vers");
        assert_eq!((c.port, c.https, c.path_style), (5055, false, true));
        assert_eq!(c.signature, Signature::V2, "v2 unless Amazon's host");
        assert_eq!(c.partsize, Some(1 << 20));
        assert_eq!(c.meta, vec![("x-amz-meta-a".to_string(), "b".to_string())]);
        let key = Key::parse(b"SHA256E-s2--abc").unwrap();
        assert_eq!(c.object(&key), "pre/SHA256E-s2--abc");
        assert_eq!(c.uuid_object(), "pre/annex-uuid");
        let aws = S3Config::parse(&conf(&[("bucket", "b"), ("protocol", "https")])).unwrap();
        assert_eq!(
            (aws.port, aws.https, aws.signature),
            (443, true, Signature::V4)
        );
        let p80 = S3Config::parse(&conf(&[
            ("bucket", "b"),
            ("port", "80"),
            ("protocol", "https"),
        ]))
        .unwrap();
        assert_eq!(p80.port, 443);
        assert!(S3Config::parse(&conf(&[("bucket", "b"), ("port", "x")])).is_err());
        assert!(S3Config::parse(&conf(&[("bucket", "b"), ("requeststyle", "v")])).is_err());
        assert!(S3Config::parse(&conf(&[])).is_err());
    }

    #[test]
    fn creds_encode_as_git_annex_embeds_them() {
        // The value the reference wrote for these credentials.
        let c = Creds {
            id: "testing".into(),
            secret: "testingsecret".into(),
            token: None,
        };
        assert_eq!(c.embedded(), "dGVzdGluZwp0ZXN0aW5nc2VjcmV0Cg==");
        let d = Creds::decode(&c.encode()).unwrap();
        assert_eq!(
            (d.id.as_str(), d.secret.as_str()),
            ("testing", "testingsecret")
        );
        assert!(Creds::decode("one line").is_none());
    }

    #[test]
    fn signing_pieces_match_known_values() {
        // RFC 4231 test case 2 (HMAC-SHA256) and RFC 2202 (HMAC-SHA1).
        assert_eq!(
            hex(&hmac::<sha2::Sha256>(
                b"Jefe",
                b"what do ya want for nothing?"
            )),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex(&hmac::<sha1::Sha1>(
                b"Jefe",
                b"what do ya want for nothing?"
            )),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        assert_eq!(http_date(1_796_664_066), "Mon, 07 Dec 2026 17:21:06 GMT");
        assert_eq!(amz_date(1_796_664_066), "20261207T172106Z");
        assert_eq!(uri_encode("a b/c,d~", true), "a%20b/c%2Cd~");
        assert_eq!(uri_encode("a/b", false), "a%2Fb");
    }
}
