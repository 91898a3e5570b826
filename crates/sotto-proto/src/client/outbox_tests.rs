//! Tests of outboxes (issue 18): envelopes sealed when they leave, as many as fit in one
//! message; a sealed message sent again unchanged until stored; order, failures and receipts
//! per envelope; the resync hold; what a state written before a Send is built holds; the
//! outbox layout of version 7 states.

use super::contact::Outgoing;
use super::persist::{OUTGOING_ENVELOPE, OUTGOING_SEALED};
use super::request::PendingKind;
use super::request::tests::{accepted, answer, pending_id};
use super::tests::{NOW, client};
use super::*;
use crate::envelope::{Content, Envelope};
use crate::handshake::InvitationSecret;
use crate::queue::{Command, ErrorCode, ResponseBody};
use crate::ratchet::Session;
use crate::ratchet::resync::ResyncRequest;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// A client that accepted an invitation, its contact's queue secured and its hello stored:
/// the client, the contact, the inviter's secret and the inviter's session with us.
fn talking(rng: &mut ChaCha20Rng) -> (Client, ContactId, InvitationSecret, Session) {
    let mut client = client(rng);
    let (_, secret) = accepted(&mut client, rng);
    let secure = pending_id(&client, |k| matches!(k, PendingKind::Secure { .. }));
    answer(&mut client, rng, secure, ResponseBody::Ok);
    let contact = std::iter::from_fn(|| client.poll_event())
        .find_map(|e| match e {
            Event::ContactAdded { contact, .. } => Some(contact),
            _ => None,
        })
        .unwrap();
    let (_, hello) = in_flight(&client).unwrap();
    let (session, _, _) = secret.receive_hello(rng, &hello, NOW).unwrap();
    assert_eq!(store(&mut client, rng).len(), 1, "the hello");
    (client, contact, secret, session)
}

/// The Send in flight: its request id and the message it carries.
fn in_flight(client: &Client) -> Option<(u64, Vec<u8>)> {
    client.pending.iter().find_map(|(id, p)| match &p.command {
        Command::Send { message, .. } => Some((*id, message.clone())),
        _ => None,
    })
}

/// The relay stores the message in flight: the ids of the [`Event::Sent`] that follow.
fn store(client: &mut Client, rng: &mut ChaCha20Rng) -> Vec<MessageId> {
    let (id, _) = in_flight(client).unwrap();
    answer(client, rng, id, ResponseBody::Ok);
    std::iter::from_fn(|| client.poll_event())
        .filter_map(|e| match e {
            Event::Sent { message, .. } => Some(message),
            _ => None,
        })
        .collect()
}

/// The relay refuses the message in flight (the queue is full): the message.
fn refuse(client: &mut Client, rng: &mut ChaCha20Rng) -> Vec<u8> {
    let (id, message) = in_flight(client).unwrap();
    answer(client, rng, id, ResponseBody::Error(ErrorCode::Quota));
    message
}

fn send(client: &mut Client, rng: &mut ChaCha20Rng, contact: ContactId, i: usize) -> MessageId {
    client
        .send_text(rng, contact, &format!("m{i}"), NOW)
        .unwrap()
        .id
}

fn texts(envelopes: Vec<Envelope>) -> Vec<String> {
    envelopes
        .into_iter()
        .map(|e| match e.content {
            Content::Text(t) => t,
            other => panic!("not a text: {other:?}"),
        })
        .collect()
}

fn names(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("m{i}")).collect()
}

#[test]
fn a_burst_leaves_in_a_few_messages_in_order_each_sent_once() {
    let mut rng = ChaCha20Rng::seed_from_u64(1801);
    let (mut client, contact, _, mut peer) = talking(&mut rng);
    let ids: Vec<MessageId> = (0..200)
        .map(|i| send(&mut client, &mut rng, contact, i))
        .collect();
    let (mut got, mut sent, mut messages) = (Vec::new(), Vec::new(), 0);
    while let Some((_, message)) = in_flight(&client) {
        messages += 1;
        got.extend(peer.receive_all(&mut rng, &message).unwrap());
        sent.extend(store(&mut client, &mut rng));
    }
    assert_eq!(texts(got), names(0..200));
    assert_eq!(sent, ids, "each stored once, in order");
    // The first alone at once (nothing was in flight), then 101 short texts to a message.
    assert_eq!(messages, 3);
    assert_eq!(client.unsent_messages(), 0);
}

