//! The TypeScript shapes of the JS API, emitted into `pkg/sotto.d.ts` by wasm-bindgen: the
//! options and results of `Sotto`'s methods, its error codes and its events. The methods name
//! them with `unchecked_param_type` / `unchecked_return_type`; `addEventListener` and
//! `removeEventListener` are declared here (an interface merged with the class) so that each
//! event type gets its own detail. `tests/e2e/types.test.mjs` compiles code against them with
//! `tsc --strict`; keep them in step with pkg/README.md and `driver/events.rs`.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = r#"
/** `Sotto.open`'s options; every field but `directoryKeys` is optional. */
export interface OpenOptions {
    /** The relay directory (default: `${location.origin}/directory.json`). */
    directoryUrl?: string;
    /** The directory authorities' Ed25519 public keys (base64url, 32 bytes each). Required:
     * without them `open` rejects `INVALID_ARGUMENT`; a directory they do not sign rejects
     * `DIRECTORY_INVALID`. */
    directoryKeys: string[];
    /** How many of `directoryKeys` must have signed the directory (default: all of them). */
    directoryThreshold?: number;
    /** `'memory'` (the default: nothing written anywhere) or `'indexeddb'`. */
    storage?: 'memory' | 'indexeddb';
    /** The profile's name, with `'indexeddb'` storage (default `'default'`). */
    profile?: string;
    /** Protects the profile's store key (Argon2id); empty means none. */
    passphrase?: string;
    /** Takes a saved profile over from another tab or window that has it open (that copy
     * closes itself); without it such a profile gives `PROFILE_IN_USE`. */
    takeOver?: boolean;
    /** The name contacts see, used when the profile is created. */
    displayName?: string;
    /** Proof-of-work difficulty in bits for creating queues and blobs, 0–32, at relays whose
     * directory entry publishes none (`pow_bits`); those that do are paid what they ask. */
    powBits?: number;
    /** Milliseconds after a change before a saved profile puts the next version of its
     * relay snapshot (what a restore from the words alone finds); default 10000. Mostly
     * for tests. */
    snapshotDebounceMs?: number;
}

/** `Sotto.restore`'s options: the profile comes back from its recovery phrase and, when
 * given, its backup file; without one, from the newest relay snapshot the words find
 * (contacts, no message history). Everything is checked before anything is written
 * (pkg/README.md, "Restore"). */
export interface RestoreOptions {
    /** The 24 recovery words, typed or pasted (any case, any whitespace). */
    words: string;
    /** The file `exportBackup` made; without it the words alone restore from the relay
     * snapshot (`NO_SNAPSHOT` when none is found). */
    backup?: Uint8Array | Blob;
    /** `'memory'` (the default: nothing is written anywhere) or `'indexeddb'`. */
    storage?: 'memory' | 'indexeddb';
    /** The profile's name, with `'indexeddb'` storage (default `'default'`). */
    profile?: string;
    /** Protects the restored profile's store key (Argon2id); empty means none. */
    passphrase?: string;
    /** Overwrites a profile of that name saved in this browser (else `PROFILE_EXISTS`). */
    replace?: boolean;
    /** The relay directory (default: `${location.origin}/directory.json`). */
    directoryUrl?: string;
    /** As `OpenOptions.directoryKeys`: required (else `INVALID_ARGUMENT`). */
    directoryKeys: string[];
    /** As `OpenOptions.directoryThreshold`. */
    directoryThreshold?: number;
    /** As `OpenOptions.snapshotDebounceMs`, for the restored profile. */
    snapshotDebounceMs?: number;
}

