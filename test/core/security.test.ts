import { randomBytes } from 'node:crypto';
import { decryptSecret, encryptSecret } from '../../core/crypto';
import { hashPassword, verifyPassword } from '../../core/passwords';
import { ConfigError, loadConfig, parseEncryptionKey } from '../../core/config';

describe('passwords', () => {
  it('verifies the right password and refuses others', async () => {
    const hash = await hashPassword('correct horse battery');
    expect(hash).toMatch(/^scrypt\$32768\$8\$3\$/);
    expect(hash).not.toContain('correct horse');
    await expect(verifyPassword('correct horse battery', hash)).resolves.toBe(true);
    await expect(verifyPassword('correct horse batterY', hash)).resolves.toBe(false);
    await expect(verifyPassword('anything', 'not-a-hash')).resolves.toBe(false);
  });

  it('salts every hash', async () => {
    expect(await hashPassword('same password')).not.toBe(await hashPassword('same password'));
  });
});

describe('secrets at rest', () => {
  const key = randomBytes(32);

  it('round-trips and never contains the plaintext', () => {
    const sealed = encryptSecret('patSECRET.value', key, 'workspace-1');
    expect(sealed).not.toContain('patSECRET');
    expect(decryptSecret(sealed, key, 'workspace-1')).toBe('patSECRET.value');
  });

  it('refuses another key, another row, or tampered bytes', () => {
    const sealed = encryptSecret('patSECRET.value', key, 'workspace-1');
    expect(() => decryptSecret(sealed, randomBytes(32), 'workspace-1')).toThrow();
    expect(() => decryptSecret(sealed, key, 'workspace-2')).toThrow();
    const parts = sealed.split(':');
    const tampered = Buffer.from(parts[3]!, 'base64');
    tampered[0] = tampered[0]! ^ 1;
    expect(() =>
      decryptSecret([...parts.slice(0, 3), tampered.toString('base64')].join(':'), key, 'workspace-1'),
    ).toThrow();
  });
});

describe('configuration', () => {
  it('requires secrets in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', DATABASE_URL: 'postgres://x/y' })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'production', DATABASE_URL: 'postgres://x/y' })).toThrow(
      /JWT_SECRET, APP_ENCRYPTION_KEY/,
    );
  });

  it('names the offending variable', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
  });

  it('accepts a 32-byte key as base64 or hex, and nothing shorter', () => {
    const raw = randomBytes(32);
    expect(parseEncryptionKey(raw.toString('base64')).equals(raw)).toBe(true);
    expect(parseEncryptionKey(raw.toString('hex')).equals(raw)).toBe(true);
    expect(() => parseEncryptionKey(randomBytes(16).toString('base64'))).toThrow(ConfigError);
  });
});
