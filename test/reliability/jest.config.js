// `npm run test:reliability`: the reliability and security suite (issue 7). The same two projects
// as the main suite, sharing its global setup (a migrated template per backend) and helpers.
// Files named *.pg.test.ts inject faults only a server has (SIGKILL mid-batch, a killed backend)
// and run on PostgreSQL only; *.pglite.test.ts check the embedded database's files and lock.
const path = require('node:path');

const rootDir = path.resolve(__dirname, '..', '..');
const common = {
  rootDir,
  testEnvironment: 'node',
  // The main suite's transform (@swc/jest; see jest.config.js).
  transform: require('../../jest.config.js').projects[0].transform,
  moduleFileExtensions: ['ts', 'js', 'json'],
};

module.exports = {
  rootDir,
  // Two workers on two cores: the concurrency and crash scenarios spawn their own processes.
  maxWorkers: 2,
  reporters: ['default', '<rootDir>/test/setup/backend-reporter.js'],
  testTimeout: 180000,
  projects: [
    {
      ...common,
      displayName: 'pglite',
      testMatch: ['<rootDir>/test/reliability/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '\\.pg\\.test\\.ts$'],
      globalSetup: '<rootDir>/test/setup/global-setup-pglite.ts',
      globalTeardown: '<rootDir>/test/setup/global-teardown-pglite.ts',
      setupFiles: ['<rootDir>/test/setup/use-pglite.js'],
    },
    {
      ...common,
      displayName: 'postgres',
      testMatch: ['<rootDir>/test/reliability/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '\\.pglite\\.test\\.ts$'],
      globalSetup: '<rootDir>/test/setup/global-setup-postgres.ts',
      globalTeardown: '<rootDir>/test/setup/global-teardown-postgres.ts',
      setupFiles: ['<rootDir>/test/setup/use-postgres.js'],
    },
  ],
};
