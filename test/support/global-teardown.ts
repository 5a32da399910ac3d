export default async function globalTeardown(): Promise<void> {
  await globalThis.__TEST_DEV_SERVER__?.stop();
}
