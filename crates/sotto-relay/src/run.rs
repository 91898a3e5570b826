//! `sotto-relay run --config relay.toml`: one production relay.
//!
//! ```toml
//! listen = "0.0.0.0:9101"                 # WebSocket listener
//! public_url = "wss://relay.example.org"  # the URL the directory publishes for this relay
//! data_dir = "/var/lib/sotto-relay"        # relay.key and store.redb
//! http = "127.0.0.1:9180"                 # optional: /healthz, /metrics, /directory.json
//! directory_file = "/etc/sotto/directory.json"  # optional: the peers to forward to
//! directory_keys = ["<base64url>", "..."]  # the authorities that must have signed it
//! directory_threshold = 2                 # optional: how many of them (default: all)
//! log = "info"                            # tracing filter (SOTTO_LOG overrides)
//!
//! [limits]                                # optional; see docs/protocol/relay.md
//! max_connections = 4096
//!
//! [service]                               # optional queue-service limits
//! queue_quota = 1024
//! message_ttl_secs = 1814400
//! pow_bits = 16                           # the floor; the current value is in /directory.json
//! max_pow_bits = 24                       # the most it rises to under load
//! admission_rate = 600                    # paid Creates/new blobs per window before it rises
//! admission_window_secs = 60
//! max_spent = 250000                      # spent Create challenges remembered at most
//! max_queues = 1000000                    # relay-wide caps: see docs/PROTOCOL.md §4
//! max_surbs = 250000
//! surb_ttl_secs = 120
//!
//! [keys]                                  # optional Sphinx key rotation
//! epoch_secs = 86400                      # a new key every epoch (default 24 h)
//! overlap_secs = 7200                     # the previous key stays valid this long (2 h)
//! ```
//!
//! Environment overrides (applied after the file): `SOTTO_LISTEN`, `SOTTO_PUBLIC_URL`,
//! `SOTTO_DATA_DIR`, `SOTTO_HTTP`, `SOTTO_DIRECTORY_FILE`, `SOTTO_LOG`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sotto_proto::directory::{
    Directory, DirectoryError, DirectoryTrust, RelayDescriptor, SignedDirectory, Unusable,
};
use sotto_proto::service::ServiceConfig;
use tokio::sync::watch;

use crate::actor;
use crate::dev::shutdown_signal;
use crate::error::RelayError;
use crate::identity::KeyPolicy;
use crate::keyfile;
use crate::limits::Limits;
use crate::relay::{self, Relay, RelayInfo};
use crate::web;

/// The queue-service limits a config may set; unset ones keep their defaults.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSection {
    pub queue_quota: Option<usize>,
    pub message_ttl_secs: Option<u64>,
    pub blob_ttl_secs: Option<u64>,
    pub max_blob_chunks: Option<u32>,
    pub max_surbs_per_queue: Option<usize>,
    pub pow_bits: Option<u8>,
    pub max_pow_bits: Option<u8>,
    pub admission_rate: Option<u64>,
    pub admission_window_secs: Option<u64>,
    pub max_spent: Option<usize>,
    pub max_clock_skew_secs: Option<u64>,
    pub redeliver_after_secs: Option<u64>,
    pub surb_ttl_secs: Option<u64>,
    pub max_queues: Option<u64>,
    pub max_messages: Option<u64>,
    pub max_message_bytes: Option<u64>,
    pub max_blob_chunks_total: Option<u64>,
    pub max_surbs: Option<usize>,
}

