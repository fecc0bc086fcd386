import type { VerbModule } from '../runner/verb';
import { batchSizeOption } from '../shared/bulk-options';
import { runBulkConfirm } from '../shared/confirm-all-flow';

const verb: VerbModule = {
  builder: (y) =>
    batchSizeOption(y)
      .example('$0 user unconfirm_all --dry-run', 'How many users would be unconfirmed')
      .example('$0 user unconfirm_all -y --reason "email provider changed"', 'Unconfirm every regular user, recording why'),
  run: (argv, ctx) => runBulkConfirm('unconfirm_all', argv, ctx),
};

export default verb;
