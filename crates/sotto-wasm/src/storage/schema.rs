//! The database itself: its name, its one object store and index, the plaintext `meta`
//! record, whole-database operations, and how IndexedDB failures become `SottoError`s.

use std::future::poll_fn;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};

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
    use idb::Error as E;
    // The DOMException a refused write carries: its `name` (no formatting of the whole error,
    // whose `Debug` would be shipped for this alone).
    let exception: Option<JsValue> = match e {
        rexie::Error::IdbError(E::DomException(d)) => Some(d.clone().into()),
        rexie::Error::IdbError(
            E::AddFailed(v) | E::UpdateFailed(v) | E::TransactionAbortError(v),
        ) => Some(v.clone()),
        _ => None,
    };
    let name = exception.map(|v| get(&v, "name"));
    if name.and_then(|n| n.as_string()).as_deref() == Some("QuotaExceededError") {
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
    let puts = store.put_all(records.into_iter().map(|r| (r, None)));
    commit_with(tx, pin!(async { Ok(()) }), vec![Box::pin(puts)]).await
}

/// Requests of a write (a put or several, a delete), as [`commit_with`] takes them: each
/// issues its requests on its first poll, then awaits their answers.
pub type Staged<'a> = Pin<Box<dyn Future<Output = rexie::Result<()>> + 'a>>;

/// A write's transaction `tx`, committed as soon as its `check` passed: `check` is polled
/// first (so that a read it makes is answered before the requests `staged` makes), then
/// every one of `staged`, which issue their requests; once the check passed and none was
/// refused at once, `IDBTransaction.commit()`, and this waits for the commit and for every
/// answer. A check that fails (its error is this one's), a request refused at once, or this
/// future dropped before the check passed aborts `tx`: nothing is written.
///
/// Why commit at once (issue 18): IndexedDB commits a transaction on its own only once this
/// page has taken every request's answer, so a page busy with other work (building a packet)
/// held the commit back until it was done, then waited for each answer's event; with
/// `commit()` the browser commits as soon as the requests are done. A request that fails
/// after that aborts the transaction still (its error event is not cancelled), as does the
/// browser when the commit fails, which is how a quota error shows (`STORAGE_QUOTA`): we
/// never abort a write once committing. `staged` is awaited to the end, never dropped
/// pending: a request whose future is dropped before its answer makes its handler throw.
pub async fn commit_with(
    tx: rexie::Transaction,
    mut check: Pin<&mut dyn Future<Output = Result<(), JsValue>>>,
    mut staged: Vec<Staged<'_>>,
) -> Result<(), JsValue> {
    let mut unchecked = Unchecked(Some(tx));
    let mut checked = None;
    let mut done: Vec<Option<rexie::Result<()>>> = Vec::new();
    done.resize_with(staged.len(), || None);
    let checked = poll_fn(|cx| {
        poll_into(check.as_mut(), &mut checked, cx);
        poll_each(&mut staged, &mut done, cx);
        match checked.take() {
            Some(c) => Poll::Ready(c),
            None => Poll::Pending,
        }
    })
    .await;
    // (Held until here: only a dropped future lets it go earlier.)
    let Some(tx) = unchecked.0.take() else {
        return Err(write_error(None));
    };
    // Aborted with `staged` still held, so that their answers (errors) find their handlers.
    if let Err(e) = checked {
        return Err(abandon(tx, e).await);
    }
    if let Some(Some(Err(e))) = done
        .iter_mut()
        .find(|d| matches!(d, Some(Err(_))))
        .map(Option::take)
    {
        return Err(abandon(tx, write_error(Some(e))).await);
    }
    staged.push(Box::pin(tx.commit()));
    done.push(None);
    poll_fn(|cx| match poll_each(&mut staged, &mut done, cx) {
        true => Poll::Ready(()),
        false => Poll::Pending,
    })
    .await;
    done.into_iter()
        .flatten()
        .collect::<rexie::Result<()>>()
        .map_err(|e| write_error(Some(e)))
}

/// Polls each of `staged` not yet finished into `done`; true once all are.
fn poll_each(
    staged: &mut [Staged<'_>],
    done: &mut [Option<rexie::Result<()>>],
    cx: &mut Context<'_>,
) -> bool {
    for (f, out) in staged.iter_mut().zip(done.iter_mut()) {
        poll_into(f.as_mut(), out, cx);
    }
    done.iter().all(Option::is_some)
}

/// The error of a write's request or commit (`None`: the transaction was gone): a commit
/// that IndexedDB aborted though we did not is `STORAGE_QUOTA` ([`quota_abort`]).
fn write_error(e: Option<rexie::Error>) -> JsValue {
    match e {
        Some(rexie::Error::TransactioncommitFailed) => quota_abort(),
        Some(e) => storage_error(&e),
        None => sotto_error(ErrorCode::Storage, "IndexedDB: the write ended"),
    }
}

/// The transaction of a [`commit_with`] whose check has not passed yet: dropped holding it
/// (the write's future dropped after its first poll, its requests issued), it aborts it, so
/// that no write goes unchecked.
struct Unchecked(Option<rexie::Transaction>);

impl Drop for Unchecked {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            // `abort` calls IndexedDB's at its first poll; what it returns is not awaited.
            let abort = pin!(tx.abort());
            let _ = abort.poll(&mut Context::from_waker(Waker::noop()));
        }
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

/// Polls `f` into `out`, unless it already finished (its output is in `out`).
fn poll_into<F: Future + ?Sized>(
    f: Pin<&mut F>,
    out: &mut Option<F::Output>,
    cx: &mut Context<'_>,
) {
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
