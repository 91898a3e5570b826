//! Migrations of a profile's records to [`SCHEMA_VERSION`], run when a store is opened.

use js_sys::Reflect;
use rexie::TransactionMode;
use wasm_bindgen::JsValue;

use super::records::MessageRecord;
use super::schema::{CONV_INDEX, SCHEMA_VERSION, STORE, corrupt, put_all, storage_error};
use super::store::Store;
use crate::error::{ErrorCode, sotto_error};

/// Upgrades the records from schema `from` to [`SCHEMA_VERSION`], in one transaction: it
/// all happens or nothing does. Schema 1 → 2: message records get a status, an expiry and
/// room for a file.
pub async fn migrate(store: &Store, from: u32) -> Result<(), JsValue> {
    match from {
        SCHEMA_VERSION => return Ok(()),
        1 => {}
        _ => {
            return Err(sotto_error(
                ErrorCode::Storage,
                &format!("cannot migrate the stored profile from schema {from}"),
            ));
        }
    }
    // 1 → 2: message records get a status, an expiry and room for a file.
    let tx = store.tx(TransactionMode::ReadWrite)?;
    let records_store = tx.store(STORE).map_err(|e| storage_error(&e))?;
    let rows = records_store
        .index(CONV_INDEX)
        .map_err(|e| storage_error(&e))?
        .scan(None, None, None, None)
        .await
        .map_err(|e| storage_error(&e))?;
    let mut records = Vec::new();
    for (_, v) in rows {
        let (_, m) = store.open_message_row(&v, MessageRecord::decode_v1)?;
        records.push(store.message_record(&m));
    }
    let meta = records_store
        .get("meta".into())
        .await
        .map_err(|e| storage_error(&e))?
        .ok_or_else(|| corrupt("meta"))?;
    let _ = Reflect::set(&meta, &"schema".into(), &SCHEMA_VERSION.into());
    records.push(meta);
    drop(records_store);
    put_all(tx, records).await
}
