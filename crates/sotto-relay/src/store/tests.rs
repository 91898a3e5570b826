//! Tests of the redb store: records, batches, sweeps, reopening.

use super::*;

fn store() -> (tempfile::TempDir, RedbStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = RedbStore::open(&dir.path().join("s.redb")).unwrap();
    (dir, s)
}

fn qid(b: u8) -> QueueId {
    QueueId::from_bytes([b; 16])
}

fn msg(b: u8, at: u64) -> StoredMessage {
    StoredMessage {
        id: QueueMessageId::from_bytes([b; 16]),
        received_at: at,
        body: vec![b; 100],
    }
}

#[test]
fn queues_round_trip_and_sender_index_follows() {
    let (_d, mut s) = store();
    let q = QueueRecord {
        recipient_id: qid(1),
        sender_id: qid(2),
        recipient_key: AuthPublicKey::from_bytes([3; 32]),
        sender_key: None,
        created_at: 77,
    };
    s.insert_queue(&q).unwrap();
    assert_eq!(s.queue(&qid(1)).unwrap(), Some(q.clone()));
    assert_eq!(s.recipient_for_sender(&qid(2)).unwrap(), Some(qid(1)));
    s.set_sender_key(&qid(1), &AuthPublicKey::from_bytes([4; 32]))
        .unwrap();
    assert_eq!(
        s.queue(&qid(1)).unwrap().unwrap().sender_key,
        Some(AuthPublicKey::from_bytes([4; 32]))
    );
    s.push_message(&qid(1), &msg(9, 5)).unwrap();
    s.delete_queue(&qid(1)).unwrap();
    assert_eq!(s.queue(&qid(1)).unwrap(), None);
    assert_eq!(s.recipient_for_sender(&qid(2)).unwrap(), None);
    assert_eq!(s.total_messages().unwrap(), 0);
}

#[test]
fn messages_come_out_oldest_first_and_ack_removes_one() {
    let (_d, mut s) = store();
    for (i, b) in [30u8, 10, 20].into_iter().enumerate() {
        s.push_message(&qid(1), &msg(b, i as u64)).unwrap();
    }
    s.push_message(&qid(2), &msg(99, 0)).unwrap();
    assert_eq!(s.message_count(&qid(1)).unwrap(), 3);
    assert_eq!(
        s.oldest_message(&qid(1)).unwrap().unwrap().id,
        msg(30, 0).id
    );
    assert!(s.remove_message(&qid(1), &msg(30, 0).id).unwrap());
    assert!(!s.remove_message(&qid(1), &msg(30, 0).id).unwrap());
    assert!(!s.remove_message(&qid(2), &msg(10, 0).id).unwrap());
    assert_eq!(
        s.oldest_message(&qid(1)).unwrap().unwrap().id,
        msg(10, 0).id
    );
    assert_eq!(s.message_count(&qid(1)).unwrap(), 2);
    assert_eq!(s.message_count(&qid(2)).unwrap(), 1);
}

#[test]
fn sweep_removes_old_messages_and_expired_blobs_only() {
    let (_d, mut s) = store();
    s.push_message(&qid(1), &msg(1, 100)).unwrap();
    s.push_message(&qid(1), &msg(2, 200)).unwrap();
    let blob = BlobId::from_bytes([5; 16]);
    s.put_blob_chunk(&blob, 0, b"a", 150).unwrap();
    s.put_blob_chunk(&blob, 1, b"b", 300).unwrap();
    assert_eq!(s.blob_chunk_count(&blob).unwrap(), 2);
    let swept = s.sweep(160, 150).unwrap();
    assert_eq!((swept.messages, swept.blob_chunks), (1, 1));
    assert_eq!(s.oldest_message(&qid(1)).unwrap().unwrap().id, msg(2, 0).id);
    assert_eq!(s.blob_chunk(&blob, 0).unwrap(), None);
    assert_eq!(s.blob_chunk(&blob, 1).unwrap(), Some(b"b".to_vec()));
    assert_eq!(s.sweep(160, 150).unwrap(), Swept::default());
    // The acked message's expiry entry went with it.
    assert!(s.remove_message(&qid(1), &msg(2, 0).id).unwrap());
    assert_eq!(s.sweep(10_000, 10_000).unwrap().messages, 0);
}

