import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  ClientEvent,
  createClient,
  Direction,
  EventType,
  HttpApiEvent,
  MatrixEventEvent,
  MemoryStore,
  RoomEvent,
  RoomMemberEvent,
  SyncState,
  type MatrixClient,
  type MatrixEvent,
  type Room,
} from "matrix-js-sdk";
import { AbortedError, ConfigError, ServiceError } from "../../core/errors.ts";
import { getLogger } from "../../core/logger.ts";
import type { InboundMessage, OutboundReply } from "../../core/message.ts";
import type { SentReply, Transport } from "../../core/transport.ts";
import { CryptoSnapshot, deriveMatrixKeys } from "./cryptoSnapshot.ts";
import { EventLedger } from "./eventLedger.ts";
import { ensureKeyBackup, type KeyBackupOptions, type KeyBackupOutcome } from "./keyBackup.ts";
import { mapMatrixEvent, type MatrixEventLike } from "./mapMatrixEvent.ts";
import { makeMatrixAttachment } from "./matrixMedia.ts";
import { renderMarkdown } from "./renderMarkdown.ts";
import { retryRateLimited } from "./retryRateLimited.ts";
import { routeSdkConsoleLogging, sdkLogger } from "./sdkLogging.ts";

/** Options for {@link MatrixTransport}; the config owner wires config/vault values into these. */
export interface MatrixTransportOptions {
  /** e.g. `https://matrix.example.org` */
  homeserverUrl: string;
  /** The bot's full user id, e.g. `@hearth:example.org`. */
  userId: string;
  /** Access token from an earlier login (vault). Either this or `password` is required. */
  accessToken?: string;
  /** Device id from an earlier login (vault); reused so the bot keeps one device across restarts. */
  deviceId?: string;
  /** One-time password login; the resulting token/device go to `onLogin` for the vault. */
  password?: string;
  /** Receives the credentials of a password login so the caller can store them. */
  onLogin?: (credentials: { accessToken: string; deviceId: string }) => Promise<void> | void;
  /** Directory for crypto snapshot, handled-event ledger and identity file (created 0700). */
  storeDir: string;
  /** Secret from the vault that encrypts the crypto state at rest. Must be high-entropy. */
  pickleKey: string;
  /** Only invites from these user ids are accepted; all others are declined. */
  allowedInviters: string[];
  /** Profile display name the bot sets for itself (also counts as a mention). */
  displayName?: string;
  /** Extra names that count as mentioning the bot in plain text. */
  mentionNames?: string[];
  /** Offer `SentReply.edit` (streamed answers as `m.replace` edits). Default true. */
  streamEdits?: boolean;
  /** Minimum interval between two edits of one reply; faster edits are coalesced. Default 1200. */
  editIntervalMs?: number;
  /** Upper bound for attachment downloads regardless of what the caller asks. Default 20 MB. */
  maxImageBytes?: number;
  /** Timeline events per room in the initial sync (catch-up paginates further). Default 30. */
  initialSyncLimit?: number;
  /**
   * Back room keys up on the homeserver (server-side key backup), see {@link ensureKeyBackup}.
   * Off when absent. Problems with the backup are logged and never stop the transport.
   */
  keyBackup?: KeyBackupOptions;
}

/** How long start() waits for key-backup setup before syncing anyway (it then finishes in the background). */
const KEY_BACKUP_SETUP_WAIT_MS = 60_000;

const log = getLogger("matrix");

/**
 * A MemoryStore whose `save()` — which matrix-js-sdk awaits after processing each /sync response
 * and before sending the next /sync request — writes the crypto snapshot. The next request is what
 * tells the server to delete delivered to-device messages (room keys), so keys are on disk first.
 */
class SnapshotMemoryStore extends MemoryStore {
  private readonly snapshot: CryptoSnapshot;
  constructor(snapshot: CryptoSnapshot) {
    super();
    this.snapshot = snapshot;
  }
  override wantsSave(): boolean {
    return this.snapshot.isDirty;
  }
  override async save(): Promise<void> {
    await this.snapshot.saveIfDirty().catch(() => undefined);
  }
}

