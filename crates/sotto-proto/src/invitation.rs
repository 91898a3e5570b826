//! Invitations: what one person hands another (as a link or a QR code) to start talking.
//!
//! An invitation carries the address of a queue on the inviter's relay and the inviter's
//! handshake public key. The link puts it in the URL *fragment*, which browsers never send to
//! a server: `{origin}/#/invite/{base64url(bytes)}`.
//!
//! Binary layout (91 bytes, integers big-endian):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | version (= [`crate::PROTOCOL_VERSION`]) |
//! | 1 | 1 | kind: 1 = one-time, 2 = contact address |
//! | 2 | 1 | PoW difficulty a connection request must pay (contact address); 0 for one-time |
//! | 3 | 32 | relay id of the queue |
//! | 35 | 16 | sender id of the queue |
//! | 51 | 32 | inviter's X25519 handshake public key |
//! | 83 | 8 | expiry, Unix seconds (u64) |

use core::fmt;

use crate::PROTOCOL_VERSION;
use crate::codec::{CodecError, Reader};
use crate::format_char::is_format;
use crate::ids::{QueueId, RelayId};
use crate::keys::PublicKey;

/// Encoded length of an invitation.
pub const ENCODED_LEN: usize = 91;
/// What precedes the base64 in a link.
pub const FRAGMENT_PREFIX: &str = "#/invite/";
/// Default lifetime of a one-time invitation: 7 days.
pub const ONE_TIME_TTL_SECS: u64 = 7 * 24 * 60 * 60;
/// Default lifetime of a contact address: 365 days (it is reusable; the owner rotates it).
pub const CONTACT_ADDRESS_TTL_SECS: u64 = 365 * 24 * 60 * 60;

const KIND_ONE_TIME: u8 = 1;
const KIND_CONTACT_ADDRESS: u8 = 2;

/// Which kind of invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvitationKind {
    /// Accepts exactly one connection; the first sender secures the queue and the link dies.
    OneTime,
    /// A reusable address accepting many connection requests, each paying a proof of work of
    /// `pow_difficulty` (see `pow`).
    ContactAddress { pow_difficulty: u8 },
}

/// Why an invitation could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvitationError {
    #[error("not an invitation link")]
    NotALink,
    #[error("invitation is not valid base64url")]
    BadBase64,
    #[error("invitation is too short")]
    Truncated,
    #[error("invitation has trailing bytes")]
    TrailingBytes,
    #[error("invitation version {0} is not supported")]
    UnsupportedVersion(u8),
    #[error("unknown invitation kind {0}")]
    UnknownKind(u8),
    /// A field holds a value its kind forbids (e.g. a PoW difficulty on a one-time link).
    #[error("invitation field has an invalid value")]
    InvalidField,
    #[error("invitation has expired")]
    Expired,
    #[error("could not render the QR code")]
    Qr,
}

/// A decoded invitation. Public information only: the secret half stays with the inviter
/// (see `handshake::InvitationSecret`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Invitation {
    pub kind: InvitationKind,
    /// The relay that holds the queue.
    pub relay: RelayId,
    /// The queue's sender id: where the first message goes.
    pub queue: QueueId,
    /// The inviter's X25519 handshake key.
    pub handshake_key: PublicKey,
    /// Unix seconds after which the invitation is refused.
    pub expires_at: u64,
}

impl Invitation {
    /// A one-time invitation valid for [`ONE_TIME_TTL_SECS`] from `now`.
    pub fn one_time(relay: RelayId, queue: QueueId, handshake_key: PublicKey, now: u64) -> Self {
        Self {
            kind: InvitationKind::OneTime,
            relay,
            queue,
            handshake_key,
            expires_at: now.saturating_add(ONE_TIME_TTL_SECS),
        }
    }

    /// A contact address valid for [`CONTACT_ADDRESS_TTL_SECS`] from `now`.
    pub fn contact_address(
        relay: RelayId,
        queue: QueueId,
        handshake_key: PublicKey,
        pow_difficulty: u8,
        now: u64,
    ) -> Self {
        Self {
            kind: InvitationKind::ContactAddress { pow_difficulty },
            relay,
            queue,
            handshake_key,
            expires_at: now.saturating_add(CONTACT_ADDRESS_TTL_SECS),
        }
    }