/** A contact: `id` is a local number as a decimal string. */
export interface Contact {
    id: string;
    /** `''` until the contact's first message names them. */
    displayName: string;
    /** Messages with this contact disappear this long after they are sent (0: kept). */
    disappearingSeconds: number;
    /** The person compared this contact's security code and it matched (`verifyContact`). */
    verified: boolean;
    /** Where the conversation's encryption stands: `'ok'`, or `'resyncing'` after a message
     * could not be decrypted, until the contact answers the resync ("Re-establishing
     * encryption…"); back to `'ok'` means "Encryption re-established". A `contact` event
     * fires at each change. */
    sync: 'ok' | 'resyncing';
    /** In a `contact` event only: a new session with this contact is in place ("Encryption
     * re-established"), on both sides of a resync. */
    resynced?: true;
    /** In a `contact` event only: the contact restored their profile from a backup made at
     * this time (ms since the Unix epoch); messages since may be missing on their side (a
     * `warning` says so). */
    restoredSince?: number;
    /** In a `contact` event only: something the person must be told (the security code of
     * a verified contact changed; a message could not be decrypted). */
    warning?: string;
}

/** A conversation's security code (`securityCode`): the same on both sides exactly when
 * nobody was in the middle when the invitation was passed on. */
export interface SecurityCode {
    /** 60 digits in 12 groups of 5, separated by spaces. */
    digits: string;
    /** The text of the QR code the contact scans (`'sotto-code:'` and the 60 digits). */
    qr: string;
    /** That QR code as an SVG document. */
    svg: string;
}

/** Where a message is: outgoing `sending`, `sent` or `failed`; incoming `received`. */
export type MessageStatus = 'sending' | 'sent' | 'failed' | 'received';

/** A message's file (its bytes: `Sotto.attachment(messageId)`). */
export interface Attachment {
    name: string;
    mime: string;
    /** Bytes. */
    size: number;
    /** A voice note. */
    voice: boolean;
    /** The file is here and verified. */
    ready: boolean;
    /** A small JPEG preview, for pictures. */
    thumbnail?: Uint8Array;
}

/** A message, sent or received. Times are milliseconds since the Unix epoch. */
export interface Message {
    /** 32 hex digits. */
    id: string;
    contactId: string;
    text: string;
    sentAt: number;
    receivedAt?: number;
    outgoing: boolean;
    status: MessageStatus;
    /** When it disappears, in a conversation with disappearing messages. */
    expiresAt?: number;
    attachment?: Attachment;
}

/** What `send` and `sendFile` resolve with, once a relay stored the message. */
export interface SentMessage {
    id: string;
    contactId: string;
    sentAt: number;
}

/** `messages()`'s paging: the newest `limit` (default 50) before the message `before`. */
export interface MessagesOptions {
    limit?: number;
    before?: string;
}

/** `sendFile`'s options: `voice` marks a voice note; `name` names a `Blob`. */
export interface SendFileOptions {
    voice?: boolean;
    name?: string;
}

/** A profile saved in this browser: whether a passphrase protects it. */
export interface SavedProfile {
    passphrase: boolean;
}

/** The `code` of every `SottoError` (pkg/README.md, "Errors"). */
export type SottoErrorCode =
    | 'INVALID_INVITATION'
    | 'RELAY_UNREACHABLE'
    | 'UNKNOWN_CONTACT'
    | 'MESSAGE_TOO_LARGE'
    | 'CLOSED'
    | 'UNSUPPORTED'
    | 'WRONG_PASSPHRASE'
    | 'STORAGE_QUOTA'
    | 'STORAGE'
    | 'INVALID_ARGUMENT'
    | 'PROFILE_IN_USE'
    | 'TIMEOUT'
    | 'RELAY_REFUSED'
    | 'RELAY_FULL'
    | 'CLOCK_SKEW'
    | 'CODE_MISMATCH'
    | 'DIRECTORY_INVALID'
    | 'WRONG_WORDS'
    | 'INVALID_BACKUP'
    | 'BACKUP_MISMATCH'
    | 'PROFILE_EXISTS'
    | 'NO_SNAPSHOT'
    | 'PROFILE_MOVED'
    | 'NO_SESSION'
    | 'MESSAGE_EXPIRED';