#[test]
fn a_refused_batch_fails_per_envelope_and_is_sent_again_unchanged_then_stored() {
    let mut rng = ChaCha20Rng::seed_from_u64(1802);
    let (mut client, contact, _, mut peer) = talking(&mut rng);
    let m0 = send(&mut client, &mut rng, contact, 0);
    let batch: Vec<MessageId> = (1..5)
        .map(|i| send(&mut client, &mut rng, contact, i))
        .collect();
    let (_, first) = in_flight(&client).unwrap();
    assert_eq!(
        texts(peer.receive_all(&mut rng, &first).unwrap()),
        names(0..1)
    );
    assert_eq!(store(&mut client, &mut rng), vec![m0]);
    assert_eq!(client.unsent_messages(), 4);
    let sealed = refuse(&mut client, &mut rng);
    let failed: Vec<MessageId> = std::iter::from_fn(|| client.poll_event())
        .filter_map(|e| match e {
            Event::SendFailed { message, .. } => Some(message),
            _ => None,
        })
        .collect();
    assert_eq!(failed, batch, "one failure per envelope, in order");
    assert!(in_flight(&client).is_none(), "backing off");
    // Written meanwhile: it waits behind the refused batch, not added to it.
    let m5 = send(&mut client, &mut rng, contact, 5);
    assert!(in_flight(&client).is_none());
    // Retried on demand by the id of any of its envelopes: the same bytes.
    assert_eq!(client.retry_message(&mut rng, batch[2], NOW), Ok(contact));
    let (id, again) = in_flight(&client).unwrap();
    assert_eq!(again, sealed, "never encrypted again");
    // Unanswered, the request is resent as it is.
    client.tick(&mut rng, NOW + client.config.retry_after);
    let (resent, again) = in_flight(&client).unwrap();
    assert_eq!((resent, &again), (id, &sealed));
    assert_eq!(
        texts(peer.receive_all(&mut rng, &again).unwrap()),
        names(1..5)
    );
    assert_eq!(store(&mut client, &mut rng), batch);
    let (_, last) = in_flight(&client).unwrap();
    assert_eq!(
        texts(peer.receive_all(&mut rng, &last).unwrap()),
        names(5..6)
    );
    assert_eq!(store(&mut client, &mut rng), vec![m5]);
}

#[test]
fn envelopes_wait_for_the_new_session_while_our_resync_request_is_in_flight() {
    let mut rng = ChaCha20Rng::seed_from_u64(1803);
    let (mut client, contact, secret, peer) = talking(&mut rng);
    let m0 = send(&mut client, &mut rng, contact, 0);
    // Queued before the resync starts (behind m0, in flight), and written during it.
    let before: Vec<MessageId> = (1..3)
        .map(|i| send(&mut client, &mut rng, contact, i))
        .collect();
    client.start_resync_as(&mut rng, contact, None, NOW);
    assert_eq!(store(&mut client, &mut rng), vec![m0]);
    let (_, request) = in_flight(&client).unwrap();
    assert!(store(&mut client, &mut rng).is_empty(), "a resync message");
    let during = send(&mut client, &mut rng, contact, 3);
    // Nothing is sealed under the session being replaced, and nothing is due.
    assert!(in_flight(&client).is_none());
    assert_eq!(client.next_outbox_retry(), None);
    assert_eq!(client.unsent_messages(), 2);

    // The contact answers: everything waiting leaves under the new session, in order.
    let ad = *peer.associated_data();
    let resync = secret.resync_secret(&ad).unwrap();
    let request = ResyncRequest::parse(&request, &resync, &ad).unwrap();
    let hello = Envelope::new(&mut rng, NOW, Content::Text("accept".into()));
    let (mut new_peer, accept) = peer
        .accept_resync(&mut rng, &resync, &request, &hello.encode().unwrap())
        .unwrap();
    client.on_contact_message(&mut rng, contact, &accept, NOW);
    let (_, batch) = in_flight(&client).unwrap();
    assert_eq!(
        texts(new_peer.receive_all(&mut rng, &batch).unwrap()),
        names(1..4)
    );
    let mut all = before;
    all.push(during);
    assert_eq!(store(&mut client, &mut rng), all);
}

