import type { VerbModule } from '../runner/verb';
import { batchSizeOption } from '../shared/bulk-options';
import { runBulkConfirm } from '../shared/confirm-all-flow';

const verb: VerbModule = {
  builder: (y) =>
    batchSizeOption(y)
      .example('$0 user confirm_all', 'Count the unconfirmed regular users, ask, then confirm them')
      .example('$0 user confirm_all -y --quiet --batch-size 2000', 'From cron: no question, no progress'),
  run: (argv, ctx) => runBulkConfirm('confirm_all', argv, ctx),
};

export default verb;
