//! Directory authorities: `sotto-relay authority --config authority.toml`, and the
//! authorities `dev` runs in-process.
//!
//! An authority collects each relay's signed descriptor (every relay serves its own at
//! `/descriptor`, signed with its identity key), checks the relay's signature, and signs a
//! directory (`sotto_proto::directory::SignedDirectory`) valid for `lifetime_secs` from a
//! minute before it is made. It signs again as soon as a descriptor changes (a key rotation,
//! a new difficulty) and once half the lifetime is over, so a client never sees it expire.
//! It serves the result at `/directory.json`.
//!
//! k of n: every authority key signs the same canonical body, so an [`Authority`] holding
//! several keys (as `dev` does: three keys, threshold two) adds one signature per key, and
//! signatures made apart over the same body can be concatenated. Clients count distinct
//! trusted keys whose signature verifies.
//!
//! ```toml
//! key_files = ["/var/lib/sotto/authority-1.key"]   # created with mode 0600 on first run
//! listen = "127.0.0.1:9190"                        # serves /directory.json, /healthz
//! relays = ["http://127.0.0.1:9180/descriptor"]    # each relay's /descriptor
//! poll_secs = 30                                   # optional (default 30)
//! lifetime_secs = 10800                            # optional (default 3 h)
//! ```
//!
//! **Whom it trusts.** A relay's `/descriptor` travels over plain HTTP from whatever answers
//! at its URL, so the authority pins each relay's identity key: given in the config
//! (`relays = [{ url = "http://…/descriptor", identity_key = "<base64url>" }]`, the key
//! `sotto-relay run` prints), or else the key of the first descriptor it accepts from that URL
//! (trust on first use). A descriptor under another identity key, or published before the one
//! it holds (an old one replayed), is refused and logged; the relay keeps its last descriptor.
//! Answers are read up to `sotto_loadgen::driver::MAX_HTTP_BYTES`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sotto_proto::directory::{SignedDescriptor, SignedDirectory};
use sotto_proto::keys::{AuthKeyPair, AuthPublicKey};

use crate::error::RelayError;
use crate::keyfile;

/// How long a directory is valid by default, in seconds (3 hours).
pub const DEFAULT_LIFETIME_SECS: u64 = 3 * 3600;
/// How far before its making a directory is valid from, in seconds: room for clients whose
/// idea of network time lags a little.
pub const BACKDATE_SECS: u64 = 60;

/// One or more authority keys and the directory they signed last.
pub struct Authority {
    keys: Vec<AuthKeyPair>,
    lifetime_secs: u64,
    current: Option<SignedDirectory>,
}

impl Authority {
    /// Authorities signing with `keys`, each directory valid `lifetime_secs` (at least 60).
    pub fn new(keys: Vec<AuthKeyPair>, lifetime_secs: u64) -> Self {
        Self {
            keys,
            lifetime_secs: lifetime_secs.max(60),
            current: None,
        }
    }

    /// The authorities' public keys, base64url (what clients are given as `directoryKeys`).
    pub fn public_keys(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| URL_SAFE_NO_PAD.encode(k.public_key().as_bytes()))
            .collect()
    }

    /// The authorities' public keys.
    pub fn keys(&self) -> Vec<AuthPublicKey> {
        self.keys.iter().map(AuthKeyPair::public_key).collect()
    }

    /// The signed directory of `relays` at `now` (Unix seconds): the last one when it lists
    /// the same descriptors and is less than half its lifetime old, else a new one signed by
    /// every key. Descriptors whose own signature does not verify are left out.
    pub fn directory(&mut self, relays: Vec<SignedDescriptor>, now: u64) -> &SignedDirectory {
        let relays: Vec<SignedDescriptor> = relays
            .into_iter()
            .enumerate()
            .filter(|(i, d)| d.verify(*i).is_ok())
            .map(|(_, d)| d)
            .collect();
        let fresh = |d: &SignedDirectory| {
            d.relays == relays
                && now
                    < d.valid_after
                        .saturating_add(BACKDATE_SECS)
                        .saturating_add(self.lifetime_secs / 2)
        };
        if !self.current.as_ref().is_some_and(fresh) {
            let valid_after = now.saturating_sub(BACKDATE_SECS);
            let mut doc = SignedDirectory::new(
                relays,
                valid_after,
                valid_after.saturating_add(self.lifetime_secs),
            );
            for k in &self.keys {
                doc.sign(k);
            }
            self.current = Some(doc);
        }
        self.current
            .get_or_insert_with(|| SignedDirectory::new(Vec::new(), 0, 0))
    }
}

/// `sotto-relay authority`'s config (see the module's docs).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorityConfig {
    pub key_files: Vec<PathBuf>,
    pub listen: SocketAddr,
    pub relays: Vec<RelayEntry>,
    #[serde(default = "default_poll")]
    pub poll_secs: u64,
    #[serde(default = "default_lifetime")]
    pub lifetime_secs: u64,
}