#[test]
fn a_state_written_before_a_send_is_built_holds_the_sealed_message() {
    let mut rng = ChaCha20Rng::seed_from_u64(1804);
    let (mut client, contact, _, _) = talking(&mut rng);
    client.build_later(true);
    let m0 = send(&mut client, &mut rng, contact, 0);
    send(&mut client, &mut rng, contact, 1);
    assert!(client.packets_owed());
    let saved = client.to_persisted();
    let owed = client.take_owed();
    assert!(owed.has_sends(), "a Send is owed");
    assert_eq!(client.build_packets(&mut rng, owed, NOW).len(), 1);
    let (_, message) = in_flight(&client).unwrap();
    let reopened = Client::from_persisted(saved.as_bytes()).unwrap();
    let front = reopened.contacts[&contact].outbox.first();
    assert!(matches!(front, Some(Outgoing::Sealed(ids, m)) if *ids == [m0] && *m == message));
}

/// Where `needle` starts in `haystack` (it must be there once).
fn find_once(haystack: &[u8], needle: &[u8]) -> usize {
    let at: Vec<usize> = haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(at.len(), 1, "found {} times", at.len());
    at[0]
}

#[test]
fn an_outbox_of_envelopes_and_sealed_messages_is_kept_and_a_version_7_one_opens() {
    let mut rng = ChaCha20Rng::seed_from_u64(1805);
    let mut client = client(&mut rng);
    accepted(&mut client, &mut rng);
    // Accepting: the hello is sealed, and the queue not yet secured, so a text waits as an
    // envelope.
    let (contact, hello) = client.unsent_ids().next().unwrap();
    let text = client.send_text(&mut rng, contact, "later", NOW).unwrap();
    assert_eq!(
        client.unsent_ids().collect::<Vec<_>>(),
        vec![(contact, hello), (contact, text.id)]
    );
    let saved = client.to_persisted();
    let back = Client::from_persisted(saved.as_bytes()).unwrap();
    assert_eq!(back.to_persisted().as_bytes(), saved.as_bytes());
    assert_eq!(back.unsent_messages(), 2);

    // Version 7: each entry a sealed message of one envelope, id ‖ len32 message, with no
    // kind and no count, and no read ids after the outbox; it opens as a sealed message of
    // one, the same bytes.
    let bytes = saved.as_bytes();
    let mut sealed_entry = vec![OUTGOING_SEALED, 0, 1];
    sealed_entry.extend_from_slice(hello.as_bytes());
    // Kind ‖ id ‖ length (the envelope itself starts with the version, 1, and the id).
    let len = text.encode_unpadded().unwrap().len();
    let mut envelope_entry = vec![OUTGOING_ENVELOPE];
    envelope_entry.extend_from_slice(text.id.as_bytes());
    envelope_entry.extend_from_slice(&u32::try_from(len).unwrap().to_be_bytes());
    let mut v7 = bytes.to_vec();
    let at = find_once(&v7, &envelope_entry);
    let end = at + 1 + 16 + 4 + len;
    assert_eq!(v7[end..end + 2], [0, 0], "no id read yet");
    v7.drain(at..end + 2);
    let at = find_once(&v7, &sealed_entry);
    v7.drain(at..at + 3);
    // The outbox's count (u32), just before the hello's entry: 2 → 1.
    assert_eq!(v7[at - 4..at], [0, 0, 0, 2]);
    v7[at - 1] = 1;
    v7[0] = 7;
    let old = Client::from_persisted(&v7).unwrap();
    assert_eq!(old.unsent_ids().collect::<Vec<_>>(), vec![(contact, hello)]);
    let text_entry = client.contacts.get_mut(&contact).unwrap().outbox.pop();
    assert!(matches!(text_entry, Some(Outgoing::Envelope(id, ..)) if id == text.id));
    assert_eq!(
        old.to_persisted().as_bytes(),
        client.to_persisted().as_bytes()
    );

    // Damage: an unknown kind, a sealed message of no envelope, an envelope under another id
    // or one that does not decode.
    let entry = find_once(bytes, &envelope_entry);
    let sealed = find_once(bytes, &sealed_entry);
    for (at, value) in [
        (entry, 3),
        (sealed, 3),
        (sealed + 2, 0),
        (entry + 1, bytes[entry + 1] ^ 1),
        (entry + 1 + 16 + 4, 9),
    ] {
        let mut bad = bytes.to_vec();
        bad[at] = value;
        assert!(Client::from_persisted(&bad).is_err(), "byte {at} = {value}");
    }
}

