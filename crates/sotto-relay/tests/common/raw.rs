//! A raw gateway connection for tests: hand-built queue requests over a real WebSocket.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use rand_chacha::ChaCha20Rng;
use sotto_proto::keys::AuthKeyPair;
use sotto_proto::onion::{self, ClientFrame, ConnTag, GatewayFrame, Hop, SurbOpener};
use sotto_proto::queue::{Command, Inbound, Request, Response};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct Gateway {
    pub sink: SplitSink<Ws, Message>,
    pub stream: SplitStream<Ws>,
    pub tag: ConnTag,
    pub next_id: u64,
}

impl Gateway {
    pub async fn connect(url: &str, rng: &mut ChaCha20Rng) -> Self {
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let (mut sink, stream) = ws.split();
        let tag = ConnTag::random(rng);
        sink.send(Message::binary(ClientFrame::Bind(tag).encode()))
            .await
            .unwrap();
        Self {
            sink,
            stream,
            tag,
            next_id: 1,
        }
    }

    /// Builds a request to the queue service of `route`'s last relay with a reply SURB back
    /// through `back` (ending at our gateway). Returns the packet frame and the opener.
    pub fn packet(
        &mut self,
        rng: &mut ChaCha20Rng,
        route: &[Hop],
        back: &[Hop],
        command: Command,
        signer: Option<&AuthKeyPair>,
    ) -> (Vec<u8>, SurbOpener, u64) {
        let (surb, opener) = onion::build_surb(rng, back, self.tag).unwrap();
        let request_id = self.next_id;
        self.next_id += 1;
        let payload = Request {
            request_id,
            reply: Some(surb),
            command,
        }
        .encode(signer)
        .unwrap();
        let packet = onion::build_forward(rng, route, &payload).unwrap();
        (ClientFrame::Packet(packet).encode(), opener, request_id)
    }

    pub async fn answer(&mut self, opener: &SurbOpener) -> Response {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), self.stream.next())
                .await
                .expect("an answer within 10 s")
                .unwrap()
                .unwrap();
            let Message::Binary(bytes) = msg else {
                continue;
            };
            let GatewayFrame::Reply { surb_id, sealed } = GatewayFrame::decode(&bytes).unwrap();
            if surb_id != opener.id() {
                continue;
            }
            let plain = opener.open(&sealed).unwrap();
            match Inbound::decode(&plain).unwrap() {
                Inbound::Response(r) => return r,
                Inbound::Delivery(_) => continue,
            }
        }
    }
}
