/**
 * The emulator's own tests (`npm test -w @airtable-ops/gemini-emulator`); the platform's `npm test`
 * runs them too. They start emulators in-process, talk to them with the official `@google/genai`
 * client, and need nothing else.
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } } }] },
  testTimeout: 20_000,
};
