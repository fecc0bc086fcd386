// One suite, two backends: every test file runs once on PGlite and once on a real PostgreSQL
// server (the backend is a parameter, never a copy of the tests).
//
// @swc/jest strips the types (test/run-all.js type-checks everything once, before jest): cold, it
// transforms lib, tasks and test (161 files) in ~0.8 s of CPU where ts-jest's transpile-only
// mode took ~4.5 s, paid per project and per fresh cache (CI). Options inline, not in a .swcrc:
// jest's cache key sees these, not that file. swc hoists jest.mock() as ts-jest did.
const transform = {
  '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' }, sourceMaps: 'inline' }],
};
const common = {
  testEnvironment: 'node',
  transform,
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/reliability/'],
  moduleFileExtensions: ['ts', 'js', 'json'],
};

// *.pg.test.ts run on PostgreSQL only, *.pglite.test.ts on PGlite only (as in test/reliability):
// test/bin's process-level checks (exit status, TTY prompts, every verb's happy path through
// bin/ctl) do not depend on the database, and a spawn there costs ~0.2 s against ~1 s on PGlite;
// what the embedded database does through a real process has files of its own.
module.exports = {
  // Two workers on two cores; the parent only reports.
  maxWorkers: 2,
  reporters: ['default', '<rootDir>/test/setup/backend-reporter.js'],
  testTimeout: 60000,
  projects: [
    {
      ...common,
      displayName: 'pglite',
      testPathIgnorePatterns: [...common.testPathIgnorePatterns, '\\.pg\\.test\\.ts$'],
      globalSetup: '<rootDir>/test/setup/global-setup-pglite.ts',
      globalTeardown: '<rootDir>/test/setup/global-teardown-pglite.ts',
      setupFiles: ['<rootDir>/test/setup/use-pglite.js'],
    },
    {
      ...common,
      displayName: 'postgres',
      testPathIgnorePatterns: [...common.testPathIgnorePatterns, '\\.pglite\\.test\\.ts$'],
      globalSetup: '<rootDir>/test/setup/global-setup-postgres.ts',
      globalTeardown: '<rootDir>/test/setup/global-teardown-postgres.ts',
      setupFiles: ['<rootDir>/test/setup/use-postgres.js'],
    },
  ],
};