    /// The fixed binary layout (see the module docs).
    pub fn to_bytes(&self) -> [u8; ENCODED_LEN] {
        let (kind, pow) = match self.kind {
            InvitationKind::OneTime => (KIND_ONE_TIME, 0),
            InvitationKind::ContactAddress { pow_difficulty } => {
                (KIND_CONTACT_ADDRESS, pow_difficulty)
            }
        };
        let mut out = [0u8; ENCODED_LEN];
        out[0] = PROTOCOL_VERSION;
        out[1] = kind;
        out[2] = pow;
        out[3..35].copy_from_slice(self.relay.as_bytes());
        out[35..51].copy_from_slice(self.queue.as_bytes());
        out[51..83].copy_from_slice(self.handshake_key.as_bytes());
        out[83..91].copy_from_slice(&self.expires_at.to_be_bytes());
        out
    }

    /// Decodes the binary layout, without checking expiry.
    pub fn from_bytes_unchecked(bytes: &[u8]) -> Result<Self, InvitationError> {
        let version = *bytes.first().ok_or(InvitationError::Truncated)?;
        if version != PROTOCOL_VERSION {
            return Err(InvitationError::UnsupportedVersion(version));
        }
        if bytes.len() < ENCODED_LEN {
            return Err(InvitationError::Truncated);
        }
        if bytes.len() > ENCODED_LEN {
            return Err(InvitationError::TrailingBytes);
        }
        // The length is exact now; the reader still checks every field.
        let truncated = |_: CodecError| InvitationError::Truncated;
        let mut r = Reader::new(bytes);
        r.advance(1).map_err(truncated)?;
        let kind = r.take_u8().map_err(truncated)?;
        let pow = r.take_u8().map_err(truncated)?;
        let kind = match kind {
            KIND_ONE_TIME if pow == 0 => InvitationKind::OneTime,
            KIND_ONE_TIME => return Err(InvitationError::InvalidField),
            KIND_CONTACT_ADDRESS => InvitationKind::ContactAddress {
                pow_difficulty: pow,
            },
            other => return Err(InvitationError::UnknownKind(other)),
        };
        let relay: RelayId = r.extract().map_err(truncated)?;
        let queue: QueueId = r.extract().map_err(truncated)?;
        let handshake_key = PublicKey::from_bytes(r.extract().map_err(truncated)?);
        let expires_at = r.take_u64().map_err(truncated)?;
        r.should_be_exhausted()
            .map_err(|_| InvitationError::TrailingBytes)?;
        Ok(Self {
            kind,
            relay,
            queue,
            handshake_key,
            expires_at,
        })
    }

    /// Decodes the binary layout and refuses an invitation that has expired at `now`
    /// (`now >= expires_at`).
    pub fn from_bytes(bytes: &[u8], now: u64) -> Result<Self, InvitationError> {
        let inv = Self::from_bytes_unchecked(bytes)?;
        if inv.is_expired(now) {
            return Err(InvitationError::Expired);
        }
        Ok(inv)
    }

    pub fn is_expired(&self, now: u64) -> bool {
        now >= self.expires_at
    }

    /// `#/invite/<base64url, no padding>`.
    pub fn to_fragment(&self) -> String {
        format!(
            "{FRAGMENT_PREFIX}{}",
            crate::codec::base64url(&self.to_bytes())
        )
    }

    /// `{origin}/#/invite/<b64>`; a trailing `/` on `origin` is not doubled.
    pub fn to_link(&self, origin: &str) -> String {
        format!("{}/{}", origin.trim_end_matches('/'), self.to_fragment())
    }

    /// Parses an invitation as people paste it, and checks expiry against `now`: a full link
    /// (`https://…/#/invite/<b64>`), its fragment (`#/invite/<b64>`) or the bare 122-character
    /// token. The input may have been mangled on its way (see [`find_token`]): whitespace,
    /// line breaks and invisible characters anywhere, a query before the fragment, quotes,
    /// angle brackets or punctuation around it, text after it.
    pub fn parse_link(link: &str, now: u64) -> Result<Self, InvitationError> {
        let token = find_token(link)?;
        let bytes = crate::codec::from_base64url(&token).ok_or(InvitationError::BadBase64)?;
        Self::from_bytes(&bytes, now)
    }