#[test]
fn a_batch_sees_its_own_writes_and_commits_them_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let mut s = RedbStore::open(&path).unwrap();
    s.begin_batch().unwrap();
    assert!(!s.batch_dirty());
    let calls = s.calls();
    assert_eq!(s.message_count(&qid(1)).unwrap(), 0);
    assert!(s.calls() > calls);
    assert!(!s.batch_dirty(), "a read does not dirty the batch");
    s.push_message(&qid(1), &msg(1, 1)).unwrap();
    s.push_message(&qid(1), &msg(2, 2)).unwrap();
    assert!(s.batch_dirty());
    // Later requests of the batch see the earlier ones' writes…
    assert_eq!(s.message_count(&qid(1)).unwrap(), 2);
    assert!(s.remove_message(&qid(1), &msg(1, 0).id).unwrap());
    assert_eq!(s.oldest_message(&qid(1)).unwrap(), Some(msg(2, 2)));
    // …and nothing is committed before the batch is.
    let before = s.commit_histogram().count();
    assert!(s.commit_batch().unwrap(), "one commit for the batch");
    assert_eq!(s.commit_histogram().count(), before + 1);
    drop(s);
    let s = RedbStore::open(&path).unwrap();
    assert_eq!(s.oldest_message(&qid(1)).unwrap(), Some(msg(2, 2)));
    assert_eq!(s.total_messages().unwrap(), 1);
}

#[test]
fn a_batch_without_writes_commits_nothing_and_a_dropped_store_loses_its_open_batch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let mut s = RedbStore::open(&path).unwrap();
    s.begin_batch().unwrap();
    assert_eq!(s.total_queues().unwrap(), 0);
    assert!(!s.commit_batch().unwrap());
    assert_eq!(s.commit_histogram().count(), 0);
    s.begin_batch().unwrap();
    s.push_message(&qid(1), &msg(1, 1)).unwrap();
    // A crash before the commit: the uncommitted batch is gone.
    drop(s);
    let s = RedbStore::open(&path).unwrap();
    assert_eq!(s.total_messages().unwrap(), 0);
}

#[test]
fn data_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    {
        let mut s = RedbStore::open(&path).unwrap();
        s.push_message(&qid(1), &msg(1, 1)).unwrap();
    }
    let s = RedbStore::open(&path).unwrap();
    assert_eq!(s.oldest_message(&qid(1)).unwrap(), Some(msg(1, 1)));
}

/// (queues, messages, message bytes, blob chunks).
fn usage(s: &RedbStore) -> (u64, u64, u64, u64) {
    let u = s.usage();
    (u.queues, u.messages, u.message_bytes, u.blob_chunks)
}

#[test]
fn usage_follows_every_write_survives_reopening_and_an_aborted_batch_puts_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let mut s = RedbStore::open(&path).unwrap();
    let q = |b: u8| QueueRecord {
        recipient_id: qid(b),
        sender_id: qid(b + 100),
        recipient_key: AuthPublicKey::from_bytes([b; 32]),
        sender_key: None,
        created_at: 1,
    };
    s.insert_queue(&q(1)).unwrap();
    s.insert_queue(&q(1)).unwrap();
    s.insert_queue(&q(2)).unwrap();
    s.push_message(&qid(1), &msg(1, 10)).unwrap();
    s.push_message(&qid(1), &msg(2, 20)).unwrap();
    s.push_message(&qid(2), &msg(3, 10)).unwrap();
    let blob = BlobId::from_bytes([7; 16]);
    s.put_blob_chunk(&blob, 0, b"a", 5).unwrap();
    s.put_blob_chunk(&blob, 0, b"a", 5).unwrap();
    s.put_blob_chunk(&blob, 1, b"b", 50).unwrap();
    assert_eq!(usage(&s), (2, 3, 300, 2));
    assert!(!s.remove_message(&qid(1), &msg(9, 0).id).unwrap());
    assert!(s.remove_message(&qid(1), &msg(2, 0).id).unwrap());
    assert_eq!(usage(&s), (2, 2, 200, 2));
    // A batch's writes count at once.
    s.begin_batch().unwrap();
    s.push_message(&qid(2), &msg(4, 30)).unwrap();
    assert_eq!(usage(&s), (2, 3, 300, 2));
    s.commit_batch().unwrap();
    s.sweep(6, 15).unwrap();
    assert_eq!(usage(&s), (2, 1, 100, 1));
    s.delete_queue(&qid(2)).unwrap();
    s.delete_queue(&qid(2)).unwrap();
    assert_eq!(usage(&s), (1, 0, 0, 1));
    s.push_message(&qid(1), &msg(5, 40)).unwrap();
    let before = usage(&s);
    drop(s);
    let mut s = RedbStore::open(&path).unwrap();
    assert_eq!(usage(&s), before, "counted again from the tables");
    // An aborted batch (a failed write) leaves the counts as they were before it.
    s.begin_batch().unwrap();
    s.push_message(&qid(1), &msg(6, 50)).unwrap();
    s.batch.as_mut().unwrap().failed = true;
    assert!(s.commit_batch().is_err());
    assert_eq!(usage(&s), before);
    assert_eq!(s.total_messages().unwrap(), before.1);
}

