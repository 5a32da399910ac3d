import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';

const ISSUER = 'airtable-ops';
const AUDIENCE = 'airtable-ops-api';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What a valid access token says: whose it is and which login (refresh-token family) issued it. */
export interface AccessClaims {
  userId: string;
  /** The login session (`login_sessions.id`, the refresh-token family): revoking it ends the token. */
  sessionId: string;
}

/** Signs a short-lived access token (HS256) for `userId`, naming its login session in `sid`. */
export function signAccessToken(
  userId: string,
  secret: string,
  ttlSeconds: number,
  sessionId: string,
): string {
  return jwt.sign({ typ: 'access', sid: sessionId }, secret, {
    algorithm: 'HS256',
    subject: userId,
    expiresIn: ttlSeconds,
    issuer: ISSUER,
    audience: AUDIENCE,
    jwtid: randomUUID(),
  });
}

/**
 * Returns the claims of a valid access token, or undefined. The algorithm is pinned, so
 * `alg: none` and algorithm-confusion tokens fail, as do tampered, expired and foreign tokens;
 * `exp` is required (jsonwebtoken accepts a token without one forever), and so is `sid`.
 * Whether the session is still live is the caller's check.
 */
export function verifyAccessToken(token: string, secret: string): AccessClaims | undefined {
  try {
    const payload = jwt.verify(token, secret, { algorithms: ['HS256'], issuer: ISSUER, audience: AUDIENCE });
    if (
      typeof payload !== 'object' ||
      payload.typ !== 'access' ||
      typeof payload.sub !== 'string' ||
      typeof payload.sid !== 'string' ||
      !UUID.test(payload.sid) ||
      typeof payload.exp !== 'number' ||
      !Number.isFinite(payload.exp)
    )
      return undefined;
    return { userId: payload.sub, sessionId: payload.sid };
  } catch {
    return undefined;
  }
}
