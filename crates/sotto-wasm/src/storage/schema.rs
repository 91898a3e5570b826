//! The database itself: its name, its one object store and index, the plaintext `meta`
//! record, whole-database operations, and how IndexedDB failures become `SottoError`s.

use std::future::poll_fn;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};

use js_sys::Reflect;
use rexie::{Index, ObjectStore, Rexie, TransactionMode};
use sha2::{Digest, Sha256};
use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::*;

use crate::error::{ErrorCode, sotto_error};
use crate::js::{get, hex};

/// The layout version of the records (stored in `meta.schema`).
/// 2 added message status, expiry and attachments; profiles of schema 1 are migrated on open.
pub const SCHEMA_VERSION: u32 = 2;
pub const STORE: &str = "records";
pub const CONV_INDEX: &str = "conv";

/// The IndexedDB name of a profile.
pub fn db_name(profile: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"sotto/v1/profile-db");
    h.update(profile.as_bytes());
    let d = h.finalize();
    format!("sotto-{}", hex(&d[..8]))
}

/// A `SottoError` for an IndexedDB failure: `STORAGE_QUOTA` for a QuotaExceededError, else `STORAGE`.
pub fn storage_error(e: &rexie::Error) -> JsValue {
    let text = format!("{e} {e:?}");
    if text.contains("Quota") {
        sotto_error(
            ErrorCode::StorageQuota,
            "the browser's storage quota is exhausted",
        )
    } else {
        sotto_error(ErrorCode::Storage, &format!("IndexedDB: {e}"))
    }
}

pub fn corrupt(what: &str) -> JsValue {
    sotto_error(
        ErrorCode::Storage,
        &format!("the stored profile is damaged: {what}"),
    )
}

/// Opens (or creates) a profile's database with its one object store and index.
pub async fn open_db(name: &str) -> Result<Rexie, JsValue> {
    Rexie::builder(name)
        .version(1)
        .add_object_store(
            ObjectStore::new(STORE)
                .key_path("k")
                .add_index(Index::new(CONV_INDEX, "i")),
        )
        .build()
        .await
        .map_err(|e| storage_error(&e))
}

/// Deletes a database by name.
pub async fn delete_database(name: &str) -> Result<(), JsValue> {
    Rexie::delete(name).await.map_err(|e| storage_error(&e))
}

/// Puts `records` in `tx` and commits it ([`commit_with`]).
pub async fn put_all(tx: rexie::Transaction, records: Vec<JsValue>) -> Result<(), JsValue> {
    let store = match tx.store(STORE) {
        Ok(store) => store,
        Err(e) => return Err(abandon(tx, storage_error(&e)).await),
    };
    commit_with(tx, store.put_all(records.into_iter().map(|r| (r, None)))).await
}

/// Commits `tx` as soon as `staged` has issued its requests, and waits for both: `staged`
/// must issue every request it makes on its first poll (it then awaits their answers).
///
/// IndexedDB commits a transaction on its own only once this page has taken every request's
/// answer, so a page busy with other work (a packet's build) held the commit back until it
/// was done, and then waited for the answers' events; `IDBTransaction.commit()` lets the
/// browser commit as soon as the requests are done (issue 18). A request refused at once
/// aborts `tx` (nothing is written); one that fails later aborts it too (its error event is
/// not cancelled), and so does the browser when the commit fails: that is how a quota
/// error shows (`STORAGE_QUOTA`). `staged` is awaited still, never dropped pending: a
/// request whose future is dropped before its answer makes its handler throw.
pub async fn commit_with<F: Future<Output = rexie::Result<()>>>(
    tx: rexie::Transaction,
    staged: F,
) -> Result<(), JsValue> {
    let mut staged = pin!(staged);
    let mut done = None;
    poll_fn(|cx| {
        poll_into(staged.as_mut(), &mut done, cx);
        Poll::Ready(())
    })
    .await;
    if let Some(Err(e)) = done {
        return Err(abandon(tx, storage_error(&e)).await);
    }
    let rest = async {
        match done {
            Some(done) => done,
            None => staged.await,
        }
    };
    let (staged, committed) = both(rest, tx.commit()).await;
    staged.map_err(|e| storage_error(&e))?;
    match committed {
        Ok(()) => Ok(()),
        // We never abort a write once committing: the browser did.
        Err(rexie::Error::TransactioncommitFailed) => Err(quota_abort()),
        Err(e) => Err(storage_error(&e)),
    }
}

/// The error of a write that IndexedDB aborted though we did not: `STORAGE_QUOTA` (how a
/// quota error shows).
pub fn quota_abort() -> JsValue {
    sotto_error(
        ErrorCode::StorageQuota,
        "IndexedDB aborted the write (storage quota exhausted?)",
    )
}

/// Aborts `tx`, a write that failed before all of it was staged (a put refused at once, a
/// check that failed), so that IndexedDB does not commit the part already staged; hands back
/// `e`. (A transaction that already ended stays as it is.)
pub async fn abandon(tx: rexie::Transaction, e: JsValue) -> JsValue {
    let _ = tx.abort().await;
    e
}

