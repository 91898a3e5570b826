//! Opening without a network, in headless Chromium: a saved profile (its client state and the
//! signed directory it kept, written as the driver writes them) opens with its directory
//! unreachable, `offline`, its settings and contacts readable, and a call that waits for the
//! network settles at once (also when the kept directory does not verify with the keys given:
//! it is then not used); a new profile still needs the network (here a `'memory'` one; the e2e test
//! `offline.test.mjs` checks an `'indexeddb'` one in a page).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use js_sys::{Array, Object, Reflect};
use rand_core::UnwrapErr;
use sotto_proto::client::{Client, ClientConfig};
use sotto_proto::directory::{RelayDescriptor, SignedDescriptor, SignedDirectory};
use sotto_proto::ids::RelayId;
use sotto_proto::keys::{AuthKeyPair, PublicKey};
use sotto_wasm::Sotto;
use sotto_wasm::storage::{DIRECTORY_KEY, Store, db_name, delete_database, kind};
use wasm_bindgen::{JsCast as _, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Nothing answers there (and Chromium refuses the port outright).
const UNREACHABLE: &str = "http://127.0.0.1:9/directory.json";

/// The directory authority the tests' profiles trust (`directoryKeys`), threshold 1.
fn authority() -> AuthKeyPair {
    AuthKeyPair::from_persisted_bytes([7; 32])
}

/// Another authority, which the profiles do not trust.
fn stranger() -> AuthKeyPair {
    AuthKeyPair::from_persisted_bytes([8; 32])
}

fn relay(n: u8) -> RelayDescriptor {
    RelayDescriptor {
        id: RelayId::from_bytes([n; 32]),
        url: format!("ws://127.0.0.1:{}", 9 + u16::from(n)),
        sphinx_key: PublicKey::from_bytes([n.wrapping_add(100); 32]),
        key_epoch: 1,
        key_rotates_at: None,
        previous_key: None,
        pow_bits: None,
    }
}

/// Saves a profile as the driver would have: its client (gateway: relay 1), its message
/// counter, and (`signed_by`) the last directory read, signed by that authority.
async fn save_profile(profile: &str, name: &str, signed_by: Option<AuthKeyPair>) {
    let _ = delete_database(&db_name(profile)).await;
    let relays: Vec<RelayDescriptor> = (1..=4).map(relay).collect();
    let mut rng = UnwrapErr(getrandom::SysRng);
    let hops = relays.iter().map(|r| r.hop()).collect();
    let client = Client::new(&mut rng, hops, relays[0].id, name, ClientConfig::default()).unwrap();
    let store = Store::open_with(profile, None, 1024, 1).await.unwrap();
    let mut state = 0u64.to_be_bytes().to_vec();
    state.extend_from_slice(client.to_persisted().as_bytes());
    let mut records = Vec::new();
    if let Some(authority) = signed_by {
        let signed = relays
            .iter()
            .map(|r| SignedDescriptor::sign(r.clone(), &AuthKeyPair::generate(&mut rng), 900))
            .collect();
        let mut doc = SignedDirectory::new(signed, 1_000, 2_000);
        doc.sign(&authority);
        let text = doc.to_json();
        records.push(store.record(kind::DIRECTORY, DIRECTORY_KEY, text.as_bytes(), None));
    }
    store.write_state(records, &state).await.unwrap();
    store.close();
}

/// `Sotto.open`'s options: `fields`, and `directoryKeys` naming [`authority`].
fn options(fields: &[(&str, &str)]) -> JsValue {
    let o = Object::new();
    for (k, v) in fields {
        Reflect::set(&o, &(*k).into(), &(*v).into()).unwrap();
    }
    let key = URL_SAFE_NO_PAD.encode(authority().public_key().as_bytes());
    let keys = Array::of1(&key.into());
    Reflect::set(&o, &"directoryKeys".into(), &keys).unwrap();
    o.into()
}

fn code_of(e: &JsValue) -> Option<String> {
    Reflect::get(e, &"code".into()).ok()?.as_string()
}

#[wasm_bindgen_test]
async fn a_saved_profile_opens_offline_with_the_directory_it_kept() {
    let kept = [
        ("offline-kept", Some(authority())),
        ("offline-foreign", Some(stranger())),
        ("offline-none", None),
    ];
    for (profile, kept) in kept {
        save_profile(profile, "Olive", kept).await;
        let me = Sotto::open_async(options(&[
            ("storage", "indexeddb"),
            ("profile", profile),
            ("directoryUrl", UNREACHABLE),
        ]))
        .await
        .unwrap_or_else(|e| panic!("{profile}: a saved profile opens offline: {e:?}"));
        assert_eq!(me.connection(), "offline", "{profile}");
        assert_eq!(me.display_name(), "Olive", "{profile}: settings readable");
        let contacts = wasm_bindgen_futures::JsFuture::from(me.contacts())
            .await
            .unwrap();
        assert_eq!(contacts.dyn_into::<Array>().unwrap().length(), 0);
        // A call that waits for the network settles at once while offline.
        let e = wasm_bindgen_futures::JsFuture::from(me.create_invitation())
            .await
            .expect_err("no invitation offline");
        assert_eq!(
            code_of(&e).as_deref(),
            Some("RELAY_UNREACHABLE"),
            "{profile}"
        );
        let _ = wasm_bindgen_futures::JsFuture::from(me.wipe()).await;
    }
}

#[wasm_bindgen_test]
async fn a_new_profile_needs_the_network() {
    let Err(e) = Sotto::open_async(options(&[
        ("storage", "memory"),
        ("displayName", "Nina"),
        ("directoryUrl", UNREACHABLE),
    ]))
    .await
    else {
        panic!("a new profile cannot be made offline");
    };
    assert_eq!(code_of(&e).as_deref(), Some("RELAY_UNREACHABLE"));
}