/// Rekey over redb: the service moves a queue, the old key is answered Moved, and all of it
/// survives reopening the store.
#[test]
fn a_rekeyed_queue_stays_moved_across_reopening() {
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    use sotto_proto::ids::RelayId;
    use sotto_proto::keys::AuthKeyPair;
    use sotto_proto::onion::{ConnTag, Hop, RelayKey, build_surb};
    use sotto_proto::pow::Scope;
    use sotto_proto::queue::{Command, ErrorCode, Request, sign_moved};
    use sotto_proto::service::{Outcome, QueueService, ServiceConfig};

    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let hop = Hop {
        id: RelayId::random(&mut rng),
        key: RelayKey::generate(&mut rng, 1).public_key(),
    };
    let scope = Scope {
        relay: hop.id,
        key_epoch: 1,
    };
    let route = vec![hop; 3];
    let old = AuthKeyPair::generate(&mut rng);
    let new = AuthKeyPair::generate(&mut rng);
    let rid = qid(1);
    let mut run = |service: &mut QueueService<RedbStore>, command: Command, key: &AuthKeyPair| {
        let conn = ConnTag::random(&mut rng);
        let reply = build_surb(&mut rng, &route, conn).unwrap().0;
        let payload = Request {
            request_id: 1,
            reply: Some(reply),
            command,
        }
        .encode(Some(key))
        .unwrap();
        service.handle(&payload, &scope, 100, &mut rng).outcome
    };
    let subscribe = |recipient_id| Command::Subscribe {
        recipient_id,
        surbs: vec![
            build_surb(
                &mut ChaCha20Rng::seed_from_u64(6),
                &route,
                ConnTag::from_bytes([1; 16]),
            )
            .unwrap()
            .0,
        ],
    };
    let rekey = Command::Rekey {
        recipient_id: rid,
        new_recipient_key: new.public_key(),
        moved_sig: sign_moved(&old, &rid, &new.public_key()),
    };
    {
        let mut s = RedbStore::open(&path).unwrap();
        s.insert_queue(&QueueRecord {
            recipient_id: rid,
            sender_id: qid(2),
            recipient_key: old.public_key(),
            sender_key: None,
            created_at: 1,
        })
        .unwrap();
        let mut service = QueueService::new(s, ServiceConfig::default());
        assert_eq!(run(&mut service, subscribe(rid), &old), Outcome::Ok);
        assert_eq!(service.surbs_held(), 1);
        assert_eq!(run(&mut service, rekey.clone(), &old), Outcome::Ok);
        assert_eq!(service.surbs_held(), 0);
        // A stranger's Rekey is refused.
        let stranger = AuthKeyPair::generate(&mut ChaCha20Rng::seed_from_u64(7));
        let theirs = Command::Rekey {
            recipient_id: rid,
            new_recipient_key: stranger.public_key(),
            moved_sig: sign_moved(&stranger, &rid, &stranger.public_key()),
        };
        assert_eq!(
            run(&mut service, theirs, &stranger),
            Outcome::Refused(ErrorCode::Auth)
        );
    }
    let s = RedbStore::open(&path).unwrap();
    assert_eq!(
        s.queue(&rid).unwrap().unwrap().recipient_key,
        new.public_key()
    );
    let record = s.moved(&rid).unwrap().pop().unwrap();
    assert_eq!(record.previous_key, old.public_key());
    let mut service = QueueService::new(s, ServiceConfig::default());
    // After reopening: the old key is told it moved (a repeated Rekey too), the new key
    // subscribes.
    assert_eq!(
        run(&mut service, subscribe(rid), &old),
        Outcome::Refused(ErrorCode::Moved)
    );
    assert_eq!(
        run(&mut service, rekey, &old),
        Outcome::Refused(ErrorCode::Moved)
    );
    assert_eq!(run(&mut service, subscribe(rid), &new), Outcome::Ok);
    // Deleting the queue forgets the statement.
    let delete = Command::Delete { recipient_id: rid };
    assert_eq!(run(&mut service, delete, &new), Outcome::Ok);
    assert!(service.store().moved(&rid).unwrap().is_empty());
}