/** Every failure Sotto reports: an `Error` named `SottoError` with a `code`. */
export interface SottoError extends Error {
    name: 'SottoError';
    code: SottoErrorCode;
}

/** A `status` event's detail: a sent message's new status. */
export interface StatusDetail {
    id: string;
    contactId: string;
    status: MessageStatus;
}

/** A `progress` event's detail: chunks of a file moved so far. */
export interface ProgressDetail {
    id: string;
    contactId: string;
    direction: 'upload' | 'download';
    done: number;
    total: number;
}

/** An `attachment` event's detail: a received file arrived and was verified, or failed. */
export interface AttachmentDetail {
    id: string;
    contactId: string;
    ready: boolean;
    error?: string;
}

/** An `expired` event's detail: messages that disappeared. */
export interface ExpiredDetail {
    contactId: string;
    ids: string[];
}

/** A `clock` event's detail (once): this device's clock is more than 2 minutes off the
 *  relays'; `offsetSeconds` is what Sotto adds to it (positive: the device is slow). */
export interface ClockDetail {
    offsetSeconds: number;
}

/** An `error` event's detail: a relay refused a request (`code`: the relay's answer), a
 *  queued message was dropped for good (`what: 'send'`, `code` `'NO_SESSION'`,
 *  `'MESSAGE_EXPIRED'` or `'STORAGE'`) or could not be encrypted yet (`'RELAY_REFUSED'`), a
 *  frame from the gateway could not be handled (`what: 'frame'`), or a write failed
 *  (`what: 'storage'`). */
export type ErrorDetail =
    | { what: 'storage'; code: SottoErrorCode; error: SottoError }
    | { what: string; code: string };

/** Whether a `Sotto` reaches the network (`Sotto.connection`): `'online'` (connected to its
 *  gateway relay), `'connecting'` (the connection was lost and is being made again) or
 *  `'offline'` (the last attempt failed; Sotto keeps trying with back-off). */
export type ConnectionState = 'online' | 'connecting' | 'offline';

/** A `connection` event's detail: the connection's new state. */
export interface ConnectionDetail {
    state: ConnectionState;
}

/** A `snapshot` event's detail: a saved profile's relay snapshot was stored whole, as
 *  version `slot` of backup period `period` (days since 1970, network time). */
export interface SnapshotDetail {
    period: number;
    slot: number;
    /** How many contacts the stored version holds. */
    contacts: number;
}

/** A `moved` event's detail: the profile was restored on another device, which took its
 *  conversations over; this copy no longer sends or receives (`Sotto.moved` is `true`, and
 *  sends reject `PROFILE_MOVED`). `message` is a sentence to show. */
export interface MovedDetail {
    message: string;
}

/** Sotto's events and their `detail`. */
export interface SottoEventMap {
    message: CustomEvent<Message>;
    contact: CustomEvent<Contact>;
    status: CustomEvent<StatusDetail>;
    progress: CustomEvent<ProgressDetail>;
    attachment: CustomEvent<AttachmentDetail>;
    expired: CustomEvent<ExpiredDetail>;
    clock: CustomEvent<ClockDetail>;
    connection: CustomEvent<ConnectionDetail>;
    snapshot: CustomEvent<SnapshotDetail>;
    moved: CustomEvent<MovedDetail>;
    error: CustomEvent<ErrorDetail>;
}

export interface Sotto {
    /** `EventTarget.addEventListener` for Sotto's events (`SottoEventMap`). */
    addEventListener<K extends keyof SottoEventMap>(
        type: K,
        listener: (event: SottoEventMap[K]) => void,
        options?: boolean | AddEventListenerOptions,
    ): void;
    /** `EventTarget.removeEventListener`. */
    removeEventListener<K extends keyof SottoEventMap>(
        type: K,
        listener: (event: SottoEventMap[K]) => void,
        options?: boolean | EventListenerOptions,
    ): void;
}
"#;
