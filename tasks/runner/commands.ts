import type { VerbEntry } from './verb';

/** The commands beside `user`: each module is required only when it runs. */
export const OTHER_COMMANDS: readonly VerbEntry[] = [
  {
    command: 'audit <action>',
    describe: 'Read the audit log back (ctl audit list)',
    load: () => (require('../audit/list') as typeof import('../audit/list')).default,
  },
  {
    command: 'migrate [action]',
    describe: 'Migrate the database schema (up, down, status)',
    load: () => (require('../migrate/migrate') as typeof import('../migrate/migrate')).default,
  },
  {
    command: 'serve',
    describe: 'Run the app side: login, the Users API and the pages behind every link',
    load: () => (require('../serve/serve') as typeof import('../serve/serve')).default,
  },
];
