import { readFileSync } from 'node:fs';
import type { NativeConnectionOptions } from '@temporalio/worker';
import type { TemporalConnectionConfig } from '../core/config';

/**
 * Connection options shared by the client (API) and the worker: plain for the dev server, mTLS for
 * a self-hosted cluster, API key (which implies TLS) for Temporal Cloud.
 */
export function temporalConnectionOptions(
  config: TemporalConnectionConfig & { address: string },
): NativeConnectionOptions {
  const { tls } = config;
  return {
    address: config.address,
    apiKey: config.apiKey,
    metadata: config.apiKey ? { 'temporal-namespace': config.namespace } : undefined,
    tls: tls
      ? {
          serverNameOverride: tls.serverName,
          serverRootCACertificate: tls.caPath ? readFileSync(tls.caPath) : undefined,
          clientCertPair:
            tls.certPath && tls.keyPath
              ? { crt: readFileSync(tls.certPath), key: readFileSync(tls.keyPath) }
              : undefined,
        }
      : undefined,
  };
}
