/** Environment variables through which the global setup hands its shared pieces to test files. */
export const TEST_ENV = {
  databaseUrl: 'TEST_SHARED_DATABASE_URL',
  temporalAddress: 'TEST_SHARED_TEMPORAL_ADDRESS',
  temporalCli: 'TEST_SHARED_TEMPORAL_CLI',
  workflowBundle: 'TEST_SHARED_WORKFLOW_BUNDLE',
} as const;
