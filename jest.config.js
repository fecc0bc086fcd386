// One suite, two backends: every test file runs once on PGlite and once on a real PostgreSQL
// server (the backend is a parameter, never a copy of the tests).
const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/reliability/'],
  moduleFileExtensions: ['ts', 'js', 'json'],
};

module.exports = {
  maxWorkers: 2,
  reporters: ['default', '<rootDir>/test/setup/backend-reporter.js'],
  testTimeout: 60000,
  projects: [
    {
      ...common,
      displayName: 'pglite',
      globalSetup: '<rootDir>/test/setup/global-setup-pglite.ts',
      globalTeardown: '<rootDir>/test/setup/global-teardown-pglite.ts',
      setupFiles: ['<rootDir>/test/setup/use-pglite.js'],
    },
    {
      ...common,
      displayName: 'postgres',
      globalSetup: '<rootDir>/test/setup/global-setup-postgres.ts',
      globalTeardown: '<rootDir>/test/setup/global-teardown-postgres.ts',
      setupFiles: ['<rootDir>/test/setup/use-postgres.js'],
    },
  ],
};
