#!/usr/bin/env node
'use strict';
// LibreChat's `npm run <script>` user commands (package.json scripts), mapped to ctl's verbs with
// their positional forms, so an operator's habits and runbooks keep working. Run in-process
// through bin/ctl: same output, same exit codes.
const FORMS = {
  'create-user': (a) => ['user', 'new', ...a], // <email> <name> <username> [password] [--email-verified=...]
  'invite-user': ([email, name, ...rest]) => ['user', 'invite', ...(email ? ['--email', email] : []), ...(name !== undefined ? ['--name', name] : []), ...rest],
  'list-users': (a) => ['user', 'list', ...a],
  'ban-user': (a) => ['user', 'deactivate', ...a],
  'delete-user': (a) => ['user', 'rm', ...a],
  'reset-password': (a) => ['user', 'reset_password', ...a], // <email> [new_password]
  'user-stats': (a) => ['user', 'show', ...a],
};

const [form, ...args] = process.argv.slice(2);
if (!Object.prototype.hasOwnProperty.call(FORMS, form)) {
  process.stderr.write(`unknown LibreChat command ${JSON.stringify(form)}: one of ${Object.keys(FORMS).join(', ')}\n`);
  process.exit(2);
}
process.argv.splice(2, process.argv.length - 2, ...FORMS[form](args));
require('../bin/ctl');
