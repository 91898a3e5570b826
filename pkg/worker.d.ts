// Types of ./worker.js: Sotto in a dedicated Web Worker, driven from the page.
import type { ConnectionState, OpenOptions, RestoreOptions, SavedProfile, Sotto } from './sotto.js';

/** The methods of `Sotto` that `SottoInWorker` has too, with the same signatures. */
export type SottoInWorkerMethod =
    | 'createInvitation' | 'invitationQr' | 'acceptInvitation' | 'send' | 'retry' | 'sendFile'
    | 'attachment' | 'setDisappearing' | 'securityCode' | 'verifyContact' | 'unverifyContact'
    | 'contacts' | 'messages' | 'setDisplayName' | 'revealMnemonic' | 'changePassphrase'
    | 'exportBackup' | 'close' | 'wipe' | 'addEventListener' | 'removeEventListener';

/** Where the worker script is, when a bundler moved it (default: ./sotto-worker.js next to
 *  ./worker.js). */
export interface OpenInWorkerOptions {
    workerUrl?: string | URL;
    /** Whether a saved (`'indexeddb'`) profile leads the tabs that follow it (./follow.js
     *  `lead`); default true. */
    lead?: boolean;
}

/** `Sotto` running in a dedicated worker: the same methods (promises) and events
 *  (`SottoEventMap`); `close()` and `wipe()` also stop the worker. */
export interface SottoInWorker extends Pick<Sotto, SottoInWorkerMethod> {}
export declare class SottoInWorker {
    private constructor();
    /** `EventTarget.dispatchEvent` (it is an `EventTarget`). */
    dispatchEvent(event: Event): boolean;
    /** `'online'`, `'connecting'` or `'offline'`, as of the last `connection` event. */
    readonly connection: ConnectionState;
    /** The profile's display name. */
    readonly displayName: string;
    /** Whether the profile was restored on another device, as of the last `moved` event. */
    readonly moved: boolean;
}

/** `Sotto.open(options)` in a new dedicated module worker; rejects with the open's
 *  `SottoError` (and stops the worker). A saved profile leads other tabs (`lead: false`: not). */
export declare function openInWorker(
    options: OpenOptions,
    workerOptions?: OpenInWorkerOptions,
): Promise<SottoInWorker>;

/** `Sotto.restore(options)` in a new dedicated module worker (the restore's Argon2id,
 *  decryption or snapshot search, then the restored profile, off the page); rejects with the
 *  restore's `SottoError` (and stops the worker). */
export declare function restoreInWorker(
    options: RestoreOptions,
    workerOptions?: OpenInWorkerOptions,
): Promise<SottoInWorker>;

/** `Sotto.savedProfile(profile)` read in a short-lived worker. */
export declare function savedProfileInWorker(
    profile?: string,
    workerOptions?: OpenInWorkerOptions,
): Promise<SavedProfile | null>;
