//! Tests of the client facade.

use super::receive::{RecvQueue, Subscription};
use super::*;
use crate::handshake::InvitationSecret;
use crate::ids::QueueId;
use crate::invitation::InvitationKind;
use crate::onion::RelayKey;
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng as _, SeedableRng};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

pub(super) const NOW: u64 = 1_800_000_000;

/// A client with four relays, the first its gateway.
pub(super) fn client(rng: &mut ChaCha20Rng) -> Client {
    let relays: Vec<Hop> = (0..4)
        .map(|_| Hop {
            id: RelayId::random(rng),
            key: RelayKey::generate(rng, 1).public_key(),
        })
        .collect();
    let gateway = relays[0].id;
    Client::new(rng, relays, gateway, "Alice", ClientConfig::default()).unwrap()
}

#[test]
fn new_keys_from_a_directory_read_say_so_and_the_same_keys_do_not() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let mut client = client(&mut rng);
    let same = client.relays.clone();
    assert!(!client.update_relays_at(&mut rng, same, NOW).unwrap());
    let mut rotated = client.relays.clone();
    rotated[2].key = RelayKey::generate(&mut rng, 2).public_key();
    assert!(
        client
            .update_relays_at(&mut rng, rotated.clone(), NOW)
            .unwrap()
    );
    assert_eq!(client.relays, rotated);
    // Too small a directory changes nothing.
    assert!(
        client
            .update_relays_at(&mut rng, rotated[..2].to_vec(), NOW)
            .is_err()
    );
    assert_eq!(client.relays, rotated);
}

#[test]
fn work_is_paid_per_relay_as_the_directory_says() {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let mut client = client(&mut rng);
    let hops = client.relays.clone();
    // Without a directory entry: epoch 1 and our own difficulty.
    let (scope, bits) = client.pow_terms(hops[1].id);
    assert_eq!(
        (scope.relay, scope.key_epoch),
        (hops[1].id, FIRST_KEY_EPOCH)
    );
    assert_eq!(bits, ClientConfig::default().pow_bits);
    let descriptors: Vec<RelayDescriptor> = hops
        .iter()
        .enumerate()
        .map(|(i, h)| RelayDescriptor {
            id: h.id,
            url: format!("ws://127.0.0.1:{}", 9100 + i),
            sphinx_key: h.key,
            key_epoch: 7,
            key_rotates_at: None,
            previous_key: None,
            // The second relay publishes no difficulty.
            pow_bits: (i != 2).then_some(3),
        })
        .collect();
    client
        .update_directory(&mut rng, &descriptors, NOW)
        .unwrap();
    assert_eq!(
        client.pow_terms(hops[1].id),
        (
            Scope {
                relay: hops[1].id,
                key_epoch: 7
            },
            3
        )
    );
    assert_eq!(
        client.pow_terms(hops[2].id).1,
        ClientConfig::default().pow_bits
    );
    // A directory without our gateway changes nothing.
    let mut worse = descriptors.clone();
    worse.remove(0);
    for d in &mut worse {
        d.key_epoch = 9;
    }
    assert!(client.update_directory(&mut rng, &worse, NOW).is_err());
    assert_eq!(client.pow_terms(hops[1].id).0.key_epoch, 7);
}

#[test]
fn nothing_to_do_is_no_timeout() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut client = client(&mut rng);
    assert_eq!(client.poll_timeout(), None);
    client.connected(&mut rng, NOW);
    assert_eq!(client.poll_timeout(), None);
}

#[test]
fn a_request_is_due_at_its_retry_time_and_resent_then() {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let mut client = client(&mut rng);
    let retry = client.config.retry_after;
    client.create_invitation(&mut rng, NOW).unwrap();
    assert!(client.poll_transmit().is_some());
    assert_eq!(client.poll_timeout(), Some(NOW + retry));

    // Too early: nothing is resent.
    client.tick(&mut rng, NOW + retry - 1);
    assert!(client.poll_transmit().is_none());
    assert_eq!(client.poll_timeout(), Some(NOW + retry));

    // On time: resent, and due again one retry later.
    client.tick(&mut rng, NOW + retry);
    assert!(client.poll_transmit().is_some());
    assert!(client.poll_transmit().is_none());
    assert_eq!(client.pending_requests(), 1);
    assert_eq!(client.poll_timeout(), Some(NOW + 2 * retry));
}

/// `n` receive queues of one client, none subscribed yet.
fn with_queues(rng: &mut ChaCha20Rng, client: &mut Client, n: u64) -> Vec<QueueId> {
    (0..n)
        .map(|i| {
            let queue = QueueId::random(rng);
            client.queues.insert(
                queue,
                RecvQueue {
                    relay: client.relays[1 + (i as usize % 3)].id,
                    key: crate::keys::AuthKeyPair::generate(rng),
                    owner: receive::QueueOwner::Contact(i),
                    subscription: Subscription::default(),
                    next_key: None,
                },
            );
            queue
        })
        .collect()
}

