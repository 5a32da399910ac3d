import type { DataConverter } from '@temporalio/common';
import { payloadCodec } from './codec';

/**
 * The data converter every Temporal client and worker of the platform uses: JSON payloads (inputs
 * and results carry ids and counts, never secrets), encrypted by the payload codec
 * (`temporal/codec.ts`, AES-256-GCM, keys from PAYLOAD_ENCRYPTION_KEYS or derived from
 * APP_ENCRYPTION_KEY), so Temporal's history holds ciphertext. The API, the workers and the tests
 * all use it, and must all have the same keys to read each other's payloads; unencrypted payloads
 * (histories from before) are read as they are.
 */
export const dataConverter: DataConverter = { payloadCodecs: [payloadCodec] };
