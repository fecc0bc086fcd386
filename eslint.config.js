// ESLint (`npm run lint`): typescript-eslint's type-aware recommended rules over every TypeScript
// file, ESLint's own recommended rules over the JavaScript ones, the house rules of lib/, and
// nothing about layout: that is Prettier's job (`npm run format:check`), and eslint-config-prettier
// switches off every rule that could disagree with it.
'use strict';
const js = require('@eslint/js');
const { defineConfig, globalIgnores } = require('eslint/config');
const prettier = require('eslint-config-prettier');
const globals = require('globals');
const tseslint = require('typescript-eslint');

module.exports = defineConfig([
  globalIgnores(['dist/', 'coverage/', '.ctl-data/']),

  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      // tsconfig.test.json covers lib, tasks, bench, migrations and test: one program for all.
      parserOptions: { project: './tsconfig.test.json', tsconfigRootDir: __dirname },
    },
    rules: {
      // As tsc's noUnusedParameters: a leading underscore marks a name kept on purpose (an
      // interface's parameter, the rest of a destructuring).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // Off: `async` without `await` is how this code implements async interfaces (Kysely plugins
      // and migration providers, Fastify handlers, test doubles of `confirm`/`close`), and it makes
      // a throw a rejection, which those callers expect. The rule would ask to drop it.
      '@typescript-eslint/require-await': 'off',
      // Off: a CLI that prints user data strips control characters on purpose (formats.ts,
      // validate.ts, the mailer); every \x00-\x1f in a pattern here is deliberate.
      'no-control-regex': 'off',
    },
  },

  // lib/ is the domain: it never prints and never reads the environment (lib/config.ts reads it
  // once). These keep it so.
  {
    files: ['lib/**/*.ts'],
    ignores: ['lib/config.ts'],
    rules: {
      'no-console': 'error',
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'lib/ takes its settings from lib/config.ts (loadConfig), never from process.env.' },
        { object: 'process', property: 'stdout', message: 'lib/ never prints: return the result, the task layer renders it.' },
        { object: 'process', property: 'stderr', message: 'lib/ never prints: return the result, the task layer renders it.' },
        { object: 'process', property: 'exit', message: 'lib/ throws a typed error carrying its exit code; the runner exits.' },
      ],
    },
  },

  // The one lazy boundary (issue 11, deliverable 5): the verb registries require a verb's module
  // only when that verb runs, which keeps `ctl user --help` fast. Everywhere else: plain imports.
  {
    files: ['tasks/user/index.ts', 'tasks/runner/commands.ts'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },

  // Tests read JSON: `JSON.parse(stdout)`, `res.json()`, rows of `SELECT *`. Those are `any` by
  // their library's types, and an assertion (`expect(...).toEqual`) checks their shape at run time,
  // so typing each of them first would add casts and no safety. The no-unsafe-* rules stay on for
  // the code that ships.
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },

  // Plain CommonJS scripts (the launcher bin/ctl, the test runners, the jest and ESLint configs):
  // ESLint's recommended rules, Node's globals, no type information.
  {
    files: ['**/*.js', 'bin/ctl'],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.node } },
  },

  prettier,
]);
