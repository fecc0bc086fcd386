import type { Kysely, KyselyPlugin } from 'kysely';
import type { Database } from '../../lib/db/schema';

/**
 * The same database with a counter of the statements sent through it, to prove that bulk verbs
 * send a number of statements that grows with batches, not with users.
 */
export function countQueries(db: Kysely<Database>): { db: Kysely<Database>; count: () => number; reset: () => void; kinds: () => string[] } {
  const kinds: string[] = [];
  const plugin: KyselyPlugin = {
    transformQuery(args) {
      kinds.push(args.node.kind);
      return args.node;
    },
    transformResult: async (args) => args.result,
  };
  return { db: db.withPlugin(plugin), count: () => kinds.length, reset: () => void kinds.splice(0), kinds: () => [...kinds] };
}