/// [`talking`] from `seed`, its events polled: the rng, the client, the contact and the
/// inviter's session with us.
fn talking_quietly(seed: u64) -> (ChaCha20Rng, Client, ContactId, Session) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let (mut client, contact, _, peer) = talking(&mut rng);
    while client.poll_event().is_some() {}
    (rng, client, contact, peer)
}

/// Review (issue 18): a peer who had disappearing messages on writes a text, turns the timer
/// off and writes another; the three leave in one batch. The browser driver gives each
/// received text the contact's disappearing setting when it handles its [`Event::Message`]
/// (`State::keep` reads [`Client::disappearing`]), and it handles the events of one delivery
/// after the whole delivery was read. Before batches one delivery held one envelope, so the
/// setting read was the one in force for that text; with a batch it is the one after the
/// batch's last timer: the text written while the timer was on would be kept for ever.
#[test]
fn a_text_batched_before_a_timer_change_gets_the_setting_in_force_for_it() {
    let mut rng = ChaCha20Rng::seed_from_u64(1890);
    let (mut client, contact, _, mut peer) = talking(&mut rng);
    let on = Envelope::new(&mut rng, NOW, Content::DisappearingTimer { seconds: 60 });
    let message = peer.encrypt(&mut rng, &on.encode().unwrap()).unwrap();
    client.on_contact_message(&mut rng, contact, &message, NOW);
    while client.poll_event().is_some() {}
    assert_eq!(client.disappearing(contact), Some(60));

    let batch = [
        Envelope::new(&mut rng, NOW, Content::Text("secret".into())),
        Envelope::new(&mut rng, NOW, Content::DisappearingTimer { seconds: 0 }),
        Envelope::new(&mut rng, NOW, Content::Text("hi".into())),
    ];
    let parts: Vec<_> = batch.iter().map(|e| e.encode_unpadded().unwrap()).collect();
    let refs: Vec<&[u8]> = parts.iter().map(|p| &p[..]).collect();
    let plain = crate::envelope::encode_message(&refs).unwrap();
    let message = peer.encrypt(&mut rng, &plain).unwrap();
    client.on_contact_message(&mut rng, contact, &message, NOW);
    // As the driver does: each text kept with the setting its event carries (the client's
    // is the one after the whole batch).
    assert_eq!(client.disappearing(contact), Some(0));
    let mut kept = Vec::new();
    while let Some(event) = client.poll_event() {
        if let Event::Message {
            envelope,
            disappearing,
            ..
        } = event
        {
            let Content::Text(text) = envelope.content else {
                panic!("not a text");
            };
            kept.push((text, disappearing));
        }
    }
    assert_eq!(
        kept,
        vec![("secret".to_owned(), 60), ("hi".to_owned(), 0)],
        "each text gets the disappearing setting in force when it was written"
    );
}

