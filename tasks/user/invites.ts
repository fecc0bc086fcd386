import type { VerbModule } from '../runner/verb';
import type { InviteJson } from '../../lib/invites/invites';
import type { Column } from '../runner/formats';
import { writeRows } from '../runner/render';
import { INVITE_JSON_KEYS, listInvites } from '../../lib/invites/invites';
import { writePleromaInviteLines } from '../shared/pleroma-lines';

const dash = (v: unknown) => (v === null || v === undefined ? '-' : v);

const COLUMNS: readonly Column<InviteJson>[] = [
  { header: 'id', value: (i) => i.id },
  { header: 'token', value: (i) => `${i.tokenPrefix}…` },
  { header: 'type', value: (i) => i.type },
  { header: 'status', value: (i) => i.status },
  { header: 'used', value: (i) => (i.used ? 'yes' : 'no') },
  { header: 'expires at', value: (i) => dash(i.expiresAt) },
  { header: 'max use', value: (i) => dash(i.maxUse) },
  { header: 'uses left', value: (i) => i.usesLeft },
  { header: 'created', value: (i) => i.createdAt.toISOString().slice(0, 10) },
  { header: 'email', value: (i) => dash(i.email), flexible: true },
];

const verb: VerbModule = {
  builder: (y) =>
    y
      .option('all', { type: 'boolean', describe: 'Include used, expired and revoked invites' })
      .option('pleroma', { type: 'boolean', describe: "Pleroma's lines (Invites list: / ID: … | Token: …), for runbooks that grep them" })
      .conflicts('pleroma', ['format', 'json'])
      .example('$0 user invites', 'Invites that can still be used')
      .example('$0 user invites --all --json', 'Every invite, as JSON'),
  async run(argv, ctx) {
    const { db } = await ctx.db();
    const rows = await listInvites(db, { all: Boolean(argv.all), now: ctx.now() });
    if (argv.pleroma) return writePleromaInviteLines(ctx, rows);
    await writeRows(
      ctx,
      (async function* () {
        yield rows;
      })(),
      COLUMNS,
      (r) => r,
      INVITE_JSON_KEYS,
    );
  },
};

export default verb;
