//! The group commit's order: a delivery leaves before the batch's commit, an answer after it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Mutex;

use sotto_proto::ids::QueueId;
use sotto_proto::keys::AuthPublicKey;
use sotto_proto::service::{QueueRecord, QueueStore};

use super::*;

/// Records the frames the actor pushes to clients, in order.
struct Recorder {
    metrics: RelayMetrics,
    sent: Mutex<Vec<u8>>,
}

impl NodeOutputs for Recorder {
    fn name(&self) -> &str {
        "t"
    }
    fn metrics(&self) -> &RelayMetrics {
        &self.metrics
    }
    fn send_to(self: &Arc<Self>, _: &tokio::runtime::Handle, _: RelayId, _: Packet) {}
    fn push_to_client(&self, _: ConnId, frame: Vec<u8>) {
        self.sent.lock().unwrap().extend(frame);
    }
    fn publish_keys(&self, _: PublishedKeys) {}
}

fn out(frame: u8, delivery: bool) -> NodeOutput {
    NodeOutput::ToClient {
        conn: 1,
        frame: vec![frame],
        delivery,
    }
}

#[test]
fn a_delivery_leaves_before_the_commit_and_the_answer_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let policy = KeyPolicy::default();
    let identity = load_identity(dir.path(), &policy).unwrap();
    let node = open_node(dir.path(), &identity, ServiceConfig::default()).unwrap();
    let relay = Arc::new(Recorder {
        metrics: RelayMetrics::default(),
        sent: Mutex::new(Vec::new()),
    });
    let mut actor = Actor {
        relay: relay.clone(),
        node,
        identity,
        policy,
        rt: rt.handle().clone(),
        rng: ChaCha20Rng::from_seed([7; 32]),
        last: NodeStats::default(),
        held: Vec::new(),
    };
    let sent = || relay.sent.lock().unwrap().clone();

    // A batch that wrote (as a Send's store does), then an input that used the store: its
    // answer (1) and the delivery of the message (2).
    let store = actor.node.service_mut().store_mut();
    store.begin_batch().unwrap();
    let queue = QueueRecord {
        recipient_id: QueueId::from_bytes([1; QueueId::LEN]),
        sender_id: QueueId::from_bytes([2; QueueId::LEN]),
        recipient_key: AuthPublicKey::from_bytes([3; 32]),
        sender_key: None,
        created_at: 1,
    };
    store.insert_queue(&queue).unwrap();
    actor.emit(vec![out(1, false), out(2, true)], true);
    assert_eq!(sent(), vec![2], "the delivery left, the answer waits");

    // The commit (held until now) releases the answer.
    actor.commit(false);
    assert_eq!(sent(), vec![2, 1]);

    // Outputs of an input that did not use the store, or of a clean batch, go at once.
    actor.emit(vec![out(3, false)], false);
    actor.node.service_mut().store_mut().begin_batch().unwrap();
    actor.emit(vec![out(4, false), out(5, true)], true);
    assert_eq!(sent(), vec![2, 1, 3, 4, 5]);
    actor.commit(false);
    assert_eq!(sent(), vec![2, 1, 3, 4, 5]);
}