/// Review (issue 18): a batch from a peer (a newer version, say) whose second envelope has a
/// content tag we do not know. The message decrypted (our session and theirs agree), yet the
/// whole message is reported as [`Event::DecryptFailed`], a resync starts, and the text
/// before it, which we can read, is lost, though the sender was told it was stored
/// ([`Event::Sent`]). Before batches one bad envelope cost itself; now it costs every
/// envelope that shared its message.
#[test]
fn one_unreadable_envelope_does_not_lose_the_rest_of_its_batch() {
    let (mut rng, mut client, contact, mut peer) = talking_quietly(1892);
    let text = Envelope::new(&mut rng, NOW, Content::Text("readable".into()));
    let text = text.encode_unpadded().unwrap();
    // Version 1, id, sent-at, tag 7 (unknown to us), an empty body.
    let mut unknown = vec![crate::PROTOCOL_VERSION];
    unknown.extend_from_slice(&[7; 16]);
    unknown.extend_from_slice(&NOW.to_be_bytes());
    unknown.extend_from_slice(&[7, 0, 0]);
    let plain = crate::envelope::encode_message(&[&text[..], &unknown[..]]).unwrap();
    let message = peer.encrypt(&mut rng, &plain).unwrap();
    client.on_contact_message(&mut rng, contact, &message, NOW);
    let events: Vec<Event> = std::iter::from_fn(|| client.poll_event()).collect();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Message { envelope, .. }
            if envelope.content == Content::Text("readable".into()))),
        "the readable text is delivered: {events:?}"
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::ResyncStarted { .. })),
        "a message that decrypted is no reason to resynchronise: {events:?}"
    );
}

/// Review (issue 18): in a conversation with disappearing messages, a text that cannot leave
/// yet (the contact's queue is full: refused, backing off) now waits in the outbox as
/// plaintext, in every state written (and every backup) until a relay stores it, however long
/// after its expiry that is: the driver deletes the text from its history when it expires,
/// and nothing takes it out of the outbox. Before issue 18 the outbox held only its
/// ciphertext, whose message key was gone.
#[test]
fn a_disappearing_text_waiting_in_the_outbox_is_not_kept_in_plaintext() {
    let mut rng = ChaCha20Rng::seed_from_u64(1893);
    let (mut client, contact, _, _) = talking(&mut rng);
    client.set_disappearing(&mut rng, contact, 60, NOW).unwrap();
    let (id, _) = in_flight(&client).unwrap();
    let full = ResponseBody::Error(ErrorCode::Quota);
    answer(&mut client, &mut rng, id, full);
    let secret = "meet me at the usual place at nine";
    client.send_text(&mut rng, contact, secret, NOW).unwrap();
    // Long after the text expired, the queue still full: the state written then.
    client.tick(&mut rng, NOW + 3_600);
    let saved = client.to_persisted();
    let found = saved
        .as_bytes()
        .windows(secret.len())
        .any(|w| w == secret.as_bytes());
    assert!(!found, "the expired text is readable in the client state");
}

/// Review (issue 18): a hostile (or restored, see tests/review_batch.rs) peer puts one message
/// id twice in a batch, with different texts. Each is handed on as a new message: the browser's
/// history keys messages by id, so the second silently replaces the first (moved to the end of
/// the conversation, dispatched again). A message id read before should be dropped (or
/// reported), not delivered again.
#[test]
fn an_id_read_before_is_not_delivered_again() {
    let (mut rng, mut client, contact, mut peer) = talking_quietly(1894);
    let first = Envelope::new(&mut rng, NOW, Content::Text("first".into()));
    let mut again = Envelope::new(&mut rng, NOW, Content::Text("replaced".into()));
    again.id = first.id;
    let parts = [
        first.encode_unpadded().unwrap(),
        again.encode_unpadded().unwrap(),
    ];
    let plain = crate::envelope::encode_message(&[&parts[0][..], &parts[1][..]]).unwrap();
    let message = peer.encrypt(&mut rng, &plain).unwrap();
    client.on_contact_message(&mut rng, contact, &message, NOW);
    let read: Vec<String> = std::iter::from_fn(|| client.poll_event())
        .filter_map(|e| match e {
            Event::Message { envelope, .. } => Some(envelope),
            _ => None,
        })
        .map(|e| match e.content {
            Content::Text(t) => t,
            other => panic!("not a text: {other:?}"),
        })
        .collect();
    assert_eq!(read, vec!["first".to_owned()], "one message per id");
}