impl ServiceSection {
    /// Reads a TOML file holding only the section's keys (`sotto-relay dev --service-config`).
    pub fn load(path: &Path) -> Result<Self, RelayError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| RelayError::Config(format!("cannot read {}: {e}", path.display())))?;
        let section: Self = toml::from_str(&text).map_err(|e: toml::de::Error| {
            RelayError::Config(format!("{}: {}", path.display(), one_line(&e.to_string())))
        })?;
        if section.surb_ttl_secs == Some(0) {
            return Err(RelayError::Config("surb_ttl_secs must be positive".into()));
        }
        if section.admission_window_secs == Some(0) {
            return Err(RelayError::Config(
                "admission_window_secs must be positive".into(),
            ));
        }
        Ok(section)
    }

    /// The defaults with this section's values.
    pub fn to_config(&self) -> ServiceConfig {
        self.apply(ServiceConfig::default())
    }

    /// `base` with this section's values.
    pub fn apply(&self, d: ServiceConfig) -> ServiceConfig {
        ServiceConfig {
            queue_quota: self.queue_quota.unwrap_or(d.queue_quota),
            message_ttl: self.message_ttl_secs.unwrap_or(d.message_ttl),
            blob_ttl: self.blob_ttl_secs.unwrap_or(d.blob_ttl),
            max_blob_chunks: self.max_blob_chunks.unwrap_or(d.max_blob_chunks),
            max_surbs_per_queue: self.max_surbs_per_queue.unwrap_or(d.max_surbs_per_queue),
            pow_bits: self.pow_bits.unwrap_or(d.pow_bits),
            max_pow_bits: self.max_pow_bits.unwrap_or(d.max_pow_bits),
            admission_rate: self.admission_rate.unwrap_or(d.admission_rate),
            admission_window: self.admission_window_secs.unwrap_or(d.admission_window),
            max_spent: self.max_spent.unwrap_or(d.max_spent),
            max_clock_skew: self.max_clock_skew_secs.unwrap_or(d.max_clock_skew),
            redeliver_after: self.redeliver_after_secs.unwrap_or(d.redeliver_after),
            surb_ttl: self.surb_ttl_secs.unwrap_or(d.surb_ttl),
            max_queues: self.max_queues.unwrap_or(d.max_queues),
            max_messages: self.max_messages.unwrap_or(d.max_messages),
            max_message_bytes: self.max_message_bytes.unwrap_or(d.max_message_bytes),
            max_blob_chunks_total: self
                .max_blob_chunks_total
                .unwrap_or(d.max_blob_chunks_total),
            max_surbs: self.max_surbs.unwrap_or(d.max_surbs),
        }
    }
}

/// `relay.toml`.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    pub listen: SocketAddr,
    pub public_url: String,
    pub data_dir: PathBuf,
    #[serde(default)]
    pub http: Option<SocketAddr>,
    #[serde(default)]
    pub directory_file: Option<PathBuf>,
    /// The directory authorities' keys (base64url Ed25519): `directory_file` must then be a
    /// signed directory (version 2) that `directory_threshold` of them signed, inside its
    /// validity, every descriptor's own signature valid. Without them it must be an unsigned
    /// (version 1) list, trusted as the operator's own file.
    #[serde(default)]
    pub directory_keys: Vec<String>,
    /// How many of `directory_keys` must have signed (default: all of them).
    #[serde(default)]
    pub directory_threshold: Option<usize>,
    #[serde(default)]
    pub log: Option<String>,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub service: ServiceSection,
    #[serde(default)]
    pub keys: KeyPolicy,
}

impl RunConfig {
    /// Reads the file, then applies `SOTTO_*` environment overrides from `env`.
    pub fn load(path: &Path, env: impl Fn(&str) -> Option<String>) -> Result<Self, RelayError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| RelayError::Config(format!("cannot read {}: {e}", path.display())))?;
        Self::parse(&text, env)
    }

    pub fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Self, RelayError> {
        // Overrides may supply required keys the file leaves out, so merge at the TOML level.
        let mut table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| RelayError::Config(one_line(&e.to_string())))?;
        for (var, key) in [
            ("SOTTO_LISTEN", "listen"),
            ("SOTTO_PUBLIC_URL", "public_url"),
            ("SOTTO_DATA_DIR", "data_dir"),
            ("SOTTO_HTTP", "http"),
            ("SOTTO_DIRECTORY_FILE", "directory_file"),
            ("SOTTO_LOG", "log"),
        ] {
            if let Some(v) = env(var).filter(|v| !v.is_empty()) {
                table.insert(key.to_owned(), toml::Value::String(v));
            }
        }
        let config: Self = table
            .try_into()
            .map_err(|e: toml::de::Error| RelayError::Config(one_line(&e.to_string())))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), RelayError> {
        if !(self.public_url.starts_with("ws://") || self.public_url.starts_with("wss://")) {
            return Err(RelayError::Config(
                "public_url must start with ws:// or wss://".into(),
            ));
        }
        let l = &self.limits;
        if l.max_frame_bytes < 1 + sotto_proto::sizes::PACKET_SIZE {
            return Err(RelayError::Config(format!(
                "limits.max_frame_bytes must be at least {}",
                1 + sotto_proto::sizes::PACKET_SIZE
            )));
        }
        if l.max_connections == 0
            || l.max_pending_handshakes == 0
            || l.client_queue == 0
            || l.link_queue == 0
            || l.node_queue == 0
        {
            return Err(RelayError::Config(
                "limits: connection and queue sizes must be positive".into(),
            ));
        }
        if !(l.frames_per_second > 0.0 && l.frame_burst >= 1.0) {
            return Err(RelayError::Config(
                "limits: frames_per_second must be > 0 and frame_burst >= 1".into(),
            ));
        }
        self.keys.validate()?;
        self.directory_trust()?;
        let s = self.service.to_config();
        if s.surb_ttl == 0 {
            return Err(RelayError::Config(
                "service.surb_ttl_secs must be positive".into(),
            ));
        }
        Ok(())
    }
}

