// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'dist/**',
      'console/dist/**',
      '.data/**',
      'coverage/**',
      '**/*.config.js',
      '**/*.config.mjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-namespace': 'off',
    },
  },
  // Dependencies point one way: api/ → domain/ → airtable/, db/, core/; activities/ → domain/;
  // workflows/ import types and constants only. Cycles are found by `madge --circular` (npm run lint).
  layer('core/**/*.ts', [
    { regex: '^\\.\\./', message: 'core/ is the bottom layer: it imports nothing else of the platform.' },
  ]),
  layer(
    ['airtable/**/*.ts', 'db/**/*.ts'],
    [
      {
        regex: '^\\.\\./(?!core/)',
        message: 'The Airtable adapter and db/ sit below the domain: they import core/ only.',
      },
    ],
  ),
  layer('domain/**/*.ts', [
    {
      regex: '^(\\.\\./)+(api|activities|workers)(/|$)',
      message: 'Domain services are called by api/ and activities/, never the other way round.',
    },
  ]),
  layer('activities/**/*.ts', [
    {
      regex: '^\\.\\./(api|workers|workflows)(/|$)',
      message: 'Activities wrap domain services; they do not reach into the API, workers or workflows.',
    },
  ]),
  layer('api/**/*.ts', [
    {
      regex: '^\\.\\./(activities|workflows|workers)(/|$)',
      message:
        'The API calls domain services (domain/jobs starts workflows); it does not run activities or workflows.',
    },
  ]),
  {
    // The web console runs in the browser (console/tsconfig.json: DOM, no Node types): no Node
    // built-ins, and nothing of the platform: it knows the API only through HTTP.
    files: ['console/**/*.ts', 'console/**/*.tsx'],
    rules: {
      // Event handlers (onSubmit={async …}) may be async: each catches its own errors and shows them.
      '@typescript-eslint/no-misused-promises': [
        'error',
        { checksVoidReturn: { arguments: false, attributes: false } },
      ],
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({
            name,
            message: 'The console runs in the browser: no Node built-ins.',
          })),
          patterns: [
            {
              regex: '^(\\.\\./){2,}',
              message: 'The console talks to the platform over HTTP only; it imports nothing of it.',
            },
          ],
        },
      ],
    },
  },
  layer('emulators/**/*.ts', [
    {
      regex: '^(\\.\\./){3,}',
      message: 'The emulator is its own package: it imports nothing from the platform it stands in for.',
    },
  ]),
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no I/O clients, and
    // implementations only as types (proxyActivities<typeof …>); values only from modules made for it.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({
            name,
            message: 'Workflows must be deterministic: no Node built-ins.',
          })),
          patterns: [
            {
              group: [
                '@temporalio/client',
                '@temporalio/worker',
                '@temporalio/activity',
                'pg',
                'airtable',
                'express',
                '@google/genai',
              ],
              message: 'Workflows cannot do I/O; call an activity instead.',
            },
            {
              regex: '^\\.\\./(activities|domain|db|api|airtable|workers|scripts)(/|$)',
              message:
                'Import types only (import type …): implementations run in the worker, not the workflow.',
              allowTypeImports: true,
            },
            {
              regex: '^\\.\\./(core/(?!failures$)|temporal/(?!search-attributes$))',
              message:
                'Workflows take values only from core/failures and temporal/search-attributes (no Node inside).',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
);

/** An ESLint block that forbids `files` to import what `patterns` match. */
function layer(files, patterns) {
  return {
    files: Array.isArray(files) ? files : [files],
    rules: { 'no-restricted-imports': ['error', { patterns }] },
  };
}