/// A batch longer than the window of read ids (`super::read_ids::READ_IDS`) whose last entry
/// repeats its first: the repeat is still dropped (the batch's own ids are compared too).
#[test]
fn a_repeat_further_back_in_a_batch_than_the_window_is_dropped() {
    let (mut rng, mut client, contact, mut peer) = talking_quietly(1895);
    let n = super::read_ids::READ_IDS + 8;
    let mut envelopes: Vec<Envelope> = (0..n)
        .map(|i| Envelope::new(&mut rng, NOW, Content::Text(format!("m{i}"))))
        .collect();
    let mut again = Envelope::new(&mut rng, NOW, Content::Text("replaced".into()));
    again.id = envelopes[0].id;
    envelopes.push(again);
    let parts: Vec<_> = envelopes
        .iter()
        .map(|e| e.encode_unpadded().unwrap())
        .collect();
    let slices: Vec<&[u8]> = parts.iter().map(|p| &p[..]).collect();
    let plain = crate::envelope::encode_message(&slices).unwrap();
    let message = peer.encrypt(&mut rng, &plain).unwrap();
    client.on_contact_message(&mut rng, contact, &message, NOW);
    let read: Vec<MessageId> = std::iter::from_fn(|| client.poll_event())
        .filter_map(|e| match e {
            Event::Message { envelope, .. } => Some(envelope.id),
            _ => None,
        })
        .collect();
    assert_eq!(read.len(), n, "one message per id");
    assert_eq!(
        read,
        envelopes[..n].iter().map(|e| e.id).collect::<Vec<_>>()
    );
}

/// The [`Event::SendFailed`] polled now: each message and why.
fn failures(client: &mut Client) -> Vec<(MessageId, Error)> {
    std::iter::from_fn(|| client.poll_event())
        .filter_map(|e| match e {
            Event::SendFailed { message, error, .. } => Some((message, error)),
            _ => None,
        })
        .collect()
}

/// The fix of the review's finding above: a text waiting in a conversation with disappearing
/// messages carries its expiry (kept across a reload), the client wakes for it, and at it the
/// text is dropped and fails ([`Error::Expired`]); a receipt (no expiry) and a text written
/// later still leave.
#[test]
fn a_waiting_text_expires_with_a_send_failure_and_the_rest_still_leaves() {
    let mut rng = ChaCha20Rng::seed_from_u64(1896);
    let (mut client, contact, _, mut peer) = talking(&mut rng);
    client.set_disappearing(&mut rng, contact, 60, NOW).unwrap();
    refuse(&mut client, &mut rng);
    while client.poll_event().is_some() {}
    let early = send(&mut client, &mut rng, contact, 0);
    let ids = vec![MessageId::random(&mut rng)];
    let kind = crate::envelope::ReceiptKind::Read;
    let receipt = Envelope::new(&mut rng, NOW, Content::Receipt { kind, ids });
    client
        .send_envelope(&mut rng, contact, &receipt, NOW)
        .unwrap();
    let saved = client.to_persisted();
    let back = Client::from_persisted(saved.as_bytes()).unwrap();
    assert_eq!(
        back.to_persisted().as_bytes(),
        saved.as_bytes(),
        "expiry kept"
    );
    assert!(client.poll_timeout().is_some_and(|at| at <= NOW + 60));
    client.tick(&mut rng, NOW + 60);
    let failed = failures(&mut client);
    assert_eq!(failed, vec![(early, Error::Expired)]);
    assert_eq!(client.unsent_messages(), 2, "the timer and the receipt");
    let late = send(&mut client, &mut rng, contact, 1);
    assert_eq!(client.retry_message(&mut rng, late, NOW + 60), Ok(contact));
    let mut got = Vec::new();
    while let Some((_, message)) = in_flight(&client) {
        got.extend(peer.receive_all(&mut rng, &message).unwrap());
        store(&mut client, &mut rng);
    }
    let ids: Vec<MessageId> = got.iter().map(|e| e.id).collect();
    assert_eq!(ids[1..], [receipt.id, late]);
}

