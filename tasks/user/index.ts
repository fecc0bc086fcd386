import type { VerbEntry } from '../runner/verb';

/** Every `ctl user` verb, sorted. Modules are required only when their verb runs. */
export const USER_VERBS: readonly VerbEntry[] = [
  {
    command: 'activate <user>',
    aliases: ['unban'],
    describe: 'Activate (unban) a user',
    load: () => (require('./activate') as typeof import('./activate')).default,
  },
  { command: 'confirm <user>', describe: "Confirm a user's email", load: () => (require('./confirm') as typeof import('./confirm')).default },
  {
    command: 'confirm_all',
    describe: 'Confirm every local, active, non-staff user',
    load: () => (require('./confirm_all') as typeof import('./confirm_all')).default,
  },
  {
    command: 'count',
    describe: 'Count users, and users active in a window (licence counting)',
    load: () => (require('./count') as typeof import('./count')).default,
  },
  {
    command: 'create_user [nickname] [email] [more..]',
    hidden: true,
    describe: "Create users, Overleaf's (--email=a@x,b@y) or LibreChat's way, without asking",
    load: () => (require('./create_user') as typeof import('./create_user')).default,
  },
  {
    command: 'delete_user [user]',
    hidden: true,
    describe: "Delete a user (rm), Overleaf's (--email=) or LibreChat's way",
    load: () => (require('./delete_user') as typeof import('./delete_user')).default,
  },
  {
    command: 'deactivate <user>',
    aliases: ['ban', 'unsubscribe'],
    describe: 'Deactivate (ban) a user and unsubscribe local followers',
    load: () => (require('./deactivate') as typeof import('./deactivate')).default,
  },
  {
    command: 'deactivate_all_from_instance <instance>',
    aliases: ['unsubscribe_all_from_instance', 'unsubscribe-all-from-instance'],
    describe: 'Deactivate every user of a remote instance',
    load: () => (require('./deactivate_all_from_instance') as typeof import('./deactivate_all_from_instance')).default,
  },
  {
    command: 'delete_activities <user>',
    describe: "Delete a user's posts and interactions",
    load: () => (require('./delete_activities') as typeof import('./delete_activities')).default,
  },
  {
    command: 'import <file>',
    describe: 'Create users from a CSV or JSONL file (- for stdin)',
    load: () => (require('./import') as typeof import('./import')).default,
  },
  { command: 'invite', describe: 'Generate a user invite token', load: () => (require('./invite') as typeof import('./invite')).default },
  { command: 'invites', describe: 'List invite tokens', load: () => (require('./invites') as typeof import('./invites')).default },
  { command: 'list', describe: 'List users', load: () => (require('./list') as typeof import('./list')).default },
  { command: 'new <nickname> [email] [more..]', describe: 'Create a user', load: () => (require('./new') as typeof import('./new')).default },
  {
    command: 'purge_deleted',
    describe: 'Hard-delete accounts deleted longer ago than the retention window',
    load: () => (require('./purge_deleted') as typeof import('./purge_deleted')).default,
  },
  {
    command: 'reset_mfa <user>',
    describe: 'Disable multi-factor authentication for a user',
    load: () => (require('./reset_mfa') as typeof import('./reset_mfa')).default,
  },
  {
    command: 'reset_password <user> [new_password]',
    describe: 'Generate a password reset link, or set a new password',
    load: () => (require('./reset_password') as typeof import('./reset_password')).default,
  },
  {
    command: 'restore <user>',
    describe: 'Undo a soft delete inside the retention window',
    load: () => (require('./restore') as typeof import('./restore')).default,
  },
  {
    command: 'revoke_invite <token>',
    describe: 'Revoke an invite token',
    load: () => (require('./revoke_invite') as typeof import('./revoke_invite')).default,
  },
  { command: 'rm <user>', describe: 'Delete a user (soft; --purge deletes everything now)', load: () => (require('./rm') as typeof import('./rm')).default },
  {
    command: 'send_confirmation <user>',
    describe: 'Mail an email-confirmation link to a user',
    load: () => (require('./send_confirmation') as typeof import('./send_confirmation')).default,
  },
  { command: 'set <user>', describe: "Change a user's flags and profile", load: () => (require('./set') as typeof import('./set')).default },
  {
    command: 'show <user>',
    aliases: ['stats'],
    describe: 'Show every field of a user and what it owns',
    load: () => (require('./show') as typeof import('./show')).default,
  },
  {
    command: 'sign_out <user>',
    describe: 'Revoke every session and token of a user',
    load: () => (require('./sign_out') as typeof import('./sign_out')).default,
  },
  { command: 'tag <user> <tags..>', describe: 'Add tags to a user', load: () => (require('./tag') as typeof import('./tag')).default },
  {
    command: 'unconfirm_all',
    describe: 'Unconfirm every local, active, non-staff user and issue confirmation tokens',
    load: () => (require('./unconfirm_all') as typeof import('./unconfirm_all')).default,
  },
  {
    command: 'toggle_activated <user>',
    hidden: true,
    describe: 'Deactivate an active user, activate an inactive one (Pleroma)',
    load: () => (require('./toggle_activated') as typeof import('./toggle_activated')).default,
  },
  {
    command: 'toggle_confirmed <user>',
    hidden: true,
    describe: "Unconfirm a confirmed user's email, confirm an unconfirmed one (Pleroma)",
    load: () => (require('./toggle_confirmed') as typeof import('./toggle_confirmed')).default,
  },
  { command: 'untag <user> <tags..>', describe: 'Remove tags from a user', load: () => (require('./untag') as typeof import('./untag')).default },
];