/// A generator that counts the calls made to it (each one a `crypto.getRandomValues` across
/// the JavaScript boundary in the browser).
struct Counting(ChaCha20Rng, usize);

impl rand_core::TryRng for Counting {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        self.1 += 1;
        Ok(self.0.next_u32())
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.1 += 1;
        Ok(self.0.next_u64())
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        self.1 += 1;
        self.0.fill_bytes(dst);
        Ok(())
    }
}

impl rand_core::TryCryptoRng for Counting {}

#[test]
fn connecting_draws_every_queues_second_in_one_call() {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let mut client = client(&mut rng);
    with_queues(&mut rng, &mut client, 200);
    let mut counting = Counting(rng, 0);
    client.connected(&mut counting, NOW);
    assert_eq!(counting.1, 1, "one draw for the 200 queues");
    let times: std::collections::HashSet<u64> = client
        .queues
        .values()
        .filter_map(|q| q.subscription.renew_at)
        .collect();
    assert_eq!(times.len(), 200, "each queue in a second of its own");
    // Drawn in the first 4 + 200 seconds, a taken second moving a queue on by one.
    assert!(times.iter().all(|t| (NOW..NOW + 204 + 200).contains(t)));
}

#[test]
fn subscriptions_are_spread_one_queue_per_second_and_renewed_with_jitter() {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let mut client = client(&mut rng);
    let every = client.config.resubscribe_every;
    with_queues(&mut rng, &mut client, 3);
    client.connected(&mut rng, NOW);
    // Only the Bind leaves at once.
    assert!(client.poll_transmit().is_some());
    assert!(client.poll_transmit().is_none());
    let times: Vec<u64> = client
        .queues
        .values()
        .filter_map(|q| q.subscription.renew_at)
        .collect();
    let distinct: std::collections::HashSet<u64> = times.iter().copied().collect();
    assert_eq!(distinct.len(), 3, "each queue in a second of its own");
    assert!(times.iter().all(|t| (NOW..NOW + 7).contains(t)));
    assert_eq!(client.poll_timeout(), times.iter().min().copied());

    // Ticking late (a tab asleep): still one queue per tick.
    let mut sent_at = Vec::new();
    for now in NOW + 10..NOW + 20 {
        client.tick(&mut rng, now);
        let frames = std::iter::from_fn(|| client.poll_transmit()).count();
        assert!(frames <= 1, "one queue per tick");
        if frames == 1 {
            sent_at.push(now);
            client.pending.clear();
        }
    }
    assert_eq!(sent_at, [NOW + 10, NOW + 11, NOW + 12]);
    // Renewals: between half and all of `resubscribe_every` later, in distinct seconds.
    let renewals: Vec<u64> = client
        .queues
        .values()
        .filter_map(|q| q.subscription.renew_at)
        .collect();
    for at in &renewals {
        assert!(*at >= NOW + 10 + every / 2 && *at <= NOW + 12 + every + 2);
    }
    let distinct: std::collections::HashSet<u64> = renewals.iter().copied().collect();
    assert_eq!(distinct.len(), 3);
}

#[test]
fn the_earliest_of_retries_and_renewals_is_due() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let mut client = client(&mut rng);
    let (retry, every) = (client.config.retry_after, client.config.resubscribe_every);
    let their_queue = QueueId::random(&mut rng);
    let secret = InvitationSecret::create(
        &mut rng,
        InvitationKind::OneTime,
        client.gateway(),
        their_queue,
        NOW,
    );
    client
        .accept_invitation(&mut rng, *secret.invitation(), NOW)
        .unwrap();
    // A queue subscribed at NOW + 1 (as if its creation were answered then), with no
    // request in flight: the renewal is next.
    let pending = std::mem::take(&mut client.pending);
    let queue = QueueId::random(&mut rng);
    client.queues.insert(
        queue,
        RecvQueue {
            relay: client.gateway(),
            key: crate::keys::AuthKeyPair::generate(&mut rng),
            owner: receive::QueueOwner::Contact(1),
            subscription: Subscription {
                renew_at: Some(NOW + 1 + every),
                surbs: Vec::new(),
            },
            next_key: None,
        },
    );
    assert_eq!(client.poll_timeout(), Some(NOW + 1 + every));
    // With the request back, its retry comes first.
    client.pending = pending;
    assert_eq!(client.poll_timeout(), Some(NOW + retry));
    // Ticking at the renewal time re-subscribes: a Subscribe is now in flight too.
    client.pending.clear();
    client.tick(&mut rng, NOW + 1 + every);
    assert_eq!(client.pending_requests(), 1);
    assert_eq!(client.poll_timeout(), Some(NOW + 1 + every + retry));
}

