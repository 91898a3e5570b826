// Types of ./follow.js: a tab that follows the tab holding a saved profile, and the leader
// that answers it.
import type { ConnectionState, Sotto, SottoEventMap } from './sotto.js';
import type { SottoInWorker, SottoInWorkerMethod } from './worker.js';

/** How long `followProfile` waits for a leader to answer (ms): 5000. */
export declare const HELLO_MS: number;

/** How long a follower's call waits for the leader's answer before it rejects `TIMEOUT` (ms):
 *  `network` (45000) for `createInvitation`, `acceptInvitation`, `send`, `retry` and
 *  `sendFile` (for an upload, from the last `progress` event of that upload), `local` (10000)
 *  for the rest. */
export declare const CALL_MS: { readonly network: number; readonly local: number };

/** Whether a `progress` event's detail is the upload of the call `method(...args)` (`sendFile`:
 *  an upload to `args[0]`, the contact; `retry`: of `args[0]`, the message), whose `CALL_MS`
 *  bound it restarts; `null` for every other method. */
export declare function uploadProgress(
    method: string,
    args?: readonly unknown[],
): ((detail: { id?: string; contactId?: string; direction?: string }) => boolean) | null;

/** The methods a follower may call through its leader; every other one is refused
 *  (`INVALID_ARGUMENT`). */
export declare const FOLLOWER_METHODS: ReadonlySet<string>;

/** The name of the profile's Web Lock, which its `BroadcastChannel` shares:
 *  `sotto-profile/sotto-<16 hex digits>`. */
export declare function profileLockName(profile?: string): Promise<string>;

/** Which profile a leader or follower is for (default `'default'`). */
export interface ProfileOptions {
    profile?: string;
}

/** What `lead` resolves with. */
export interface Leader {
    /** Whether it still answers followers (false once stopped). */
    readonly leading: boolean;
    /** Stops answering: followers are told, and their calls reject `CLOSED`; the profile stays
     *  open here. */
    stop(): void;
}

/** Makes an open `Sotto` (or `SottoInWorker`) of a saved profile answer the tabs that follow
 *  it; `UNSUPPORTED` without `BroadcastChannel` or Web Crypto. */
export declare function lead(me: Sotto | SottoInWorker, options?: ProfileOptions): Promise<Leader>;

/** A `leader` event's detail: `'gone'` (the leader stopped: calls reject `CLOSED`), then
 *  `'free'` (no tab holds the profile: open it here). */
export interface LeaderDetail {
    state: 'gone' | 'free';
}

/** The events of a `SottoFollower`: those of `Sotto`, and `leader`. */
export interface SottoFollowerEventMap extends SottoEventMap {
    leader: CustomEvent<LeaderDetail>;
}

/** `addEventListener` / `removeEventListener` typed by the event map `M`. */
export interface ListensTo<M> {
    addEventListener<K extends keyof M>(type: K, listener: (event: M[K]) => void, options?: boolean | AddEventListenerOptions): void;
    removeEventListener<K extends keyof M>(type: K, listener: (event: M[K]) => void, options?: boolean | EventListenerOptions): void;
}

/** A tab that follows the one holding the profile: `SottoInWorker`'s methods, answered by the
 *  leader (`close()` stops following; what would end or delete the profile or show its
 *  secrets rejects `INVALID_ARGUMENT`), and the events of `SottoFollowerEventMap`. */
export interface SottoFollower
    extends Pick<Sotto, Exclude<SottoInWorkerMethod, 'addEventListener' | 'removeEventListener'>>,
        ListensTo<SottoFollowerEventMap> {}
export declare class SottoFollower {
    private constructor();
    /** `EventTarget.dispatchEvent` (it is an `EventTarget`). */
    dispatchEvent(event: Event): boolean;
    /** `'online'`, `'connecting'` or `'offline'`, as of the leader's last `connection` event. */
    readonly connection: ConnectionState;
    /** The profile's display name. */
    readonly displayName: string;
    /** Whether the profile was restored on another device, as of the last `moved` event. */
    readonly moved: boolean;
}

/** Follows the tab holding the saved profile: rejects `PROFILE_IN_USE` (held, no leader
 *  answered within `HELLO_MS`), `CLOSED` (no tab holds it) or `UNSUPPORTED`. */
export declare function followProfile(options?: ProfileOptions): Promise<SottoFollower>;
