#![no_main]
//! Queue frames: requests (as a relay decodes them), answers (every tag, ExpiredAt included) and
//! deliveries (as a client does).
//! Never panics; whatever decodes re-encodes to the same bytes (signed requests: the unsigned
//! part is checked by re-encoding unsigned commands only).
use libfuzzer_sys::fuzz_target;
use sotto_proto::ids::RelayId;
use sotto_proto::pow::Scope;
use sotto_proto::queue::{Auth, Delivery, Inbound, ReceivedRequest, Request, Response};

fuzz_target!(|data: &[u8]| {
    // The relay's path: Create's signature left for after its work (Create and BlobPut carry a
    // nonce; the challenge is bound to a relay and key epoch).
    let scope = Scope {
        relay: RelayId::from_bytes([9; 32]),
        key_epoch: 1,
    };
    if let Ok(req) = ReceivedRequest::decode_unchecked_create(data) {
        // A reply block exactly on the commands that are answered (a quiet Ack has none).
        assert_eq!(req.reply.is_some(), req.command.answered());
        let _ = req.verify_pow(&scope, 8);
        let _ = req.verify_self_signed();
        assert_eq!(
            req.command.pow_nonce().is_some(),
            req.pow_challenge(&scope).is_some()
        );
    }
    if let Ok(req) = ReceivedRequest::decode(data) {
        let _ = req.pow_challenge(&scope);
        let _ = req.verify_pow(&scope, 8);
        if req.auth() == Auth::None {
            let again = Request {
                request_id: req.request_id,
                reply: req.reply.clone(),
                command: req.command.clone(),
            };
            assert_eq!(again.encode(None).as_deref(), Ok(data));
        }
    }
    if let Ok(r) = Response::decode(data) {
        assert_eq!(r.encode().as_deref(), Ok(data));
    }
    if let Ok(d) = Delivery::decode(data) {
        assert_eq!(d.encode().as_deref(), Ok(data));
    }
    let _ = Inbound::decode(data);
});