#[test]
fn rekeys_leave_one_queue_per_second_before_each_queues_subscribe() {
    use crate::queue::{Command, ResponseBody, verify_moved};
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let mut client = client(&mut rng);
    let queues = with_queues(&mut rng, &mut client, 3);
    client.rekey = Some(test_rekey_secret());
    client.start_rekeys();
    assert_eq!(client.queues_moving(), 3);
    client.connected(&mut rng, NOW);
    assert!(client.poll_transmit().is_some(), "the Bind");
    let mut seen = Vec::new();
    let mut subscribed = std::collections::HashSet::new();
    for now in NOW..NOW + 20 {
        let before: Vec<u64> = client.pending.keys().copied().collect();
        client.tick(&mut rng, now);
        let frames = std::iter::from_fn(|| client.poll_transmit()).count();
        assert!(frames <= 1, "one queue per tick");
        let new: Vec<u64> = client
            .pending
            .keys()
            .filter(|id| !before.contains(id))
            .copied()
            .collect();
        for id in new {
            let command = client.pending[&id].command.clone();
            if let Command::Subscribe { recipient_id, .. } = command {
                assert!(
                    seen.iter().any(|(_, q)| *q == recipient_id),
                    "a Subscribe before the queue's Rekey"
                );
                subscribed.insert(recipient_id);
                client.pending.remove(&id);
                continue;
            }
            let Command::Rekey {
                recipient_id,
                new_recipient_key,
                moved_sig,
            } = command
            else {
                panic!("not a Rekey: {command:?}");
            };
            // Signed by the queue's current key, naming the key it is moving to.
            let q = &client.queues[&recipient_id];
            verify_moved(
                &q.key.public_key(),
                &recipient_id,
                &new_recipient_key,
                &moved_sig,
            )
            .unwrap();
            seen.push((now, recipient_id));
            // The relay takes it: the new key is the queue's, and its Subscribe follows.
            client.on_response(
                &mut rng,
                crate::queue::Response {
                    request_id: id,
                    body: ResponseBody::Ok,
                },
                now,
            );
            assert_eq!(
                client.queues[&recipient_id].key.public_key(),
                new_recipient_key
            );
        }
    }
    assert_eq!(seen.len(), 3);
    assert_eq!(subscribed.len(), 3, "each queue subscribed once it moved");
    let seconds: std::collections::HashSet<u64> = seen.iter().map(|(t, _)| *t).collect();
    assert_eq!(seconds.len(), 3, "each Rekey in a second of its own");
    let mut ids: Vec<QueueId> = seen.iter().map(|(_, q)| *q).collect();
    ids.sort_unstable();
    let mut expected = queues;
    expected.sort_unstable();
    assert_eq!(ids, expected);
    assert_eq!(client.queues_moving(), 0);
}

fn test_rekey_secret() -> RekeySecret {
    RekeySecret::from_root(&crate::mnemonic::Mnemonic::from_entropy(&[9; 32]).root_secret())
}

/// Ticks `client` until a request whose command `pick` accepts is in flight; its id.
fn next_request(
    rng: &mut ChaCha20Rng,
    client: &mut Client,
    pick: impl Fn(&crate::queue::Command) -> bool,
) -> u64 {
    for now in NOW..NOW + 60 {
        client.tick(rng, now);
        while client.poll_transmit().is_some() {}
        if let Some((id, _)) = client.pending.iter().find(|(_, p)| pick(&p.command)) {
            return *id;
        }
    }
    panic!("no such request");
}

/// Answers request `id` (naming our `queue`) with `Moved` to `to`, signed by the queue's key.
fn answer_moved(
    rng: &mut ChaCha20Rng,
    client: &mut Client,
    (id, queue): (u64, QueueId),
    to: crate::keys::AuthPublicKey,
    now: u64,
) {
    use crate::queue::{Response, ResponseBody, sign_moved};
    let moved_sig = sign_moved(&client.queues[&queue].key, &queue, &to);
    let body = ResponseBody::Moved {
        new_recipient_key: to,
        moved_sig,
    };
    client.on_response(
        rng,
        Response {
            request_id: id,
            body,
        },
        now,
    );
}