impl RunConfig {
    /// `directory_keys` and `directory_threshold` read (`None` when no keys are given).
    pub fn directory_trust(&self) -> Result<Option<DirectoryTrust>, RelayError> {
        if self.directory_keys.is_empty() {
            return match self.directory_threshold {
                Some(_) => Err(RelayError::Config(
                    "directory_threshold needs directory_keys".into(),
                )),
                None => Ok(None),
            };
        }
        DirectoryTrust::from_base64(&self.directory_keys, self.directory_threshold)
            .map(Some)
            .map_err(|e| RelayError::Config(format!("directory_keys: {e}")))
    }
}

/// The peers in `text` (the `directory_file`, read at `now`, Unix seconds): a signed
/// directory verified against `trust` when it is given (one not valid yet is read as of its
/// `valid_after`, as clients do: only a slow clock; an expired one is refused: fetch a fresh
/// one from an authority's `/directory.json`), else an unsigned list, every entry usable.
///
/// # Errors
/// The [`DirectoryError`] that refuses it.
pub fn read_peers(
    text: &str,
    trust: Option<&DirectoryTrust>,
    now: u64,
) -> Result<Vec<RelayDescriptor>, DirectoryError> {
    let Some(trust) = trust else {
        return Ok(Directory::parse(text, Unusable::Refuse)?.relays);
    };
    let doc = SignedDirectory::parse(text)?;
    match doc.verify(trust, now) {
        Err(DirectoryError::NotYetValid { valid_after, .. }) => {
            Ok(doc.verify(trust, valid_after)?.relays)
        }
        other => Ok(other?.relays),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Runs one relay until Ctrl-C or SIGTERM.
pub async fn run(config: RunConfig) -> Result<(), RelayError> {
    let signal = shutdown_signal().await?;
    let identity = actor::load_identity(&config.data_dir, &config.keys)?;
    let peers = match &config.directory_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| RelayError::Config(format!("cannot read {}: {e}", path.display())))?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let trust = config.directory_trust()?;
            read_peers(&text, trust.as_ref(), now).map_err(|e| {
                let hint = match (&trust, &e) {
                    (None, DirectoryError::UnsupportedVersion) => {
                        " (a signed directory needs directory_keys)"
                    }
                    _ => "",
                };
                RelayError::Config(format!("{}: {e}{hint}", path.display()))
            })?
        }
        None => Vec::new(),
    };
    let service = config.service.to_config();
    let pow_bits = service.pow_bits;
    let node = actor::open_node(&config.data_dir, &identity, service)?;
    let listener = relay::bind(config.listen).await?;
    let local = listener.local_addr().map_err(|source| RelayError::Io {
        context: "reading a listener's address",
        source,
    })?;
    let http = match config.http {
        Some(addr) => Some(relay::bind(addr).await?),
        None => None,
    };
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let info = RelayInfo {
        name: "1".to_owned(),
        id: identity.id,
        url: config.public_url.clone(),
        keys: identity.published(&config.keys),
        pow_bits,
        signing_key: keyfile::load_or_create(&config.data_dir.join(keyfile::SIGNING_KEY_FILE))?,
    };
    let relay = Relay::start(
        info,
        local,
        &config.limits,
        shutdown_rx.clone(),
        (node, identity, config.keys),
    )?;
    let peers: Vec<_> = peers.into_iter().filter(|p| p.id != relay.id).collect();
    // Forwarding needs only ids and URLs, which a rotation does not change.
    let mut directory = peers.clone();
    directory.push(relay.entry());
    relay.set_directory(&directory);
    let serve = tokio::spawn(relay.clone().serve(listener));
    let http_task = match http {
        Some(listener) => {
            let addr = listener.local_addr().ok();
            let app = web::api_router(vec![relay.clone()], peers.clone());
            let mut stop = shutdown_rx.clone();
            Some((
                addr,
                tokio::spawn(async move {
                    axum::serve(listener, app)
                        .with_graceful_shutdown(async move {
                            relay::stopped(&mut stop).await;
                        })
                        .await
                }),
            ))
        }
        None => None,
    };

    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "relay listening on {local} as {} (id {})",
        relay.url,
        URL_SAFE_NO_PAD.encode(relay.id.as_bytes())
    );
    if let Some((Some(addr), _)) = &http_task {
        let _ = writeln!(out, "relay endpoints at http://{addr}");
    }
    let _ = out.flush();
    drop(out);
    tracing::info!(peers = directory.len() - 1, "relay up");

    signal.await;
    tracing::info!("shutting down");
    let _ = shutdown_tx.send(true);
    let _ = serve.await;
    if let Some((_, t)) = http_task {
        let _ = t.await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
listen = "127.0.0.1:9101"
public_url = "wss://relay.example.org"
data_dir = "/var/lib/sotto-relay"
"#;

    #[test]
    fn a_minimal_config_gets_defaults() {
        let c = RunConfig::parse(MINIMAL, |_| None).unwrap();
        assert_eq!(c.limits.max_connections, Limits::default().max_connections);
        assert_eq!(c.service.to_config(), ServiceConfig::default());
        assert!(c.http.is_none());
    }

    #[test]
    fn env_overrides_the_file_and_can_supply_required_keys() {
        let env = |k: &str| match k {
            "SOTTO_LISTEN" => Some("127.0.0.1:7000".to_owned()),
            "SOTTO_DATA_DIR" => Some("/tmp/x".to_owned()),
            _ => None,
        };
        let c = RunConfig::parse(
            "public_url = \"ws://a\"\n[service]\nqueue_quota = 200\n",
            env,
        )
        .unwrap();
        assert_eq!(c.listen.port(), 7000);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.service.to_config().queue_quota, 200);
    }

    #[test]
    fn key_rotation_and_pow_bits_are_configurable() {
        let c = RunConfig::parse(
            &format!(
                "{MINIMAL}[service]\npow_bits = 20\n[keys]\nepoch_secs = 3600\noverlap_secs = 600\n"
            ),
            |_| None,
        )
        .unwrap();
        assert_eq!(c.service.to_config().pow_bits, 20);
        assert_eq!(
            c.keys,
            KeyPolicy {
                epoch_secs: 3600,
                overlap_secs: 600
            }
        );
        assert_eq!(
            RunConfig::parse(MINIMAL, |_| None).unwrap().keys,
            KeyPolicy::default()
        );
        for bad in [
            "epoch_secs = 0",
            "epoch_secs = 10\noverlap_secs = 11",
            "period = 3",
        ] {
            let text = format!("{MINIMAL}[keys]\n{bad}\n");
            assert!(RunConfig::parse(&text, |_| None).is_err(), "{bad}");
        }
    }

    #[test]
    fn relay_wide_caps_are_configurable() {
        let c = RunConfig::parse(
            &format!(
                "{MINIMAL}[service]\nmax_queues = 10\nmax_messages = 20\nmax_message_bytes = 30\n\
                 max_blob_chunks_total = 40\nmax_surbs = 50\nsurb_ttl_secs = 90\n"
            ),
            |_| None,
        )
        .unwrap()
        .service
        .to_config();
        assert_eq!(
            (
                c.max_queues,
                c.max_messages,
                c.max_message_bytes,
                c.max_blob_chunks_total,
                c.max_surbs,
                c.surb_ttl
            ),
            (10, 20, 30, 40, 50, 90)
        );
        assert_eq!(c.queue_quota, ServiceConfig::default().queue_quota);
        let zero = format!("{MINIMAL}[service]\nsurb_ttl_secs = 0\n");
        assert!(RunConfig::parse(&zero, |_| None).is_err());
        let unknown = format!("{MINIMAL}[service]\nmax_surb = 5\n");
        assert!(RunConfig::parse(&unknown, |_| None).is_err());
    }

    #[test]
    fn bad_configs_are_one_line_errors() {
        for bad in [
            "listen = 5",
            "nonsense = true\nlisten=\"127.0.0.1:1\"\npublic_url=\"ws://a\"\ndata_dir=\"/x\"",
            "listen=\"127.0.0.1:1\"\npublic_url=\"http://a\"\ndata_dir=\"/x\"",
            "listen=\"127.0.0.1:1\"\npublic_url=\"ws://a\"\ndata_dir=\"/x\"\n[limits]\nmax_frame_bytes = 10",
            "[[[",
        ] {
            let e = RunConfig::parse(bad, |_| None).unwrap_err().to_string();
            assert!(!e.contains('\n'), "{e}");
        }
    }

    mod peers {
        use super::*;
        use sotto_proto::directory::SignedDescriptor;
        use sotto_proto::ids::RelayId;
        use sotto_proto::keys::{AuthKeyPair, PublicKey};

        fn authority(n: u8) -> AuthKeyPair {
            AuthKeyPair::from_persisted_bytes([n; 32])
        }

        fn key(n: u8) -> String {
            URL_SAFE_NO_PAD.encode(authority(n).public_key().as_bytes())
        }

        fn relay(n: u8) -> RelayDescriptor {
            RelayDescriptor {
                id: RelayId::from_bytes([n; 32]),
                url: format!("ws://127.0.0.1:{}", 9100 + u16::from(n)),
                sphinx_key: PublicKey::from_bytes([n + 100; 32]),
                key_epoch: 1,
                key_rotates_at: None,
                previous_key: None,
                pow_bits: None,
            }
        }

        /// Two relays, valid [1000, 2000), signed by authorities 1 and 2.
        fn signed() -> String {
            let relays = (1..=2)
                .map(|n| SignedDescriptor::sign(relay(n), &authority(n + 40), 900))
                .collect();
            let mut d = SignedDirectory::new(relays, 1_000, 2_000);
            d.sign(&authority(1));
            d.sign(&authority(2));
            d.to_json()
        }

        fn config(extra: &str) -> Result<RunConfig, RelayError> {
            RunConfig::parse(
                &format!("directory_file = \"/x/dir.json\"\n{extra}\n{MINIMAL}"),
                |_| None,
            )
        }

        fn trust(keys: &str) -> Option<DirectoryTrust> {
            config(keys).unwrap().directory_trust().unwrap()
        }

        #[test]
        fn a_signed_peers_file_is_checked_against_the_configured_keys() {
            let both = trust(&format!(
                "directory_keys = [\"{}\", \"{}\"]",
                key(1),
                key(2)
            ));
            let peers = read_peers(&signed(), both.as_ref(), 1_500).unwrap();
            assert_eq!(peers, vec![relay(1), relay(2)]);
            // Not valid yet: only a slow clock, read as of valid_after.
            assert_eq!(read_peers(&signed(), both.as_ref(), 10).unwrap().len(), 2);
            assert!(matches!(
                read_peers(&signed(), both.as_ref(), 2_000),
                Err(DirectoryError::Expired { .. })
            ));
            let other = trust(&format!("directory_keys = [\"{}\"]", key(3)));
            assert!(matches!(
                read_peers(&signed(), other.as_ref(), 1_500),
                Err(DirectoryError::TooFewSignatures {
                    valid: 0,
                    needed: 1
                })
            ));
            let one_of_two = trust(&format!(
                "directory_keys = [\"{}\", \"{}\"]\ndirectory_threshold = 1",
                key(1),
                key(3)
            ));
            assert!(read_peers(&signed(), one_of_two.as_ref(), 1_500).is_ok());
            // An unsigned list is refused once keys are configured.
            let unsigned = Directory::new(vec![relay(1)]).to_json();
            assert!(read_peers(&unsigned, both.as_ref(), 1_500).is_err());
        }

        #[test]
        fn without_keys_the_peers_file_is_an_unsigned_list() {
            assert_eq!(trust(""), None);
            let unsigned = Directory::new(vec![relay(1)]).to_json();
            assert_eq!(read_peers(&unsigned, None, 0).unwrap(), vec![relay(1)]);
            assert_eq!(
                read_peers(&signed(), None, 1_500),
                Err(DirectoryError::UnsupportedVersion)
            );
        }

        #[test]
        fn bad_directory_keys_are_config_errors() {
            for bad in [
                "directory_threshold = 1".to_owned(),
                "directory_keys = [\"not a key\"]".to_owned(),
                format!("directory_keys = [\"{}\"]\ndirectory_threshold = 2", key(1)),
            ] {
                assert!(config(&bad).is_err(), "{bad}");
            }
        }
    }
}
