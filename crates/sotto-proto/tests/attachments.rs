//! Attachments, disappearing-message settings and relay key rotation between two clients, through five relays
//! on a lossy virtual network.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::World;
use sotto_proto::attachment::AttachmentError;
use sotto_proto::client::{Client, ClientError, Error, Event, PeerMisbehaved};
use sotto_proto::envelope::{AttachmentKey, BlobId, Content};
use sotto_proto::queue::ErrorCode;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// 100 KB natively (29 chunks); smaller in the browser, where the run is one synchronous call.
#[cfg(not(target_arch = "wasm32"))]
const FILE_BYTES: usize = 100_000;
#[cfg(target_arch = "wasm32")]
const FILE_BYTES: usize = 20_000;

fn received_attachment(w: &World, who: usize) -> Option<sotto_proto::envelope::Attachment> {
    w.events[who].iter().find_map(|e| match e {
        Event::Message { envelope, .. } => match &envelope.content {
            Content::Attachment(a) => Some(a.clone()),
            _ => None,
        },
        _ => None,
    })
}

#[test]
fn a_file_travels_as_blob_chunks_and_arrives_identical() {
    let mut w = World::new(7, 2, &["Alice", "Bob"]);
    let (alice_bob, bob_alice) = w.connect();
    let data: Vec<u8> = (0..FILE_BYTES).map(|i| (i * 31 % 251) as u8).collect();
    let now = w.now();
    let envelope = w.clients[0]
        .send_attachment(
            &mut w.rng,
            alice_bob,
            &data,
            "image/png",
            "cat.png",
            b"thumb",
            now,
        )
        .unwrap();

    let arrived = w.run_until(600, |w| {
        received_attachment(w, 1).is_some()
            && w.events[0]
                .iter()
                .any(|e| matches!(e, Event::Sent { message, .. } if *message == envelope.id))
    });
    assert!(
        arrived,
        "Bob got the attachment's message, and Alice heard it was stored"
    );
    let progress: Vec<(u32, u32)> = w.events[0]
        .iter()
        .filter_map(|e| match e {
            Event::UploadProgress {
                message,
                done,
                total,
                ..
            } if *message == envelope.id => Some((*done, *total)),
            _ => None,
        })
        .collect();
    let total = progress.last().unwrap().1;
    assert_eq!(
        progress,
        (1..=total).map(|d| (d, total)).collect::<Vec<_>>(),
        "one progress event per stored chunk"
    );

    let attachment = received_attachment(&w, 1).unwrap();
    assert_eq!(
        (attachment.name.as_str(), attachment.mime.as_str()),
        ("cat.png", "image/png")
    );
    assert_eq!(attachment.thumbnail, b"thumb");
    let now = w.now();
    let handle = w.clients[1]
        .fetch_attachment(&mut w.rng, &attachment, now)
        .unwrap();
    let done = w.run_until(600, |w| {
        w.events[1].iter().any(|e| {
            matches!(e, Event::Downloaded { handle: h, .. } | Event::DownloadFailed { handle: h, .. } if *h == handle)
        })
    });
    assert!(done, "the download finished");
    let got = w.events[1]
        .iter()
        .find_map(|e| match e {
            Event::Downloaded { handle: h, data } if *h == handle => Some(data.to_vec()),
            _ => None,
        })
        .expect("downloaded, not failed");
    assert_eq!(got, data, "identical bytes arrived");
    let _ = bob_alice;
}

#[test]
fn a_wrong_key_or_a_missing_blob_fails_the_download() {
    let mut w = World::new(8, 0, &["Alice", "Bob"]);
    let (alice_bob, _) = w.connect();
    let data = vec![42u8; 5000];
    let now = w.now();
    w.clients[0]
        .send_attachment(
            &mut w.rng,
            alice_bob,
            &data,
            "text/plain",
            "a.txt",
            &[],
            now,
        )
        .unwrap();
    assert!(w.run_until(600, |w| received_attachment(w, 1).is_some()));
    let genuine = received_attachment(&w, 1).unwrap();

    let mut forged = genuine.clone();
    forged.key = AttachmentKey::from_bytes([1; 32]);
    let mut missing = genuine.clone();
    missing.blob_id = BlobId::from_bytes([2; 16]);
    let now = w.now();
    let forged_handle = w.clients[1]
        .fetch_attachment(&mut w.rng, &forged, now)
        .unwrap();
    let missing_handle = w.clients[1]
        .fetch_attachment(&mut w.rng, &missing, now)
        .unwrap();
    let failed = |w: &World, handle: u64| {
        w.events[1].iter().find_map(|e| match e {
            Event::DownloadFailed { handle: h, error } if *h == handle => Some(error.clone()),
            _ => None,
        })
    };
    assert!(w.run_until(300, |w| failed(w, forged_handle).is_some()
        && failed(w, missing_handle).is_some()));
    assert_eq!(
        failed(&w, forged_handle),
        Some(Error::PeerMisbehaved(PeerMisbehaved::Attachment(
            AttachmentError::Corrupt
        )))
    );
    assert_eq!(
        failed(&w, missing_handle),
        Some(Error::RelayRefused(ErrorCode::NoBlob))
    );
    assert!(
        !w.events[1]
            .iter()
            .any(|e| matches!(e, Event::Downloaded { .. })),
        "nothing unverified is handed out"
    );
}