function roomIdOf(chatId: string): string {
  if (!chatId.startsWith("matrix:!")) throw new ConfigError(`"${chatId}" is not a Matrix chat id (expected matrix:!room:server).`);
  return chatId.slice("matrix:".length);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

interface Identity {
  userId: string;
  deviceId: string;
}

/**
 * Matrix implementation of {@link Transport} on matrix-js-sdk with Rust crypto (E2EE).
 *
 * Delivery guarantees: every `m.room.message` a person sends in a joined room after the bot joined
 * is delivered to `onMessage` once, in order per room, including messages sent while the bot was
 * down (found again by the fresh initial sync plus back-pagination) — see {@link EventLedger}. An
 * event is recorded as handled after `onMessage` returns, so a crash mid-handler re-delivers it
 * once after restart (at-least-once on crashes, exactly-once across clean restarts).
 */
export class MatrixTransport implements Transport {
  readonly kind = "matrix" as const;
  private readonly opts: MatrixTransportOptions;
  private client: MatrixClient | undefined;
  private snapshot: CryptoSnapshot | undefined;
  private ledger: EventLedger | undefined;
  private onMessage: ((msg: InboundMessage) => Promise<void>) | undefined;
  private accessToken = "";
  private prepared = false;
  private disposed = false;
  private readonly queues = new Map<string, Promise<void>>();
  private readonly awaitingKeys = new Set<string>();
  private readonly invitesInFlight = new Set<string>();
  private saveTimer: NodeJS.Timeout | undefined;
  private keyBackupSetup: Promise<KeyBackupOutcome | undefined> | undefined;

  constructor(options: MatrixTransportOptions) {
    if (!/^@[^:]+:.+$/.test(options.userId)) throw new ConfigError(`Matrix user id "${options.userId}" is invalid; it looks like @hearth:example.org.`);
    if (!options.pickleKey || options.pickleKey.length < 16) {
      throw new ConfigError("The Matrix pickle key is missing or too short (need 16+ characters); run `hearth vault` setup again.");
    }
    if (!options.accessToken && !options.password) {
      throw new ConfigError("Matrix needs an access token or a one-time password to log in; set matrix.password once, or store a token in the vault.");
    }
    this.opts = options;
    routeSdkConsoleLogging();
  }

  /** The bot's device id once started (what family members verify). */
  get deviceId(): string | undefined {
    return this.client?.getDeviceId() ?? undefined;
  }

  /**
   * Result of the key-backup setup at start (undefined when `keyBackup` is off, or when the setup
   * failed — that is logged). For diagnostics and tests.
   */
  get keyBackupOutcome(): Promise<KeyBackupOutcome | undefined> {
    return this.keyBackupSetup ?? Promise.resolve(undefined);
  }

  /** The underlying client, for diagnostics and tests only. */
  get sdkClient(): MatrixClient | undefined {
    return this.client;
  }

  /** Log in (if needed), restore crypto state, sync, catch up on missed messages, then resolve. */
  async start(onMessage: (msg: InboundMessage) => Promise<void>): Promise<void> {
    if (this.client) throw new Error("MatrixTransport.start called twice");
    this.onMessage = onMessage;
    const o = this.opts;
    mkdirSync(o.storeDir, { recursive: true, mode: 0o700 });
    const ident = await this.resolveIdentity();
    this.accessToken = ident.accessToken;
    this.rotateCryptoStoreIfDeviceChanged(ident);

    const keys = await deriveMatrixKeys(o.pickleKey);
    const prefix = `hearth-mx-${randomBytes(6).toString("hex")}-`;
    this.snapshot = new CryptoSnapshot(join(o.storeDir, "matrix-crypto.bin"), keys.snapshotKey, prefix);
    const restored = await this.snapshot.restore();
    this.ledger = new EventLedger(o.storeDir);
    this.ledger.prune(30 * 24 * 3600_000);

    const client = createClient({
      baseUrl: o.homeserverUrl,
      userId: o.userId,
      deviceId: ident.deviceId,
      accessToken: ident.accessToken,
      store: new SnapshotMemoryStore(this.snapshot),
      logger: sdkLogger(),
      timelineSupport: false,
    });
    this.client = client;
    await client.initRustCrypto({ cryptoDatabasePrefix: prefix, storageKey: keys.storeKey });
    log.info({ userId: o.userId, deviceId: ident.deviceId, restoredCrypto: restored }, "Matrix crypto ready");
    await this.snapshot.saveIfDirty().catch(() => undefined);
    this.saveTimer = setInterval(() => void this.snapshot?.saveIfDirty().catch(() => undefined), 5000);
    this.saveTimer.unref();
    if (o.keyBackup) await this.setUpKeyBackup(client, o.keyBackup);

    client.on(RoomEvent.Timeline, (event, room, toStart, removed) => {
      if (toStart || removed || !room || !this.prepared) return;
      this.enqueue(room.roomId, () => this.consider(event, room));
    });
    client.on(RoomMemberEvent.Membership, (event, member) => {
      if (member.userId !== o.userId || member.membership !== "invite" || !this.prepared) return;
      // Membership events fire before a new room is stored, and catch-up pagination replays old
      // "invite" events; so re-check after the sync batch is applied, and handleInvite asks the
      // server before acting.
      setTimeout(() => {
        if (client.getRoom(member.roomId)?.getMyMembership() === "invite") void this.handleInvite(member.roomId, event.getSender() ?? "", "live");
      }, 0);
    });

    const ready = new Promise<void>((resolve, reject) => {
      client.on(HttpApiEvent.SessionLoggedOut, (err) => {
        log.error({ errcode: err.errcode }, "Matrix access token no longer valid");
        reject(new ConfigError("The Matrix homeserver logged the bot out (token revoked or expired); log it in again with its password.", { cause: err }));
      });
      const onSync = (state: SyncState, prev: SyncState | null): void => {
        if (state !== prev) log.debug({ state }, "Matrix sync state");
        if (state === SyncState.Error || state === SyncState.Reconnecting) {
          // matrix-js-sdk keeps retrying with its own backoff and keep-alive probes.
          log.warn({ state }, "Matrix homeserver connection lost; reconnecting");
        }
        if (state === SyncState.Prepared) resolve();
      };
      client.on(ClientEvent.Sync, onSync);
    });
    await client.startClient({ initialSyncLimit: o.initialSyncLimit ?? 30, lazyLoadMembers: false, threadSupport: false });
    await ready;
    if (this.disposed) return;
    this.onPrepared();
    void this.ensureDisplayName();
  }

  /**
   * Enable or create the server-side key backup before the first sync, so keys arriving in it are
   * backed up and a fresh store can fetch older keys during catch-up. Bounded wait and no throw:
   * the backup is an extra, the bot must run without it.
   */
  private async setUpKeyBackup(client: MatrixClient, options: KeyBackupOptions): Promise<void> {
    const snapshot = this.snapshot!;
    this.keyBackupSetup = ensureKeyBackup(client, options, () => snapshot.saveIfDirty()).catch((err: unknown) => {
      if (!this.disposed) log.error({ err: String(err) }, "could not set up the Matrix key backup; continuing without it");
      return undefined;
    });
    let timer: NodeJS.Timeout | undefined;
    const waited = await Promise.race([
      this.keyBackupSetup.then(() => true),
      new Promise<false>((r) => (timer = setTimeout(() => r(false), KEY_BACKUP_SETUP_WAIT_MS))),
    ]);
    clearTimeout(timer);
    if (!waited) log.warn({ waitedMs: KEY_BACKUP_SETUP_WAIT_MS }, "Matrix key backup setup is slow; syncing meanwhile");
  }

  /** Validate the token (or log in once) and return the credentials to use. */
  private async resolveIdentity(): Promise<Identity & { accessToken: string }> {
    const o = this.opts;
    const stored = this.readIdentity();
    if (o.accessToken) {
      const who = await this.whoami(o.accessToken);
      if (who.user_id !== o.userId) {
        throw new ConfigError(`The Matrix access token belongs to ${who.user_id}, not ${o.userId}; fix matrix.userId or log in again.`);
      }
      const deviceId = who.device_id ?? o.deviceId ?? stored?.deviceId;
      if (!deviceId) throw new ConfigError("The homeserver did not report a device id for this token; log in again with a password.");
      return { userId: o.userId, deviceId, accessToken: o.accessToken };
    }
    const loginClient = createClient({ baseUrl: o.homeserverUrl, logger: sdkLogger() });
    const wantDevice = o.deviceId ?? (stored?.userId === o.userId ? stored.deviceId : undefined);
    let res;
    try {
      res = await loginClient.loginRequest({
        type: "m.login.password",
        identifier: { type: "m.id.user", user: o.userId },
        password: o.password ?? "",
        ...(wantDevice ? { device_id: wantDevice } : {}),
        initial_device_display_name: o.displayName ?? "Hearth",
      });
    } catch (err) {
      const code = (err as { errcode?: string }).errcode;
      if (code === "M_FORBIDDEN") throw new ConfigError("The Matrix homeserver rejected the bot's password; check it and try again.", { cause: err });
      throw new ServiceError("MATRIX_LOGIN_FAILED", `Could not log in to ${o.homeserverUrl}; check the URL and that the homeserver is up.`, { cause: err });
    } finally {
      loginClient.stopClient();
    }
    await o.onLogin?.({ accessToken: res.access_token, deviceId: res.device_id });
    return { userId: o.userId, deviceId: res.device_id, accessToken: res.access_token };
  }

  private async whoami(token: string): Promise<{ user_id: string; device_id?: string }> {
    const url = `${this.opts.homeserverUrl.replace(/\/$/, "")}/_matrix/client/v3/account/whoami`;
    for (let attempt = 0; ; attempt++) {
      if (this.disposed) throw new AbortedError();
      let res: Response;
      try {
        res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      } catch (err) {
        // Homeserver not up yet (e.g. both started at boot): back off and keep trying.
        const wait = Math.min(30_000, 500 * 2 ** attempt);
        log.warn({ err: String(err), waitMs: wait }, "Matrix homeserver unreachable; retrying");
        await sleep(wait);
        continue;
      }
      if (res.status === 401) {
        throw new ConfigError("The Matrix access token was rejected (logged out or expired); log the bot in again with its password.");
      }
      if (res.status === 429 || res.status >= 500) {
        await sleep(Math.min(30_000, 500 * 2 ** attempt));
        continue;
      }
      if (!res.ok) throw new ServiceError("MATRIX_WHOAMI_FAILED", `The Matrix homeserver answered HTTP ${res.status} to a token check; check homeserverUrl.`);
      return (await res.json()) as { user_id: string; device_id?: string };
    }
  }

  private identityFile(): string {
    return join(this.opts.storeDir, "matrix-identity.json");
  }

  private readIdentity(): Identity | undefined {
    try {
      return JSON.parse(readFileSync(this.identityFile(), "utf8")) as Identity;
    } catch {
      return undefined;
    }
  }

  /**
   * The crypto store belongs to one device. If the credentials now name a different device, move
   * the old store aside (never delete: it holds keys to old messages) and start a new one.
   */
  private rotateCryptoStoreIfDeviceChanged(ident: Identity): void {
    const stored = this.readIdentity();
    const cryptoFile = join(this.opts.storeDir, "matrix-crypto.bin");
    if (stored && (stored.deviceId !== ident.deviceId || stored.userId !== ident.userId) && existsSync(cryptoFile)) {
      const aside = join(this.opts.storeDir, `matrix-crypto.${stored.deviceId}.${Date.now()}.bin`);
      renameSync(cryptoFile, aside);
      log.warn({ old: stored.deviceId, new: ident.deviceId, movedTo: aside }, "Matrix device changed; started a new crypto store (family members must verify the new device)");
    }
    writeFileSync(this.identityFile(), JSON.stringify({ userId: ident.userId, deviceId: ident.deviceId }), { mode: 0o600 });
  }

  /** After the first sync: set floors for new rooms, answer pending invites, catch up. */
  private onPrepared(): void {
    const client = this.client!;
    const ledger = this.ledger!;
    for (const room of client.getRooms()) {
      const membership = room.getMyMembership();
      if (membership === "invite") {
        void this.handleInvite(room.roomId, room.getMember(this.opts.userId)?.events.member?.getSender() ?? "", "startup");
        continue;
      }
      if (membership !== "join") continue;
      if (ledger.floor(room.roomId) === undefined) {
        // First sighting of an already-joined room (fresh storeDir): ignore its history.
        const events = room.getLiveTimeline().getEvents();
        const newest = events.length > 0 ? events[events.length - 1]!.getTs() : Date.now();
        ledger.setFloorIfAbsent(room.roomId, newest + 1);
      }
      this.enqueue(room.roomId, () => this.catchUp(room));
    }
    this.prepared = true;
  }

  /** Paginate back until the last handled event (or the floor), then consider everything newer. */
  private async catchUp(room: Room): Promise<void> {
    const client = this.client!;
    const ledger = this.ledger!;
    const since = Math.max(ledger.newestHandled(room.roomId) ?? 0, ledger.floor(room.roomId) ?? 0);
    for (let page = 0; page < 20 && !this.disposed; page++) {
      const events = room.getLiveTimeline().getEvents();
      const oldest = events[0];
      if (oldest && oldest.getTs() <= since) break;
      if (!room.getLiveTimeline().getPaginationToken(Direction.Backward)) break;
      try {
        await client.scrollback(room, 50);
      } catch (err) {
        log.warn({ err: String(err), roomId: room.roomId }, "could not load older messages while catching up");
        break;
      }
    }
    for (const ev of [...room.getLiveTimeline().getEvents()]) {
      if (this.disposed) return;
      if (ev.getTs() < since) continue;
      await this.consider(ev, room);
    }
  }

  /** Run tasks for one room strictly in order (conversation order), rooms in parallel. */
  private enqueue(roomId: string, task: () => Promise<void>): void {
    const prev = this.queues.get(roomId) ?? Promise.resolve();
    const next = prev
      .then(task)
      .catch((err: unknown) => log.error({ err, roomId }, "Matrix event handling failed"))
      .finally(() => {
        if (this.queues.get(roomId) === next) this.queues.delete(roomId);
      });
    this.queues.set(roomId, next);
  }

  /** Decide whether an event is new and for us; map it and hand it to the handler. */
  private async consider(event: MatrixEvent, room: Room): Promise<void> {
    if (this.disposed) return;
    const client = this.client!;
    const ledger = this.ledger!;
    const eventId = event.getId();
    if (!eventId || eventId.startsWith("~")) return; // local echo of our own send
    if (room.getMyMembership() !== "join") return;
    if (event.getSender() === this.opts.userId) return;
    if (ledger.isHandled(eventId)) return;

    let floor = ledger.floor(room.roomId);
    if (floor === undefined) {
      floor = room.getMember(this.opts.userId)?.events.member?.getTs() ?? event.getTs();
      ledger.setFloorIfAbsent(room.roomId, floor);
    }
    if (event.getTs() < floor) return;

    if (event.isBeingDecrypted()) await event.getDecryptionPromise();
    else if (event.shouldAttemptDecryption()) await client.decryptEventIfNeeded(event);
    if (this.disposed) return;
    if (event.isDecryptionFailure()) {
      if (!this.awaitingKeys.has(eventId)) {
        this.awaitingKeys.add(eventId);
        log.warn(
          { eventId, roomId: room.roomId, sender: event.getSender(), reason: event.decryptionFailureReason },
          "cannot decrypt a Matrix message yet (missing room key); it will be handled if the key arrives",
        );
        // The Rust crypto retries decryption when keys arrive and emits Decrypted on the event.
        // Keys come from the sender's device, or, with key backup on, from the backup: the SDK
        // fetches a missing session from it by itself. matrix-js-sdk deliberately never sends
        // m.room_key_request to other devices (disabled in initRustCrypto, element-web#26524).
        event.on(MatrixEventEvent.Decrypted, (ev) => {
          if (!ev.isDecryptionFailure() && this.awaitingKeys.delete(eventId)) {
            log.info({ eventId }, "late room key arrived; handling the message");
            this.enqueue(room.roomId, () => this.consider(ev, room));
          }
        });
      }
      return;
    }
    this.awaitingKeys.delete(eventId);
    if (event.getType() !== EventType.RoomMessage) return;

    const raw: MatrixEventLike = {
      event_id: eventId,
      room_id: room.roomId,
      sender: event.getSender() ?? "",
      type: event.getType(),
      origin_server_ts: event.getTs(),
      content: event.getContent(),
    };
    const replyTo = (raw.content["m.relates_to"] as { "m.in_reply_to"?: { event_id?: string } } | undefined)?.["m.in_reply_to"]?.event_id;
    const repliedToSender = replyTo ? await this.senderOf(room, replyTo) : undefined;
    const access = { homeserverUrl: this.opts.homeserverUrl, accessToken: this.accessToken };
    const cap = this.opts.maxImageBytes ?? 20_000_000;
    const senderName = room.getMember(raw.sender)?.name;
    const msg = mapMatrixEvent(raw, {
      botUserId: this.opts.userId,
      mentionNames: [...(this.opts.mentionNames ?? []), ...(this.opts.displayName ? [this.opts.displayName] : [])],
      chatType: this.isDirect(room) ? "direct" : "group",
      encrypted: room.hasEncryptionStateEvent(),
      ...(senderName !== undefined ? { senderDisplayName: senderName } : {}),
      ...(repliedToSender !== undefined ? { repliedToSender } : {}),
      makeAttachment: (media) => {
        const inner = makeMatrixAttachment(access, media);
        return { ...inner, fetch: (o) => inner.fetch({ ...o, maxBytes: Math.min(o.maxBytes, cap) }) };
      },
    });
    if (msg) {
      try {
        await this.onMessage!(msg);
      } catch (err) {
        // The handler owns user-facing errors; a throw here must not stall the room's queue.
        log.error({ err, eventId }, "message handler threw");
      }
    }
    ledger.markHandled(eventId, room.roomId, event.getTs());
  }

  private async senderOf(room: Room, eventId: string): Promise<string | undefined> {
    const local = room.findEventById(eventId);
    if (local) return local.getSender() ?? undefined;
    try {
      return (await this.client!.fetchRoomEvent(room.roomId, eventId)).sender;
    } catch {
      return undefined;
    }
  }

  /** Direct when listed in the bot's `m.direct` or when exactly two people are in the room. */
  private isDirect(room: Room): boolean {
    const direct = this.client!.getAccountData(EventType.Direct)?.getContent<Record<string, string[]>>() ?? {};
    if (Object.values(direct).some((ids) => Array.isArray(ids) && ids.includes(room.roomId))) return true;
    return room.getJoinedMemberCount() + room.getInvitedMemberCount() === 2;
  }

  private async handleInvite(roomId: string, inviter: string, via: "live" | "startup"): Promise<void> {
    if (this.invitesInFlight.has(roomId) || this.disposed) return;
    this.invitesInFlight.add(roomId);
    const client = this.client!;
    try {
      if ((await this.serverMembership(roomId)) === "join") return; // stale SDK view; already in
      if (this.opts.allowedInviters.includes(inviter)) {
        const room = await retryRateLimited(() => client.joinRoom(roomId));
        const joinTs = room.getMember(this.opts.userId)?.events.member?.getTs();
        // Floor at the join: messages after it count even if the bot restarts before seeing one.
        this.ledger?.setFloorIfAbsent(roomId, joinTs && room.getMyMembership() === "join" ? joinTs : Date.now() - 5000);
        log.info({ roomId, inviter, via }, "joined Matrix room on invite");
      } else {
        await retryRateLimited(() => client.leave(roomId));
        log.warn({ roomId, inviter, via }, "declined Matrix invite from a user not in allowedInviters");
      }
    } catch (err) {
      log.error({ err: String(err), roomId, inviter }, "could not answer Matrix invite");
    } finally {
      this.invitesInFlight.delete(roomId);
    }
  }

  /** Our membership as the server sees it (the SDK's room view can briefly lag or replay). */
  private async serverMembership(roomId: string): Promise<string | undefined> {
    try {
      const ev = await this.client!.getStateEvent(roomId, EventType.RoomMember, this.opts.userId);
      return typeof ev.membership === "string" ? ev.membership : undefined;
    } catch {
      return undefined; // 403/404 while only invited
    }
  }

  private async ensureDisplayName(): Promise<void> {
    const name = this.opts.displayName;
    if (!name || !this.client) return;
    try {
      const profile = await this.client.getProfileInfo(this.opts.userId);
      if (profile.displayname !== name) await this.client.setDisplayName(name);
    } catch (err) {
      log.debug({ err: String(err) }, "could not set Matrix display name");
    }
  }

  private buildContent(text: string, markdown: boolean): Record<string, unknown> {
    if (!markdown) return { msgtype: "m.text", body: text };
    const r = renderMarkdown(text);
    return { msgtype: "m.text", body: r.body, format: "org.matrix.custom.html", formatted_body: r.formattedBody };
  }

  /** Send a reply (Markdown → sanitised HTML, threaded as an `m.in_reply_to` quote). */
  async send(chatId: string, reply: OutboundReply): Promise<SentReply> {
    const client = this.requireClient();
    const roomId = roomIdOf(chatId);
    let text = reply.text;
    if (reply.buttons && reply.buttons.length > 0) {
      // Matrix has no inline keyboards: list the options with the command to send.
      text += "\n\n" + reply.buttons.map((b, i) => `${i + 1}. ${b.label}: send \`${b.command}\``).join("\n");
    }
    const markdown = reply.markdown ?? false;
    const content = this.buildContent(text, markdown || (reply.buttons?.length ?? 0) > 0);
    if (reply.replyToId) {
      content["m.relates_to"] = { "m.in_reply_to": { event_id: reply.replyToId } };
      const room = client.getRoom(roomId);
      const to = room ? await this.senderOf(room, reply.replyToId) : undefined;
      content["m.mentions"] = to && to !== this.opts.userId ? { user_ids: [to] } : {};
    } else {
      content["m.mentions"] = {};
    }
    const res = await retryRateLimited(() => client.sendMessage(roomId, content as never));
    const sent: SentReply = { id: res.event_id };
    if (this.opts.streamEdits ?? true) sent.edit = this.editor(roomId, res.event_id, markdown);
    return sent;
  }

  /** An edit function for one sent message that coalesces edits faster than `editIntervalMs`. */
  private editor(roomId: string, eventId: string, markdown: boolean): (text: string) => Promise<void> {
    const interval = this.opts.editIntervalMs ?? 1200;
    let lastSent = 0;
    let pending: string | undefined;
    let flushing: Promise<void> | undefined;
    const flush = async (): Promise<void> => {
      const wait = lastSent + interval - Date.now();
      if (wait > 0) await sleep(wait);
      const text = pending;
      pending = undefined;
      if (text === undefined) return;
      const inner = this.buildContent(text, markdown);
      const content: Record<string, unknown> = {
        msgtype: "m.text",
        body: `* ${inner.body as string}`,
        ...(inner.formatted_body ? { format: "org.matrix.custom.html", formatted_body: `* ${inner.formatted_body as string}` } : {}),
        "m.new_content": inner,
        "m.relates_to": { rel_type: "m.replace", event_id: eventId },
        "m.mentions": {},
      };
      lastSent = Date.now();
      await retryRateLimited(() => this.requireClient().sendMessage(roomId, content as never));
    };
    return async (text: string) => {
      pending = text;
      // Chain flushes: a newer text waiting behind an in-flight edit replaces older pending text.
      flushing = (flushing ?? Promise.resolve()).then(flush);
      await flushing;
    };
  }

  /** Show or clear the typing indicator (best effort). */
  async setTyping(chatId: string, typing: boolean): Promise<void> {
    try {
      await this.requireClient().sendTyping(roomIdOf(chatId), typing, 30_000);
    } catch (err) {
      log.debug({ err: String(err) }, "typing notification failed");
    }
  }

  /** Redact an event if the bot's power level allows it; false when not permitted. */
  async redact(chatId: string, messageId: string, reason: string): Promise<boolean> {
    const client = this.requireClient();
    const roomId = roomIdOf(chatId);
    const room = client.getRoom(roomId);
    const ev = room?.findEventById(messageId);
    const me = room?.currentState.getMember(this.opts.userId);
    if (room && ev && me && ev.getSender() !== this.opts.userId) {
      // Others' events need the room's "redact" power level; ask the server only when we have it.
      const state = room.currentState;
      if (!state.maySendEvent(EventType.RoomRedaction, this.opts.userId) || !state.hasSufficientPowerLevelFor("redact", me.powerLevel)) return false;
    }
    try {
      await retryRateLimited(() => client.redactEvent(roomId, messageId, undefined, { reason }));
      return true;
    } catch (err) {
      const code = (err as { errcode?: string }).errcode;
      if (code === "M_FORBIDDEN") return false;
      throw new ServiceError("MATRIX_REDACT_FAILED", "Could not remove the message from the Matrix room; remove it by hand.", { cause: err });
    }
  }

  private requireClient(): MatrixClient {
    if (!this.client || this.disposed) throw new ServiceError("MATRIX_NOT_STARTED", "The Matrix connection is not running; restart Hearth.");
    return this.client;
  }

  /** Stop syncing, let in-flight handlers finish (up to 30 s), save crypto state, close stores. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (this.saveTimer) clearInterval(this.saveTimer);
    const client = this.client;
    await Promise.race([Promise.allSettled([...this.queues.values(), this.keyBackupSetup]), sleep(30_000)]);
    client?.stopClient();
    client?.removeAllListeners();
    await this.snapshot?.dispose();
    this.ledger?.dispose();
  }
}