    /// An SVG QR code of [`Invitation::to_link`]`(origin)`.
    pub fn to_qr_svg(&self, origin: &str) -> Result<String, InvitationError> {
        let code = qrcode::QrCode::with_error_correction_level(
            self.to_link(origin).as_bytes(),
            qrcode::EcLevel::M,
        )
        .map_err(|_| InvitationError::Qr)?;
        Ok(code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(256, 256)
            .quiet_zone(true)
            .build())
    }
}

/// Length of the base64url token of a link: [`ENCODED_LEN`] bytes without padding.
pub const TOKEN_LEN: usize = 122;

/// Characters that people's tools put into links and that never belong to one: whitespace
/// (spaces, NBSP, tabs, line breaks), control characters, and invisible format characters
/// (zero-width spaces and joiners, bidi marks, embeddings, overrides and isolates, BOM, soft
/// hyphen: general category Cf).
fn is_noise(c: char) -> bool {
    c.is_whitespace() || c.is_control() || is_format(c)
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// The text without what mangled it on its way: quoted-printable soft line breaks (`=` at a
/// line's end), e-mail quote markers (`>`) that start a wrapped line, every [`is_noise`]
/// character, and the percent-encoding of `#` and `/` (`%23`, `%2F`).
fn unmangle(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let line_break = c == '\n' || c == '\r' || c == '\u{2028}' || c == '\u{85}';
        if c == '=' && matches!(chars.peek(), Some('\r' | '\n')) {
            continue;
        }
        if line_break {
            // A wrapped line may start with quote markers and spaces.
            while chars.peek().is_some_and(|&n| n == '>' || is_noise(n)) {
                chars.next();
            }
            continue;
        }
        if is_noise(c) {
            continue;
        }
        out.push(c);
    }
    // `%23` and `%2F` (either case) come from links escaped once too often.
    let mut decoded = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(i) = rest.find('%') {
        decoded.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 3).map(str::to_ascii_uppercase);
        match code.as_deref() {
            Some("23") => decoded.push('#'),
            Some("2F") => decoded.push('/'),
            _ => {
                decoded.push('%');
                rest = &rest[i + 1..];
                continue;
            }
        }
        rest = &rest[i + 3..];
    }
    decoded.push_str(rest);
    decoded
}

/// Finds the base64url token of an invitation in pasted text, as [`Invitation::parse_link`]
/// reads it:
/// 1. drops whitespace, line breaks (LF, CRLF, wrapped lines with `>` quote markers,
///    quoted-printable `=` soft breaks), control and invisible format characters (U+200B–U+200F,
///    U+202A–U+202E, U+2060–U+2064, U+2066–U+2069, U+FEFF, U+00AD, …) anywhere, and decodes
///    `%23` and `%2F`;
/// 2. takes what follows the first `#/invite/` (or, failing that, the first `invite/`, as in
///    `…/invite/<token>` when a tool dropped the `#`), or else the whole text when it is only a
///    token (quotes, brackets and punctuation around it ignored);
/// 3. keeps the run of base64url characters there, cut to [`TOKEN_LEN`]: whatever follows the
///    token (a full stop, `>`, a quote, `?utm=…`, more text) is dropped.
///
/// Errors: `NotALink` when there is neither a prefix nor a bare token; `BadBase64` when the
/// token is shorter than [`TOKEN_LEN`] and followed by something that is not base64url.
pub fn find_token(text: &str) -> Result<String, InvitationError> {
    let text = unmangle(text);
    let after = match text.find(FRAGMENT_PREFIX) {
        Some(i) => &text[i + FRAGMENT_PREFIX.len()..],
        None => match text.find("invite/") {
            Some(i) => &text[i + "invite/".len()..],
            None => {
                let bare = text.trim_matches(|c: char| !is_token_char(c));
                if bare.len() == TOKEN_LEN && bare.chars().all(is_token_char) {
                    bare
                } else {
                    return Err(InvitationError::NotALink);
                }
            }
        },
    };
    let run = after
        .find(|c: char| !is_token_char(c))
        .map_or(after, |end| &after[..end]);
    if run.len() >= TOKEN_LEN {
        return Ok(run[..TOKEN_LEN].to_owned());
    }
    if run.len() < after.len() {
        return Err(InvitationError::BadBase64);
    }
    Ok(run.to_owned())
}

