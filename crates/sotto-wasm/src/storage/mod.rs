//! The encrypted IndexedDB store of one profile (through `rexie`).
//!
//! One database per profile, named `sotto-<hex of SHA-256("sotto/v1/profile-db" ‖ profile)[..8]>`
//! so the profile's name does not show. One object store, `records`, keyed by `k` with an
//! index `conv` over `i`:
//!
//! - `meta` (the only plaintext record): `{k: "meta", schema, kdf, salt, m, t, p, wrapped}`.
//!   `wrapped` = nonce ‖ tag ‖ ChaCha20-Poly1305(KEK, store key, ad = "sotto/v1/store-key").
//!   KEK = Argon2id(NFKC(passphrase), salt, m = 64 MiB, t = 3, p = 1; RFC 9106's second
//!   recommendation; weaker stored costs are raised on the next unlock) (`kdf: "argon2id"`), or, with no
//!   passphrase, HKDF-SHA256 of a fixed label (`kdf: "none"`): that only hides the key from
//!   casual inspection; the passphrase is what protects it.
//! - every other record: `{k: hex(HMAC(index key, kind ‖ key)), i?, v}` where
//!   `v` = nonce ‖ tag ‖ ChaCha20-Poly1305(store key, value, ad = kind ‖ key), the index key
//!   is HKDF(store key, "sotto/v1/record-index"). Messages carry
//!   `i` = hex(HMAC(index key, "conv" ‖ contact)) ‖ ":" ‖ 16 hex digits of a local sequence
//!   number, so a conversation pages in order without showing who or when.
//! - the `state` record (message counter ‖ the client's core part, `Client::to_parts`) also
//!   carries a plaintext generation number `g` and the id `w` of the store that wrote it
//!   (random, new on every open); a write of the state is refused (`PROFILE_IN_USE`) unless
//!   the stored record is this store's own or still the one it read
//!   ([`Store::write_state_with`]). A profile stored before per-contact records holds
//!   the whole client there instead (its first byte, after the counter, tells which); it is
//!   split by its first write.
//! - one `contact` record per contact (its part of the client state), keyed
//!   `hex(HMAC(index key, "contact"))[..32] ‖ ":" ‖ hex(HMAC(index key, "contact" ‖ id))` so
//!   that one key range holds them all: read with the state in one transaction (one getAll),
//!   written (only those whose bytes changed) and deleted in the state's transaction, after
//!   its generation check.
//!
//! The store key lives in a `Zeroizing` box and never reaches JS.
//!
//! Files: `records` (plaintext layouts and their codec), `crypto` (sealing, key wrapping),
//! `schema` (the database, `meta`, error mapping), `store` (an open [`Store`]: read, write,
//! page), `state` (the client state's records), `migrate` (older schemas). Dependencies run one way: migrate → store → schema,
//! crypto, records.

mod crypto;
mod migrate;
mod records;
mod schema;
mod state;
mod store;

use std::rc::Rc;

use wasm_bindgen::JsValue;

pub use crypto::{ARGON2_M_KIB, ARGON2_P, ARGON2_T};
pub use records::{
    DIRECTORY_KEY, FileRecord, LOCAL_KEY, Local, MNEMONIC_KEY, MessageRecord, STATE_KEY, Status,
    kind,
};
pub use schema::{ProfileInfo, SCHEMA_VERSION, db_name, delete_database, probe, storage_error};
pub use state::{ReadRecord, StoredState};
pub use store::Store;

impl Store {
    /// Opens (or creates) a profile's store, migrating its records to [`SCHEMA_VERSION`]. A
    /// wrong passphrase gives `WRONG_PASSPHRASE` and changes nothing.
    pub async fn open(profile: &str, passphrase: Option<&str>) -> Result<Store, JsValue> {
        Self::open_with(profile, passphrase, ARGON2_M_KIB, ARGON2_T).await
    }

    /// [`Store::open`] with other Argon2id costs for a new profile (tests use cheap ones).
    pub async fn open_with(
        profile: &str,
        passphrase: Option<&str>,
        m_kib: u32,
        t: u32,
    ) -> Result<Store, JsValue> {
        let store = Store::unlock(profile, passphrase, m_kib, t).await?;
        if let Err(e) = migrate::migrate(&store, store.opened_schema).await {
            store.close();
            return Err(e);
        }
        Ok(store)
    }
}

/// Closes a profile's store and deletes its database. A write still in flight may hold the
/// store: then the database is closed under it and deleted by name; the key is zeroized when
/// the last holder drops it.
pub async fn wipe(store: Rc<Store>) -> Result<(), JsValue> {
    match Rc::try_unwrap(store) {
        Ok(store) => store.wipe().await,
        Err(shared) => {
            shared.close();
            let name = shared.db_name().to_owned();
            drop(shared);
            delete_database(&name).await
        }
    }
}
