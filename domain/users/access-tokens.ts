import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';

const ISSUER = 'airtable-ops';
const AUDIENCE = 'airtable-ops-api';

/** Signs a short-lived access token (HS256) for `userId`. */
export function signAccessToken(userId: string, secret: string, ttlSeconds: number): string {
  return jwt.sign({ typ: 'access' }, secret, {
    algorithm: 'HS256',
    subject: userId,
    expiresIn: ttlSeconds,
    issuer: ISSUER,
    audience: AUDIENCE,
    jwtid: randomUUID(),
  });
}

/**
 * Returns the user id of a valid access token, or undefined. The algorithm is pinned, so
 * `alg: none` and algorithm-confusion tokens fail, as do tampered, expired and foreign tokens.
 */
export function verifyAccessToken(token: string, secret: string): string | undefined {
  try {
    const payload = jwt.verify(token, secret, { algorithms: ['HS256'], issuer: ISSUER, audience: AUDIENCE });
    if (typeof payload !== 'object' || payload.typ !== 'access' || typeof payload.sub !== 'string')
      return undefined;
    return payload.sub;
  } catch {
    return undefined;
  }
}
