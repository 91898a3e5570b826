//! `sotto-relay dev`: a whole local network in one process — N relays on loopback and an HTTP
//! server for the PWA, the directory, health and metrics.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sotto_proto::directory::RelayDescriptor;
use tokio::sync::watch;

use std::sync::{Arc, Mutex};

use crate::actor;
use crate::authority::{Authority, DEFAULT_LIFETIME_SECS};
use crate::error::RelayError;
use crate::identity::KeyPolicy;
use crate::keyfile;
use crate::limits::Limits;
use crate::relay::{self, Relay, RelayInfo};
use crate::web;
use sotto_proto::service::ServiceConfig;

/// How many directory authorities `dev` runs (keys `authority-1.key` … in its data
/// directory) and how many of them clients need ([`DEV_THRESHOLD`]).
pub const DEV_AUTHORITIES: usize = 3;
/// The threshold `dev` tells clients in `/config.json`.
pub const DEV_THRESHOLD: usize = 2;

/// The dev network's authorities: [`DEV_AUTHORITIES`] keys kept in the data directory
/// (`authority-N.key`), directories valid [`DEFAULT_LIFETIME_SECS`] and signed again at once
/// when a relay's key rotates.
fn dev_authority(data_dir: &std::path::Path) -> Result<Authority, RelayError> {
    let keys = (1..=DEV_AUTHORITIES)
        .map(|i| keyfile::load_or_create(&data_dir.join(format!("authority-{i}.key"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Authority::new(keys, DEFAULT_LIFETIME_SECS))
}

/// Options of `sotto-relay dev`.
#[derive(Clone, Debug)]
pub struct DevOptions {
    pub http: SocketAddr,
    pub relays: u16,
    /// First relay's port; relay `i` (from 1) listens on `ws_base_port + i - 1`. `0` lets the
    /// OS pick every port (for tests).
    pub ws_base_port: u16,
    /// Durable state; `None` with `ephemeral == false` means the default data directory.
    pub data_dir: Option<PathBuf>,
    pub ephemeral: bool,
    pub web_root: PathBuf,
    pub limits: Limits,
    pub service: ServiceConfig,
    pub keys: KeyPolicy,
}

/// The default data directory: `$XDG_DATA_HOME/sotto/dev`, else `~/.local/share/sotto/dev`.
pub fn default_data_dir() -> Option<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(x).join("sotto").join("dev"));
    }
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(|h| PathBuf::from(h).join(".local/share/sotto/dev"))
}

/// Waits for Ctrl-C or SIGTERM.
pub async fn shutdown_signal() -> Result<impl Future<Output = ()>, RelayError> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|source| RelayError::Io {
            context: "installing the SIGTERM handler",
            source,
        })?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// Runs the dev network until Ctrl-C or SIGTERM, then shuts down gracefully.
pub async fn run(opts: DevOptions) -> Result<(), RelayError> {
    if opts.relays == 0 {
        return Err(RelayError::Config("--relays must be at least 1".into()));
    }
    opts.keys.validate()?;
    // Install the signal handlers first, so a signal during start-up is not fatal-by-default.
    let signal = shutdown_signal().await?;

    let _temp; // removed on return
    let data_dir = if opts.ephemeral {
        let t = tempfile::Builder::new()
            .prefix("sotto-dev-")
            .tempdir()
            .map_err(|source| RelayError::DataDir {
                path: std::env::temp_dir(),
                source,
            })?;
        let p = t.path().to_path_buf();
        _temp = Some(t);
        p
    } else {
        _temp = None;
        match &opts.data_dir {
            Some(d) => d.clone(),
            None => default_data_dir().ok_or_else(|| {
                RelayError::Config(
                    "no default data directory (HOME unset): pass --data-dir or --ephemeral".into(),
                )
            })?,
        }
    };

    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut bound = Vec::new();
    for i in 0..opts.relays {
        let dir = data_dir.join(format!("relay-{}", i + 1));
        let identity = actor::load_identity(&dir, &opts.keys)?;
        let signing_key = keyfile::load_or_create(&dir.join(keyfile::SIGNING_KEY_FILE))?;
        let node = actor::open_node(&dir, &identity, opts.service.clone())?;
        let port = if opts.ws_base_port == 0 {
            0
        } else {
            opts.ws_base_port.checked_add(i).ok_or_else(|| {
                RelayError::Config("--ws-base-port + --relays goes past port 65535".into())
            })?
        };
        let listener = relay::bind(SocketAddr::new(loopback, port)).await?;
        let local = listener.local_addr().map_err(|source| RelayError::Io {
            context: "reading a listener's address",
            source,
        })?;
        bound.push((identity, signing_key, node, listener, local));
    }
    let http_listener = relay::bind(opts.http).await?;
    let http_addr = http_listener
        .local_addr()
        .map_err(|source| RelayError::Io {
            context: "reading a listener's address",
            source,
        })?;

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut relays = Vec::new();
    let mut listeners = Vec::new();
    for (i, (identity, signing_key, node, listener, local)) in bound.into_iter().enumerate() {
        let info = RelayInfo {
            name: (i + 1).to_string(),
            id: identity.id,
            url: format!("ws://{local}"),
            keys: identity.published(&opts.keys),
            pow_bits: opts.service.pow_bits,
            signing_key,
        };
        let relay = Relay::start(
            info,
            local,
            &opts.limits,
            shutdown_rx.clone(),
            (node, identity, opts.keys),
        )?;
        relays.push(relay);
        listeners.push(listener);
    }
    let entries: Vec<RelayDescriptor> = relays.iter().map(|r| r.entry()).collect();
    let mut tasks = Vec::new();
    for (relay, listener) in relays.iter().zip(listeners) {
        relay.set_directory(&entries);
        tasks.push(tokio::spawn(relay.clone().serve(listener)));
    }

    let authority = dev_authority(&data_dir)?;
    let app = web::router(
        &opts.web_root,
        relays.clone(),
        Arc::new(Mutex::new(authority)),
        DEV_THRESHOLD,
    );
    let mut http_shutdown = shutdown_rx.clone();
    let http_task = tokio::spawn(async move {
        axum::serve(http_listener, app)
            .with_graceful_shutdown(async move {
                let _ = http_shutdown.wait_for(|s| *s).await;
            })
            .await
    });

    // Everything listens now.
    let mut out = std::io::stdout().lock();
    for r in &relays {
        let _ = writeln!(
            out,
            "relay {} listening on {} (id {})",
            r.name,
            r.url,
            URL_SAFE_NO_PAD.encode(r.id.as_bytes())
        );
    }
    let _ = writeln!(out, "Sotto is running at http://{http_addr}");
    let _ = out.flush();
    drop(out);
    tracing::info!(relays = relays.len(), data_dir = %data_dir.display(), "dev network up");

    signal.await;
    tracing::info!("shutting down");
    let _ = shutdown_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    let _ = http_task.await;
    tracing::debug!("listeners stopped");
    drop(relays);
    tracing::debug!("stores closed");
    Ok(())
}