/// The fix of the review's legacy finding, held messages too: written to a restored contact
/// that cannot resynchronise, a text is held, then fails ([`Error::NoSession`]) at the next
/// tick, as the backup's own envelopes do; nothing stays "sending" for ever.
#[test]
fn a_text_written_to_a_stranded_contact_fails_at_the_next_tick() {
    let mut rng = ChaCha20Rng::seed_from_u64(1897);
    let (mut client, contact, _, _) = talking(&mut rng);
    client.use_legacy_resync_secret(contact).unwrap();
    // The first sealed and in flight (it goes out as it is), the second waiting unsealed.
    let sealed = send(&mut client, &mut rng, contact, 0);
    let waiting = send(&mut client, &mut rng, contact, 1);
    let backup = client.to_persisted();
    let phrase = crate::mnemonic::Mnemonic::from_entropy(&[3; 32]);
    let rekey = RekeySecret::from_root(&phrase.root_secret());
    let mut client = Client::restored(&mut rng, backup.as_bytes(), NOW, NOW, rekey).unwrap();
    let held = send(&mut client, &mut rng, contact, 2);
    assert_eq!(client.poll_timeout(), Some(0));
    client.tick(&mut rng, NOW + 1);
    let failed = failures(&mut client);
    assert_eq!(
        failed,
        vec![(waiting, Error::NoSession), (held, Error::NoSession)]
    );
    let left: Vec<MessageId> = client.unsent_ids().map(|(_, id)| id).collect();
    assert_eq!(left, vec![sealed]);
}

/// Review (issue 18): an outbox whose front cannot be sealed (here an entry too large for a
/// message, as damaged memory would hold) is failed and backs off, rather than being due
/// again at once on every tick.
#[test]
fn a_front_that_cannot_be_sealed_fails_and_backs_off() {
    let mut rng = ChaCha20Rng::seed_from_u64(1898);
    let (mut client, contact, _, _) = talking(&mut rng);
    while client.poll_event().is_some() {}
    let id = MessageId::random(&mut rng);
    let huge = zeroize::Zeroizing::new(vec![0; crate::envelope::ENVELOPE_SIZE + 1]);
    let c = client.contacts.get_mut(&contact).unwrap();
    c.outbox.push(Outgoing::Envelope(id, huge, None));
    client.tick(&mut rng, NOW);
    let failed = failures(&mut client);
    assert_eq!(failed, vec![(id, Error::Encrypt)]);
    assert!(in_flight(&client).is_none());
    assert!(client.next_outbox_retry().is_some_and(|at| at > NOW));
}

/// Review (issue 18): a contact's record is reserved by its actual size (a writer of secrets
/// that grows leaves a copy behind), whatever its outbox holds: here 200 texts, one sealed,
/// the rest waiting, a held one, and ids read.
#[test]
fn a_contact_record_is_reserved_by_its_actual_size() {
    let (mut rng, mut client, contact, mut peer) = talking_quietly(1899);
    for i in 0..200 {
        send(&mut client, &mut rng, contact, i);
    }
    let batch: Vec<Envelope> = (0..100)
        .map(|i| Envelope::new(&mut rng, NOW, Content::Text(format!("r{i}"))))
        .collect();
    let parts: Vec<_> = batch.iter().map(|e| e.encode_unpadded().unwrap()).collect();
    let refs: Vec<&[u8]> = parts.iter().map(|p| &p[..]).collect();
    let plain = crate::envelope::encode_message(&refs).unwrap();
    let message = peer.encrypt(&mut rng, &plain).unwrap();
    client.on_contact_message(&mut rng, contact, &message, NOW);
    client.start_resync_as(&mut rng, contact, None, NOW);
    send(&mut client, &mut rng, contact, 200);
    let c = &client.contacts[&contact];
    let mut w = crate::codec::SecretWriter::with_capacity(0);
    super::persist::write_contact(&mut w, contact, c);
    let written = w.into_inner().len();
    let reserved = super::persist_len::contact_len(c);
    assert!(
        written <= reserved && reserved < written + 4096,
        "{written} {reserved}"
    );
    let whole = client.to_persisted().as_bytes().len();
    let reserved = 1 + client.header_tail_len() + 4 + 2 * super::persist_len::RECV_QUEUE_LEN;
    assert!(
        whole <= reserved + super::persist_len::contact_len(c),
        "{whole}"
    );
}
