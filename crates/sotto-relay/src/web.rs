//! The HTTP side of `sotto-relay dev`: the PWA's static files, `/directory.json` (signed by
//! the dev network's authorities), `/config.json` (the authorities' keys, for the PWA and
//! tests), `/descriptor` (the first relay's signed descriptor), `/healthz` and `/metrics`.
//!
//! Only `/` (and `/index.html`), `/web/**` and `/pkg/**` are served from the web root, through
//! `tower-http`'s `ServeDir`, which refuses `..` and absolute paths; nothing else of the web
//! root (sources, `.git`, the data directory) is reachable.

use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sotto_proto::directory::{Directory, RelayDescriptor};
use tower_http::services::{ServeDir, ServeFile};

use crate::authority::{Authority, json_response};
use crate::metrics;
use crate::relay::Relay;

struct WebState {
    relays: Vec<Arc<Relay>>,
    csp: HeaderValue,
    /// Other relays to publish besides `relays` (whose entries are read live, so a key
    /// rotation shows at once).
    peers: Vec<RelayDescriptor>,
    /// The authorities that sign `/directory.json` (`dev`), with the threshold clients are
    /// told; `None` for `run`, whose `/directory.json` is its unsigned peers list.
    authority: Option<(Arc<Mutex<Authority>>, usize)>,
}

/// The Content-Security-Policy for the PWA's HTML. `connect-src` lists exactly the relays'
/// WebSocket origins.
pub fn content_security_policy(relay_urls: &[String]) -> String {
    let mut origins: Vec<String> = Vec::new();
    for url in relay_urls {
        let origin = ws_origin(url);
        if !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    let connect = if origins.is_empty() {
        String::new()
    } else {
        format!(" {}", origins.join(" "))
    };
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'{connect}; \
         img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self'; object-src 'none'; \
         base-uri 'none'; frame-ancestors 'none'"
    )
}

/// `ws://host:port/path` → `ws://host:port`.
fn ws_origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("ws", url));
    let authority = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{authority}")
}

/// The operator endpoints only (`/directory.json`, `/healthz`, `/metrics`), for `run`.
/// `/directory.json` lists `peers` and then `relays` (with their live keys).
pub fn api_router(relays: Vec<Arc<Relay>>, peers: Vec<RelayDescriptor>) -> Router {
    let state = Arc::new(WebState {
        relays,
        csp: HeaderValue::from_static("default-src 'none'"),
        peers,
        authority: None,
    });
    api_routes()
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            static_headers,
        ))
        .with_state(state)
}

fn api_routes() -> Router<Arc<WebState>> {
    Router::new()
        .route("/directory.json", get(directory))
        .route("/descriptor", get(descriptor))
        .route("/config.json", get(config))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
}

/// Builds the dev HTTP router: the operator endpoints and the PWA. `/directory.json` is
/// signed by `authority`; `/config.json` tells its keys and `threshold`.
pub fn router(
    web_root: &Path,
    relays: Vec<Arc<Relay>>,
    authority: Arc<Mutex<Authority>>,
    threshold: usize,
) -> Router {
    let urls: Vec<String> = relays.iter().map(|r| r.url.clone()).collect();
    let csp = HeaderValue::from_str(&content_security_policy(&urls))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"));
    let state = Arc::new(WebState {
        relays,
        csp,
        peers: Vec::new(),
        authority: Some((authority, threshold)),
    });
    let index = ServeFile::new(web_root.join("index.html"));
    api_routes()
        .route_service("/", index.clone())
        .route_service("/index.html", index)
        .nest_service("/web", ServeDir::new(web_root.join("web")))
        .nest_service("/pkg", ServeDir::new(web_root.join("pkg")))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            static_headers,
        ))
        .with_state(state)
}

async fn directory(State(state): State<Arc<WebState>>) -> Response {
    if let Some((authority, _)) = &state.authority {
        let now = unix_now();
        let relays = state.relays.iter().map(|r| r.signed_entry(now)).collect();
        let body = authority
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .directory(relays, now)
            .to_json();
        return json_response(body);
    }
    let relays = state
        .peers
        .iter()
        .cloned()
        .chain(state.relays.iter().map(|r| r.entry()))
        .collect();
    axum::Json(Directory::new(relays).to_json_value()).into_response()
}

/// The first relay's descriptor, signed with its identity key (what authorities poll).
async fn descriptor(State(state): State<Arc<WebState>>) -> Response {
    match state.relays.first() {
        Some(r) => json_response(r.signed_entry(unix_now()).to_json_value().to_string()),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `{"directoryKeys": [...], "directoryThreshold": k}`: what `Sotto.open` needs to trust this
/// network's directory (dev only).
async fn config(State(state): State<Arc<WebState>>) -> Response {
    match &state.authority {
        Some((authority, threshold)) => {
            let keys = authority
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .public_keys();
            axum::Json(serde_json::json!({
                "directoryKeys": keys,
                "directoryThreshold": threshold,
            }))
            .into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn healthz(State(state): State<Arc<WebState>>) -> Response {
    let mut relays = Vec::new();
    let mut all_up = true;
    for r in &state.relays {
        let up = r.probe().await;
        all_up &= up;
        relays.push(serde_json::json!({
            "id": URL_SAFE_NO_PAD.encode(r.id.as_bytes()),
            "url": r.url,
            "up": up,
        }));
    }
    let status = if all_up { "ok" } else { "degraded" };
    let code = if all_up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        axum::Json(serde_json::json!({ "status": status, "relays": relays })),
    )
        .into_response()
}

async fn metrics_text(State(state): State<Arc<WebState>>) -> Response {
    let body = metrics::render(state.relays.iter().map(|r| (r.name.as_str(), &r.metrics)));
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

/// MIME types, caching, CSP and the service worker's scope, on every response.
async fn static_headers(State(state): State<Arc<WebState>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let mut resp = next.run(req).await;
    let success = resp.status().is_success();
    let headers = resp.headers_mut();
    if success {
        let forced = if path.ends_with(".wasm") {
            Some("application/wasm")
        } else if path.ends_with(".webmanifest") {
            Some("application/manifest+json")
        } else if path.ends_with(".js") || path.ends_with(".mjs") {
            Some("text/javascript; charset=utf-8")
        } else {
            None
        };
        if let Some(ct) = forced {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
        }
    }
    let is_html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_html {
        headers.insert(header::CONTENT_SECURITY_POLICY, state.csp.clone());
    }
    if path == "/web/sw.js" {
        headers.insert("service-worker-allowed", HeaderValue::from_static("/"));
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csp_lists_each_relay_origin_once() {
        let csp = content_security_policy(&[
            "ws://127.0.0.1:9101".into(),
            "ws://127.0.0.1:9102/".into(),
            "ws://127.0.0.1:9101".into(),
        ]);
        assert!(csp.contains("connect-src 'self' ws://127.0.0.1:9101 ws://127.0.0.1:9102;"));
        assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval';"));
        assert!(csp.ends_with("frame-ancestors 'none'"));
    }
}