/// One relay an authority polls: its `/descriptor` URL, and optionally its pinned identity
/// key (base64url of 32 bytes; without it the first accepted descriptor's key is pinned).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(untagged)]
pub enum RelayEntry {
    /// `"http://…/descriptor"`: pinned on first use.
    Url(String),
    /// `{ url = "http://…/descriptor", identity_key = "…" }`.
    Pinned { url: String, identity_key: String },
}

impl RelayEntry {
    /// The `/descriptor` URL.
    pub fn url(&self) -> &str {
        match self {
            Self::Url(url) | Self::Pinned { url, .. } => url,
        }
    }

    /// The pinned identity key, if the config gives one.
    ///
    /// # Errors
    /// [`RelayError::Config`] for a key that is not base64url of 32 bytes.
    pub fn identity_key(&self) -> Result<Option<AuthPublicKey>, RelayError> {
        let Self::Pinned { identity_key, url } = self else {
            return Ok(None);
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(identity_key.trim_end_matches('='))
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| RelayError::Config(format!("{url}: identity_key is not a key")))?;
        Ok(Some(AuthPublicKey::from_bytes(bytes)))
    }
}

/// What the authority holds for one relay: the pinned identity key and the last descriptor
/// it accepted.
#[derive(Default)]
struct Slot {
    pin: Option<AuthPublicKey>,
    descriptor: Option<SignedDescriptor>,
}

impl Slot {
    /// Takes `d` (already verified under its own key) unless another identity key is pinned
    /// or it was published before the one held; pins its key if none is. Returns whether it
    /// was taken.
    fn admit(&mut self, d: SignedDescriptor) -> bool {
        if self.pin.is_some_and(|pin| pin != d.identity_key)
            || self
                .descriptor
                .as_ref()
                .is_some_and(|held| d.published_at < held.published_at)
        {
            return false;
        }
        self.pin = Some(d.identity_key);
        self.descriptor = Some(d);
        true
    }
}

fn default_poll() -> u64 {
    30
}

fn default_lifetime() -> u64 {
    DEFAULT_LIFETIME_SECS
}

impl AuthorityConfig {
    /// Reads the config file.
    ///
    /// # Errors
    /// [`RelayError::Config`] when it cannot be read or parsed, or lists no key or relay.
    pub fn load(path: &Path) -> Result<Self, RelayError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| RelayError::Config(format!("{}: {e}", path.display())))?;
        let config: Self = toml::from_str(&text)
            .map_err(|e| RelayError::Config(format!("{}: {e}", path.display())))?;
        if config.key_files.is_empty() || config.relays.is_empty() {
            return Err(RelayError::Config(
                "an authority needs key_files and relays".into(),
            ));
        }
        Ok(config)
    }
}

struct Shared {
    authority: Mutex<Authority>,
    relays: Mutex<Vec<Slot>>,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Reads a relay's `/descriptor` answer.
fn parse_descriptor(text: &str) -> Option<SignedDescriptor> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let d = SignedDescriptor::from_json_value(0, &v).ok()?;
    d.verify(0).ok()?;
    Some(d)
}