#[test]
fn files_too_large_and_unknown_contacts_are_refused_before_any_upload() {
    let mut w = World::new(9, 0, &["Alice", "Bob"]);
    let (alice_bob, _) = w.connect();
    let now = w.now();
    let pending = w.clients[0].pending_requests();
    let long_name = "n".repeat(300);
    assert_eq!(
        w.clients[0]
            .send_attachment(
                &mut w.rng,
                alice_bob,
                b"x",
                "text/plain",
                &long_name,
                &[],
                now
            )
            .err(),
        Some(ClientError::TooLarge)
    );
    assert_eq!(
        w.clients[0]
            .send_attachment(&mut w.rng, 999, b"x", "text/plain", "a", &[], now)
            .err(),
        Some(ClientError::UnknownContact)
    );
    #[cfg(not(target_arch = "wasm32"))]
    {
        let huge = vec![0u8; sotto_proto::attachment::MAX_ATTACHMENT_BYTES as usize + 1];
        assert_eq!(
            w.clients[0]
                .send_attachment(&mut w.rng, alice_bob, &huge, "a/b", "big", &[], now)
                .err(),
            Some(ClientError::Attachment(AttachmentError::TooLarge))
        );
    }
    assert_eq!(w.clients[0].pending_requests(), pending, "nothing was sent");
}

#[test]
fn a_disappearing_timer_reaches_the_contact_and_survives_a_restore() {
    let mut w = World::new(10, 2, &["Alice", "Bob"]);
    let (alice_bob, bob_alice) = w.connect();
    let now = w.now();
    w.clients[0]
        .set_disappearing(&mut w.rng, alice_bob, 3600, now)
        .unwrap();
    assert_eq!(w.clients[0].disappearing(alice_bob), Some(3600));
    let told = w.run_until(300, |w| {
        w.events[1].iter().any(|e| {
            matches!(
                e,
                Event::DisappearingChanged {
                    seconds: 3600,
                    by_contact: true,
                    ..
                }
            )
        })
    });
    assert!(told, "Bob was told");
    assert_eq!(w.clients[1].disappearing(bob_alice), Some(3600));
    assert!(
        !w.events[1]
            .iter()
            .any(|e| matches!(e, Event::Message { .. })),
        "the setting is not shown as a message"
    );
    let restored = Client::from_persisted(w.clients[1].to_persisted().as_bytes()).unwrap();
    assert_eq!(restored.disappearing(bob_alice), Some(3600));
    assert_eq!(restored.disappearing(12345), None);
}

#[test]
fn after_a_key_rotation_a_fresh_directory_keeps_the_conversation_going() {
    use sotto_proto::onion::{Hop, RelayKey};
    let mut w = World::new(11, 0, &["Alice", "Bob"]);
    let (alice_bob, _) = w.connect();
    // Every relay rotates; the old keys are gone (past the overlap).
    let mut fresh = Vec::new();
    for node in &mut w.nodes {
        let key = RelayKey::generate(&mut w.rng, 2);
        node.keys_mut().rotate(key);
        node.keys_mut().drop_previous();
        fresh.push(Hop {
            id: node.id(),
            key: node.keys().current().public_key(),
        });
    }
    let mut wrong = fresh.clone();
    wrong.retain(|h| h.id != w.directory[w.gateways[0]].id);
    assert_eq!(
        w.clients[0].update_relays(wrong).err(),
        Some(ClientError::NoRelays),
        "a directory without our gateway is refused"
    );
    for c in &mut w.clients {
        c.update_relays(fresh.clone()).unwrap();
    }
    w.directory = fresh;
    let now = w.now();
    w.clients[0]
        .send_text(&mut w.rng, alice_bob, "after the rotation", now)
        .unwrap();
    let got = w.run_until(300, |w| {
        w.events[1].iter().any(|e| {
            matches!(e, Event::Message { envelope, .. }
            if envelope.content == Content::Text("after the rotation".into()))
        })
    });
    assert!(got, "the message went through with the new keys");
}