impl fmt::Debug for Invitation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Invitation")
            .field("kind", &self.kind)
            .field("relay", &self.relay)
            .field("queue", &self.queue)
            .field("handshake_key", &self.handshake_key)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyPair;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const NOW: u64 = 1_800_000_000;

    fn sample(kind: InvitationKind) -> Invitation {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let key = KeyPair::generate(&mut rng).public;
        let relay = RelayId::random(&mut rng);
        let queue = QueueId::random(&mut rng);
        match kind {
            InvitationKind::OneTime => Invitation::one_time(relay, queue, key, NOW),
            InvitationKind::ContactAddress { pow_difficulty } => {
                Invitation::contact_address(relay, queue, key, pow_difficulty, NOW)
            }
        }
    }

    #[test]
    fn link_round_trip_both_kinds() {
        for kind in [
            InvitationKind::OneTime,
            InvitationKind::ContactAddress { pow_difficulty: 20 },
        ] {
            let inv = sample(kind);
            let link = inv.to_link("https://sotto.example/");
            assert!(link.starts_with("https://sotto.example/#/invite/"));
            assert_eq!(Invitation::parse_link(&link, NOW).unwrap(), inv);
            assert_eq!(
                Invitation::parse_link(&inv.to_fragment(), NOW).unwrap(),
                inv
            );
            assert_eq!(inv.to_fragment().len(), FRAGMENT_PREFIX.len() + 122);
        }
    }

    #[test]
    fn expiry_is_enforced() {
        let inv = sample(InvitationKind::OneTime);
        assert_eq!(inv.expires_at, NOW + ONE_TIME_TTL_SECS);
        let link = inv.to_fragment();
        assert!(Invitation::parse_link(&link, inv.expires_at - 1).is_ok());
        assert_eq!(
            Invitation::parse_link(&link, inv.expires_at),
            Err(InvitationError::Expired)
        );
    }

    #[test]
    fn malformed_inputs_get_typed_errors() {
        let inv = sample(InvitationKind::OneTime);
        let bytes = inv.to_bytes();
        assert_eq!(
            Invitation::from_bytes(&[], NOW),
            Err(InvitationError::Truncated)
        );
        assert_eq!(
            Invitation::from_bytes(&bytes[..90], NOW),
            Err(InvitationError::Truncated)
        );
        let mut long = bytes.to_vec();
        long.push(0);
        assert_eq!(
            Invitation::from_bytes(&long, NOW),
            Err(InvitationError::TrailingBytes)
        );
        let mut v = bytes;
        v[0] = 2;
        assert_eq!(
            Invitation::from_bytes(&v, NOW),
            Err(InvitationError::UnsupportedVersion(2))
        );
        let mut k = bytes;
        k[1] = 3;
        assert_eq!(
            Invitation::from_bytes(&k, NOW),
            Err(InvitationError::UnknownKind(3))
        );
        let mut p = bytes;
        p[2] = 1;
        assert_eq!(
            Invitation::from_bytes(&p, NOW),
            Err(InvitationError::InvalidField)
        );
        assert_eq!(
            Invitation::parse_link("#/invite/!!!", NOW),
            Err(InvitationError::BadBase64)
        );
        assert_eq!(
            Invitation::parse_link("https://x/#/other/abc", NOW),
            Err(InvitationError::NotALink)
        );
    }

    /// Every way the issue (and chat apps, mail clients, editors) mangles a link.
    #[test]
    fn mangled_links_are_accepted() {
        let inv = sample(InvitationKind::OneTime);
        let link = inv.to_link("https://sotto.example");
        let token = &inv.to_fragment()[FRAGMENT_PREFIX.len()..];
        assert_eq!(token.len(), TOKEN_LEN);
        let wrapped_crlf: String = link
            .as_bytes()
            .chunks(76)
            .map(|c| core::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\r\n");
        let wrapped_lf = wrapped_crlf.replace("\r\n", "\n");
        let quoted = format!("> {}", wrapped_lf.replace('\n', "\n> "));
        let soft_breaks = wrapped_crlf.replace("\r\n", "=\r\n");
        let (head, tail) = link.split_at(60);
        let cases = [
            link.clone(),
            format!("{link} "),
            format!("{link}\n"),
            format!("{link}\r\n"),
            format!("\t{link}\t"),
            format!("\u{A0}{link}\u{A0}"),
            format!("\u{202F}{link}\u{2007}"),
            format!("\u{FEFF}{link}"),
            format!("{link}\u{200B}"),
            format!("{link}\u{200E}"),
            format!("\u{200F}{link}\u{200F}"),
            format!("\u{2066}{link}\u{2069}"),
            format!("\u{202A}{link}\u{202C}"),
            format!("{link}\u{2060}"),
            format!("{link}\u{2028}"),
            format!("{head}\u{200B}{tail}"),
            format!("{head}\u{AD}{tail}"),
            format!("{head} {tail}"),
            format!("{link}."),
            format!("{link},"),
            format!("{link}!"),
            format!("{link}?"),
            format!("{link}…"),
            format!("{link}:)"),
            format!("{link}?utm_source=mail"),
            format!("{link}&ref=1"),
            format!("{link}/"),
            format!("<{link}>"),
            format!("\"{link}\""),
            format!("'{link}'"),
            format!("“{link}”"),
            format!("«{link}»"),
            format!("({link})"),
            format!("[{link}]"),
            format!("[join me]({link})"),
            format!("<a href=\"{link}\">{link}</a>"),
            format!("Hi! Join me on Sotto: {link} See you."),
            format!("Join me:\n{link}\nBye"),
            format!("{link} {link}"),
            wrapped_crlf,
            wrapped_lf,
            quoted,
            soft_breaks,
            link.replace("/#/", "/?fbclid=IwAR0abc_def-123#/"),
            link.replace("/#/", "/?a=1&b=2#/"),
            link.replace('#', "%23"),
            link.replace("#/invite/", "%23%2Finvite%2F"),
            link.replace("#/invite/", "%23%2finvite%2f"),
            link.replace("/#/", "/"),
            link.replace("/#/", "/#"),
            link.replace("https://", "HTTPS://"),
            inv.to_fragment(),
            format!(" {} ", inv.to_fragment()),
            token.to_owned(),
            format!(" {token}\n"),
            format!("\"{token}\""),
            format!("<{token}>."),
            format!("\u{FEFF}{token}\u{200B}"),
        ];
        for case in &cases {
            assert_eq!(Invitation::parse_link(case, NOW), Ok(inv), "{case:?}");
        }
    }

    #[test]
    fn what_is_not_a_link_is_refused() {
        let inv = sample(InvitationKind::OneTime);
        let link = inv.to_link("https://sotto.example");
        let token = &inv.to_fragment()[FRAGMENT_PREFIX.len()..];
        for (case, error) in [
            (String::new(), InvitationError::NotALink),
            ("   \n".to_owned(), InvitationError::NotALink),
            ("hello there".to_owned(), InvitationError::NotALink),
            (
                "https://sotto.example/".to_owned(),
                InvitationError::NotALink,
            ),
            (token[..121].to_owned(), InvitationError::NotALink),
            (format!("{token}x"), InvitationError::NotALink),
            (
                link[..link.len() - 30].to_owned(),
                InvitationError::Truncated,
            ),
            (
                format!("{}.{}", &link[..link.len() - 30], &link[link.len() - 30..]),
                InvitationError::BadBase64,
            ),
            ("#/invite/".to_owned(), InvitationError::Truncated),
        ] {
            assert_eq!(Invitation::parse_link(&case, NOW), Err(error), "{case:?}");
        }
    }

    #[test]
    fn qr_svg_is_svg() {
        let svg = sample(InvitationKind::OneTime)
            .to_qr_svg("https://sotto.example")
            .unwrap();
        assert!(svg.contains("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
    }
}