/// A `Moved` answering our own Rekey with a key of ours (an earlier restore's generation)
/// adopts it and moves on to the generation after it; the same statement answering a
/// Subscribe (a device the profile moved away from, even one holding the rekey secret)
/// makes the client moved.
#[test]
fn a_moved_answer_adopts_our_own_key_only_for_our_rekey() {
    use crate::queue::Command;
    let secret = test_rekey_secret();
    for rekeying in [true, false] {
        let mut rng = ChaCha20Rng::seed_from_u64(6);
        let mut client = client(&mut rng);
        let queue = with_queues(&mut rng, &mut client, 1)[0];
        client.rekey = Some(secret.clone());
        if rekeying {
            client.start_rekeys();
        }
        client.connected(&mut rng, NOW);
        let id = next_request(&mut rng, &mut client, |c| {
            matches!(c, Command::Rekey { .. } | Command::Subscribe { .. })
        });
        // The queue moved, two restores ago, to generation 2 of this phrase.
        let gen2 = secret.key(&queue, 2).public_key();
        answer_moved(&mut rng, &mut client, (id, queue), gen2, NOW + 1);
        assert_eq!(client.is_moved(), !rekeying);
        if !rekeying {
            continue;
        }
        assert_eq!(client.queues[&queue].key.public_key(), gen2);
        let id = next_request(&mut rng, &mut client, |c| {
            matches!(c, Command::Rekey { .. })
        });
        let Command::Rekey {
            new_recipient_key, ..
        } = &client.pending[&id].command
        else {
            panic!("not a Rekey");
        };
        assert_eq!(*new_recipient_key, secret.key(&queue, 3).public_key());
        // A key that is not ours: moved.
        let stranger = crate::keys::AuthKeyPair::generate(&mut rng).public_key();
        answer_moved(&mut rng, &mut client, (id, queue), stranger, NOW + 2);
        assert!(client.is_moved());
    }
}

/// Moving fails a download in flight (here a snapshot fetch) instead of leaving it hanging.
#[test]
fn moving_fails_the_downloads_in_flight() {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let mut client = client(&mut rng);
    let root = crate::mnemonic::Mnemonic::from_entropy(&[4; 32]).root_secret();
    let address = crate::snapshot::Address::derive(&root, 1, 0);
    let handle = client.fetch_snapshot(&mut rng, address, NOW).unwrap();
    while client.poll_event().is_some() {}
    client.enter_moved();
    let events: Vec<Event> = std::iter::from_fn(|| client.poll_event()).collect();
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::SnapshotFetchFailed { handle: h, error: snapshot::FetchError::Failed(Error::Moved) }
                if *h == handle
        )),
        "{events:?}"
    );
    assert!(client.downloads.is_empty());
}

/// A moved profile refuses a new display name and keeps the old one.
#[test]
fn a_moved_profile_keeps_its_display_name() {
    let mut rng = ChaCha20Rng::seed_from_u64(8);
    let mut client = client(&mut rng);
    let before = client.display_name().to_owned();
    client.enter_moved();
    assert_eq!(
        client.set_display_name(&mut rng, "Someone else", NOW),
        Err(ClientError::Moved)
    );
    assert_eq!(client.display_name(), before);
}

#[test]
fn a_contact_without_a_kept_digest_is_handed_out_with_its_receive_queues() {
    // The safety net of `to_changed_parts`: a present contact whose part digest is not kept
    // (never so while every change marks) is encoded as `to_parts` encodes it, its receive
    // queues included, not a part without them beside a core that no longer holds them.
    let mut rng = ChaCha20Rng::seed_from_u64(0xd16);
    let mut client = client(&mut rng);
    let (session, _, _) = crate::ratchet::tests::pair(0xd17);
    let resync = crate::ratchet::resync::ResyncSecret::legacy(&[7; crate::ratchet::AD_LEN])
        .expect("a resync secret");
    let send = contact::SendQueue {
        relay: client.gateway(),
        sender_id: QueueId::random(&mut rng),
        key: crate::keys::AuthKeyPair::generate(&mut rng),
        secured: true,
    };
    let bob = client.add_contact("Bob".into(), session, send, None, resync);
    client.queues.insert(
        QueueId::random(&mut rng),
        RecvQueue {
            relay: client.gateway(),
            key: crate::keys::AuthKeyPair::generate(&mut rng),
            owner: receive::QueueOwner::Contact(bob),
            subscription: Subscription::default(),
            next_key: None,
        },
    );
    let _ = client.to_changed_parts([]);
    client.part_digests.clear();

    let changed = client.to_changed_parts([]);
    let full = client.to_parts();
    assert_eq!(changed.contacts.len(), 1);
    assert_eq!(
        changed.contacts[0].part.as_bytes(),
        full.contacts[0].part.as_bytes()
    );
    assert_eq!(changed.core.as_bytes(), full.core.as_bytes());
}