/// Runs an authority until Ctrl-C or SIGTERM: polls every relay's descriptor every
/// `poll_secs` (a relay that does not answer keeps its last descriptor) and serves the
/// signed `/directory.json`.
///
/// # Errors
/// Key files that cannot be read or created, a listener that cannot be bound.
pub async fn run(config: AuthorityConfig) -> Result<(), RelayError> {
    let keys = config
        .key_files
        .iter()
        .map(|p| keyfile::load_or_create(p))
        .collect::<Result<Vec<_>, _>>()?;
    let authority = Authority::new(keys, config.lifetime_secs);
    let public = authority.public_keys();
    let slots = config
        .relays
        .iter()
        .map(|r| {
            Ok(Slot {
                pin: r.identity_key()?,
                descriptor: None,
            })
        })
        .collect::<Result<Vec<_>, RelayError>>()?;
    let shared = Arc::new(Shared {
        authority: Mutex::new(authority),
        relays: Mutex::new(slots),
    });
    let listener = crate::relay::bind(config.listen).await?;
    let signal = crate::dev::shutdown_signal().await?;
    let poller = {
        let shared = shared.clone();
        let urls: Vec<String> = config.relays.iter().map(|r| r.url().to_owned()).collect();
        let every = Duration::from_secs(config.poll_secs.max(1));
        tokio::spawn(async move {
            loop {
                for (i, url) in urls.iter().enumerate() {
                    let got = sotto_loadgen::driver::http_get(url).await.ok();
                    if let Some(d) = got.as_deref().and_then(parse_descriptor)
                        && let Some(slot) = lock(&shared.relays).get_mut(i)
                        && !slot.admit(d)
                    {
                        tracing::warn!(
                            relay = i,
                            "refused a descriptor: another identity key than the pinned one, \
                             or older than the one held"
                        );
                    }
                }
                tokio::time::sleep(every).await;
            }
        })
    };
    let app = Router::new()
        .route("/directory.json", get(serve_directory))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(shared);
    println!(
        "authority at http://{} with keys {}",
        config.listen,
        public.join(",")
    );
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(signal)
        .await;
    poller.abort();
    served.map_err(|source| RelayError::Io {
        context: "serving the authority",
        source,
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn serve_directory(State(shared): State<Arc<Shared>>) -> Response {
    let relays: Vec<SignedDescriptor> = lock(&shared.relays)
        .iter()
        .filter_map(|r| r.descriptor.clone())
        .collect();
    let body = lock(&shared.authority)
        .directory(relays, unix_now())
        .to_json();
    json_response(body)
}

/// A JSON body with its content type.
pub fn json_response(body: String) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotto_proto::directory::{DirectoryTrust, RelayDescriptor};
    use sotto_proto::ids::RelayId;
    use sotto_proto::keys::PublicKey;

    fn descriptor(epoch: u32, at: u64) -> SignedDescriptor {
        let relay = RelayDescriptor {
            id: RelayId::from_bytes([1; 32]),
            url: "ws://127.0.0.1:9101".into(),
            sphinx_key: PublicKey::from_bytes([epoch as u8; 32]),
            key_epoch: epoch,
            key_rotates_at: Some(at + 100),
            previous_key: None,
            pow_bits: Some(8),
        };
        SignedDescriptor::sign(relay, &AuthKeyPair::from_persisted_bytes([5; 32]), at)
    }

    #[test]
    fn signs_again_on_a_rotation_and_at_half_life_only() {
        let keys = (1..=3)
            .map(|n| AuthKeyPair::from_persisted_bytes([n; 32]))
            .collect();
        let mut a = Authority::new(keys, 1000);
        let trust = DirectoryTrust::new(a.keys(), 2).unwrap();
        let first = a.directory(vec![descriptor(1, 10_000)], 10_000).clone();
        assert_eq!(first.signatures.len(), 3);
        assert!(first.verify(&trust, 10_000).is_ok());
        // Same descriptors, well inside the lifetime: the same document.
        assert_eq!(
            a.directory(vec![descriptor(1, 10_000)], 10_400).clone(),
            first
        );
        // A rotation: signed again at once.
        let rotated = a.directory(vec![descriptor(2, 10_401)], 10_401).clone();
        assert_ne!(rotated, first);
        assert_eq!(
            rotated.verify(&trust, 10_401).unwrap().relays[0].key_epoch,
            2
        );
        // Half the lifetime after it was made: signed again, long before it expires.
        let later = a
            .directory(vec![descriptor(2, 10_401)], 10_401 + 500)
            .clone();
        assert!(later.valid_until > rotated.valid_until);
    }

    /// Whatever answers at a relay's URL cannot swap in another relay, or an older descriptor
    /// of the same relay (review finding: the authority trusted any answer).
    #[test]
    fn a_relay_is_pinned_to_its_identity_key_and_never_goes_back() {
        let mut slot = Slot::default();
        assert!(slot.admit(descriptor(1, 100)), "first use pins");
        let other = SignedDescriptor::sign(
            descriptor(1, 200).relay,
            &AuthKeyPair::from_persisted_bytes([6; 32]),
            200,
        );
        assert!(!slot.admit(other), "another identity key");
        assert!(
            !slot.admit(descriptor(1, 50)),
            "published before the held one"
        );
        assert!(
            slot.admit(descriptor(2, 300)),
            "a rotation by the same relay"
        );
        assert_eq!(slot.descriptor.as_ref().unwrap().relay.key_epoch, 2);

        // A key given in the config is pinned from the start.
        let entry: AuthorityConfig = toml::from_str(&format!(
            "key_files = [\"a.key\"]\nlisten = \"127.0.0.1:1\"\n\
             relays = [\"http://a/descriptor\", {{ url = \"http://b/descriptor\", \
             identity_key = \"{}\" }}]",
            URL_SAFE_NO_PAD.encode(
                AuthKeyPair::from_persisted_bytes([6; 32])
                    .public_key()
                    .as_bytes()
            )
        ))
        .unwrap();
        assert_eq!(entry.relays[0].identity_key().unwrap(), None);
        let mut pinned = Slot {
            pin: entry.relays[1].identity_key().unwrap(),
            descriptor: None,
        };
        assert!(!pinned.admit(descriptor(1, 100)), "not the configured key");
        let bad: AuthorityConfig = toml::from_str(
            "key_files = [\"a.key\"]\nlisten = \"127.0.0.1:1\"\n\
             relays = [{ url = \"http://b/descriptor\", identity_key = \"short\" }]",
        )
        .unwrap();
        assert!(bad.relays[0].identity_key().is_err());
    }

    #[test]
    fn descriptors_that_do_not_verify_are_left_out() {
        let mut a = Authority::new(vec![AuthKeyPair::from_persisted_bytes([1; 32])], 1000);
        let mut bad = descriptor(1, 10);
        bad.relay.url = "ws://elsewhere:1".into();
        assert!(a.directory(vec![bad, descriptor(3, 10)], 10).relays.len() == 1);
    }
}