/// Waits for `tx` to end: `Ok` once it committed, the error `aborted` makes if it did not.
pub async fn committed(
    tx: rexie::Transaction,
    aborted: impl FnOnce() -> JsValue,
) -> Result<(), JsValue> {
    match tx.done().await.map_err(|e| storage_error(&e))? {
        rexie::TransactionResult::Committed => Ok(()),
        _ => Err(aborted()),
    }
}

/// Polls `f` into `out`, unless it already finished (its output is in `out`).
fn poll_into<F: Future>(f: Pin<&mut F>, out: &mut Option<F::Output>, cx: &mut Context<'_>) {
    if out.is_none()
        && let Poll::Ready(o) = f.poll(cx)
    {
        *out = Some(o);
    }
}

/// Both futures' outputs, `a` and `b` polled together (`a` first, so that on the first poll
/// the IndexedDB request `a` makes is issued before the one `b` makes): requests in one
/// transaction issued at once, answered in order, instead of each after the last one's
/// answer.
pub async fn both<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut a_out, mut b_out) = (None, None);
    poll_fn(|cx| {
        poll_into(a.as_mut(), &mut a_out, cx);
        poll_into(b.as_mut(), &mut b_out, cx);
        match (a_out.take(), b_out.take()) {
            (Some(a), Some(b)) => Poll::Ready((a, b)),
            (a, b) => {
                (a_out, b_out) = (a, b);
                Poll::Pending
            }
        }
    })
    .await
}

/// Every future's output, in order, the futures polled together in order (as [`both`]).
pub async fn all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    poll_fn(|cx| {
        for (f, out) in futures.iter_mut().zip(outs.iter_mut()) {
            poll_into(f.as_mut(), out, cx);
        }
        if outs.iter().all(Option::is_some) {
            Poll::Ready(outs.iter_mut().filter_map(Option::take).collect())
        } else {
            Poll::Pending
        }
    })
    .await
}

/// Polls `first` and then `rest` (as [`both`]) until `first` is ready: its output, and
/// `rest`'s if that finished too (else it is left to be awaited).
pub async fn first_of<A: Future, B: Future>(
    first: A,
    mut rest: Pin<&mut B>,
) -> (A::Output, Option<B::Output>) {
    let mut first = pin!(first);
    let (mut out, mut done) = (None, None);
    let out = poll_fn(|cx| {
        poll_into(first.as_mut(), &mut out, cx);
        poll_into(rest.as_mut(), &mut done, cx);
        match out.take() {
            Some(out) => Poll::Ready(out),
            None => Poll::Pending,
        }
    })
    .await;
    (out, done)
}

/// What can be known of a saved profile before it is opened.
pub struct ProfileInfo {
    /// A passphrase protects it (`kdf: "argon2id"`).
    pub passphrase: bool,
}

/// Whether `profile` is saved in this browser, and whether a passphrase protects it. Reads only
/// the plaintext `meta` record; creates nothing (a database that `open` would have to create
/// is not there, so `None`).
pub async fn probe(profile: &str) -> Result<Option<ProfileInfo>, JsValue> {
    let name = db_name(profile);
    if let Some(names) = database_names().await
        && !names.contains(&name)
    {
        return Ok(None);
    }
    let db = open_db(&name).await?;
    let meta = read_meta(&db).await;
    db.close();
    match meta? {
        Some(meta) => Ok(Some(ProfileInfo {
            passphrase: get(&meta, "kdf").as_string().as_deref() == Some("argon2id"),
        })),
        None => {
            // No `indexedDB.databases()` here, and opening made an empty database: remove it.
            delete_database(&name).await?;
            Ok(None)
        }
    }
}

/// The names of this origin's databases, where the browser can list them.
async fn database_names() -> Option<Vec<String>> {
    let idb = Reflect::get(&js_sys::global(), &"indexedDB".into()).ok()?;
    let list: js_sys::Function = Reflect::get(&idb, &"databases".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let promise: js_sys::Promise = list.call0(&idb).ok()?.dyn_into().ok()?;
    let dbs = wasm_bindgen_futures::JsFuture::from(promise).await.ok()?;
    let dbs: js_sys::Array = dbs.dyn_into().ok()?;
    Some(
        dbs.iter()
            .filter_map(|d| get(&d, "name").as_string())
            .collect(),
    )
}

/// The plaintext `meta` record of `db`, `None` when there is none (a new database).
pub async fn read_meta(db: &Rexie) -> Result<Option<JsValue>, JsValue> {
    let tx = db
        .transaction(&[STORE], TransactionMode::ReadOnly)
        .map_err(|e| storage_error(&e))?;
    get_meta(tx).await
}

/// The plaintext `meta` record, read in `tx`; `None` when there is none.
pub async fn get_meta(tx: rexie::Transaction) -> Result<Option<JsValue>, JsValue> {
    tx.store(STORE)
        .map_err(|e| storage_error(&e))?
        .get("meta".into())
        .await
        .map_err(|e| storage_error(&e))
}
