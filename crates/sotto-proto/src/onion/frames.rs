//! The binary WebSocket frames between a browser and its gateway.

#[cfg(doc)]
use super::SurbOpener;
use super::{
    CONN_TAG_LEN, ConnTag, FRAME_BIND, FRAME_PACKET, FRAME_REPLY, OnionError, Packet,
    SEALED_REPLY_SIZE, SURB_ID_LEN, SurbId,
};
use crate::codec::{Reader, Writer};
use crate::sizes::PACKET_SIZE;

/// A binary WebSocket message from a browser to its gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFrame {
    /// `0x01 || packet` ([`PACKET_SIZE`] bytes): process as first hop.
    Packet(Packet),
    /// `0x02 || conn_tag` (16 bytes): deliver SURB replies addressed to this tag on this
    /// WebSocket. A connection may bind several tags; rebinding a tag moves it to the newest
    /// connection (so SURBs handed out before a reconnect keep working).
    Bind(ConnTag),
}

impl ClientFrame {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Packet(p) => {
                let mut out = Vec::with_capacity(1 + PACKET_SIZE);
                out.put_u8(FRAME_PACKET);
                out.put_bytes(p.as_bytes());
                out
            }
            Self::Bind(tag) => {
                let mut out = Vec::with_capacity(1 + CONN_TAG_LEN);
                out.put_u8(FRAME_BIND);
                out.put(tag);
                out
            }
        }
    }

    /// Decodes a whole frame: an unknown tag is [`OnionError::Malformed`], a body of any
    /// length but the tag's is [`OnionError::WrongLength`].
    pub fn decode(bytes: &[u8]) -> Result<Self, OnionError> {
        let mut r = Reader::new(bytes);
        let tag = r.take_u8().map_err(|_| OnionError::WrongLength {
            expected: 1 + CONN_TAG_LEN,
            got: 0,
        })?;
        match tag {
            FRAME_PACKET => Packet::from_bytes(r.take_rest()).map(Self::Packet),
            FRAME_BIND => {
                let wrong = OnionError::WrongLength {
                    expected: CONN_TAG_LEN,
                    got: r.remaining(),
                };
                let conn: ConnTag = r.extract().map_err(|_| wrong.clone())?;
                r.should_be_exhausted().map_err(|_| wrong)?;
                Ok(Self::Bind(conn))
            }
            _ => Err(OnionError::Malformed),
        }
    }
}

/// A binary WebSocket message from a gateway to a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayFrame {
    /// `0x81 || surb_id (16) || sealed (4096)`: a SURB reply, opened by the client with the
    /// [`SurbOpener`] whose id matches.
    Reply { surb_id: SurbId, sealed: Vec<u8> },
}

impl GatewayFrame {
    pub const REPLY_LEN: usize = 1 + SURB_ID_LEN + SEALED_REPLY_SIZE;

    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Reply { surb_id, sealed } => {
                let mut out = Vec::with_capacity(Self::REPLY_LEN);
                out.put_u8(FRAME_REPLY);
                out.put(surb_id);
                out.put_bytes(sealed);
                out
            }
        }
    }

    /// Decodes a whole frame: exactly [`GatewayFrame::REPLY_LEN`] bytes with the reply tag.
    pub fn decode(bytes: &[u8]) -> Result<Self, OnionError> {
        let wrong = OnionError::WrongLength {
            expected: Self::REPLY_LEN,
            got: bytes.len(),
        };
        let mut r = Reader::new(bytes);
        let tag = r.take_u8().map_err(|_| OnionError::WrongLength {
            expected: Self::REPLY_LEN,
            got: 0,
        })?;
        if tag != FRAME_REPLY {
            return Err(OnionError::Malformed);
        }
        if r.remaining() != SURB_ID_LEN + SEALED_REPLY_SIZE {
            return Err(wrong);
        }
        let surb_id = r.extract().map_err(|_| wrong.clone())?;
        let sealed = r.take(SEALED_REPLY_SIZE).map_err(|_| wrong.clone())?;
        r.should_be_exhausted().map_err(|_| wrong)?;
        Ok(Self::Reply {
            surb_id,
            sealed: sealed.to_vec(),
        })
    }
}
