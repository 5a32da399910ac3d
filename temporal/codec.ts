import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec, SerializationContext } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { devSecret, loadConfig } from '../core/config';

/**
 * Encryption of every payload the platform hands to Temporal (workflow inputs and results, activity
 * arguments and results, queries, signals, updates): AES-256-GCM over the whole payload (its
 * metadata included), so Temporal's history holds ciphertext only. The unencrypted metadata says
 * how to open it again:
 *
 * - `encoding: binary/encrypted`;
 * - `encryption-key-id`: which key sealed it, so keys can rotate (every configured key decrypts;
 *   the first encrypts);
 * - `workflow-id`: the workflow the payload belongs to (Temporal's serialization context), so the
 *   codec server can let a user decode only their own workspaces' workflows. It is bound to the
 *   ciphertext (GCM associated data): relabelling a payload with another workflow id fails.
 *
 * A payload without `binary/encrypted` is passed through as it is: histories recorded before
 * encryption (and workflows in flight then) replay and finish as before.
 *
 * Keys (see docs/operations.md): `PAYLOAD_ENCRYPTION_KEYS` = `id:key[,id:key…]` (32-byte keys,
 * base64 or hex; the first encrypts), or else one key derived with HKDF-SHA256 from
 * APP_ENCRYPTION_KEY (or the local dev key under `.data/`), with the id `app-` + 8 hex of its digest.
 * Every client and worker of one deployment must see the same keys.
 */

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID = 'encryption-key-id';
export const WORKFLOW_ID = 'workflow-id';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A payload encryption key: its id (kept with each payload) and 32 bytes. */
export interface PayloadKey {
  id: string;
  key: Buffer;
}

/** Parses `PAYLOAD_ENCRYPTION_KEYS` (`id:key[,id:key…]`). */
export function parsePayloadKeys(text: string): PayloadKey[] {
  const keys = text
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const match = /^([A-Za-z0-9._-]{1,64}):(.+)$/.exec(entry);
      if (!match) throw new Error('PAYLOAD_ENCRYPTION_KEYS entries are id:key (key 32 bytes, base64 or hex)');
      const raw = match[2]!;
      const key = /^[0-9a-fA-F]{64}$/.test(raw) ? Buffer.from(raw, 'hex') : Buffer.from(raw, 'base64');
      if (key.length !== 32) throw new Error(`PAYLOAD_ENCRYPTION_KEYS: key ${match[1]} is not 32 bytes`);
      return { id: match[1]!, key };
    });
  if (keys.length === 0) throw new Error('PAYLOAD_ENCRYPTION_KEYS names no key');
  if (new Set(keys.map((k) => k.id)).size !== keys.length)
    throw new Error('PAYLOAD_ENCRYPTION_KEYS names a key id twice');
  return keys;
}

/** The payload key derived from the application key (HKDF-SHA256; never the application key itself). */
export function derivePayloadKey(appKey: Buffer): PayloadKey {
  const key = Buffer.from(hkdfSync('sha256', appKey, 'airtable-ops', 'temporal-payload-encryption/v1', 32));
  return { id: `app-${createHash('sha256').update(key).digest('hex').slice(0, 8)}`, key };
}

/** The keys this process uses, from its environment (see the module's comment). */
export function payloadKeysFromEnv(env: NodeJS.ProcessEnv = process.env): PayloadKey[] {
  const configured = env.PAYLOAD_ENCRYPTION_KEYS?.trim();
  if (configured) return parsePayloadKeys(configured);
  return [derivePayloadKey(loadConfig(env).encryptionKey)];
}

function associatedData(keyId: string, workflowId: string | undefined): Buffer {
  return Buffer.from(`airtable-ops/payload/v1\n${keyId}\n${workflowId ?? ''}`);
}

/** Whether a payload was sealed by {@link PayloadEncryptionCodec}. */
export function isEncrypted(payload: Payload): boolean {
  const encoding = payload.metadata?.encoding;
  return encoding !== undefined && encoding !== null && decoder.decode(encoding) === ENCRYPTED_ENCODING;
}

/** The workflow an encrypted payload belongs to, as its metadata says (unencrypted, bound to the ciphertext). */
export function payloadWorkflowId(payload: Payload): string | undefined {
  const raw = payload.metadata?.[WORKFLOW_ID];
  return raw ? decoder.decode(raw) : undefined;
}

/** The AES-256-GCM payload codec (see the module's comment). */
export class PayloadEncryptionCodec implements PayloadCodec {
  private resolved?: { current: PayloadKey; byId: Map<string, Buffer> };

  /** `keys` or a function giving them, called on first use (so importing the converter reads no config). */
  constructor(private readonly keys: PayloadKey[] | (() => PayloadKey[])) {}

  private get ring() {
    if (!this.resolved) {
      const keys = typeof this.keys === 'function' ? this.keys() : this.keys;
      if (keys.length === 0) throw new Error('No payload encryption key');
      this.resolved = { current: keys[0]!, byId: new Map(keys.map((k) => [k.id, k.key])) };
    }
    return this.resolved;
  }

  /** The id of the key that encrypts. */
  get currentKeyId(): string {
    return this.ring.current.id;
  }

  async encode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    return payloads.map((p) => this.encrypt(p, context?.workflowId));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => this.decrypt(p));
  }

  /** Seals one payload, labelled with the workflow it belongs to when known. */
  encrypt(payload: Payload, workflowId?: string): Payload {
    const { current } = this.ring;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', current.key, iv);
    cipher.setAAD(associatedData(current.id, workflowId));
    const plain = temporal.api.common.v1.Payload.encode(payload).finish();
    const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return {
      metadata: {
        encoding: encoder.encode(ENCRYPTED_ENCODING),
        [KEY_ID]: encoder.encode(current.id),
        ...(workflowId ? { [WORKFLOW_ID]: encoder.encode(workflowId) } : {}),
      },
      data: new Uint8Array(sealed),
    };
  }

  /** Opens one payload; an unencrypted one is returned as it is. Synchronous (node:crypto). */
  decrypt(payload: Payload): Payload {
    if (!isEncrypted(payload)) return payload;
    const keyIdBytes = payload.metadata?.[KEY_ID];
    const keyId = keyIdBytes ? decoder.decode(keyIdBytes) : '';
    const key = this.ring.byId.get(keyId);
    if (!key) throw new Error(`Payload encrypted with key "${keyId}", which this process does not have`);
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < IV_BYTES + TAG_BYTES) throw new Error('Encrypted payload is truncated');
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
    decipher.setAAD(associatedData(keyId, payloadWorkflowId(payload)));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    const plain = Buffer.concat([
      decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
      decipher.final(),
    ]);
    const decoded = temporal.api.common.v1.Payload.decode(plain);
    return { metadata: decoded.metadata ?? {}, data: decoded.data ?? undefined };
  }
}

/** The codec of this process: keys from its environment, read on first use. */
export const payloadCodec = new PayloadEncryptionCodec(() => payloadKeysFromEnv());

/**
 * The codec token of a local run (`npm start`): CODEC_TOKEN, or one generated once into
 * `<dataDir>/codec-token`, so the dev server's Web UI (started with it in its codec endpoint) and a
 * restarted API agree across restarts. URL-safe: it is a part of the Web UI's codec endpoint path.
 */
export function localCodecToken(dataDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.CODEC_TOKEN?.trim();
  if (configured) return configured;
  return Buffer.from(devSecret(dataDir, 'codec-token', 24), 'base64').toString('base64url');
}
