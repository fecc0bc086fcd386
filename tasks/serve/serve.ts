import type { VerbModule } from '../runner/verb';
import { InterruptedError, UsageError, UnavailableError } from '../../lib/errors';
import { ServerDatabase } from '../../lib/server/database';
import { buildServer } from '../../lib/server/app';
import { createMailer } from '../../lib/mail/mailer';

/**
 * Connections `ctl serve` keeps to a PostgreSQL server: enough for requests to overlap while
 * password checks run on the hash pool; three instances still use 30 of the server's default 100.
 * When all are busy for 5 s a request is answered 503 with Retry-After.
 */
const SERVE_POOL_SIZE = 10;

/**
 * `ctl serve`: the app side. Runs until SIGTERM (exit 0) or Ctrl-C (exit 130), finishing the
 * requests under way. One line per request on stderr (route patterns only: links carry tokens),
 * none with -q.
 */
const verb: VerbModule = {
  builder: (y) =>
    y
      .option('port', { type: 'number', describe: 'Port to listen on (default $CTL_SERVE_PORT, else 3080; 0 picks a free one)' })
      .option('host', { type: 'string', describe: 'Address to listen on (default $CTL_SERVE_HOST, else 127.0.0.1)' })
      .check((argv) => {
        if (argv.port !== undefined && (!Number.isInteger(argv.port) || argv.port < 0 || argv.port > 65535)) {
          throw new UsageError(`--port must be a whole number from 0 to 65535, got ${JSON.stringify(argv.port)}`);
        }
        return true;
      })
      .example('$0 serve', 'Serve the API and the link pages on http://127.0.0.1:3080')
      .example('$0 serve --host 0.0.0.0 --port 8080', 'Listen on every interface, port 8080'),
  async run(argv, ctx) {
    const { config } = ctx;
    const port = (argv.port as number | undefined) ?? config.serve.port;
    const host = (argv.host as string | undefined) ?? config.serve.host;
    if (host.trim() === '') throw new UsageError('--host must not be empty');

    const open = () => ctx.open('auto', SERVE_POOL_SIZE, true);
    // Fail now, not on the first request, when the database is unreachable or not migrated (exit 6).
    const first = await open();
    const embedded = first.backend === 'pglite';
    await first.close();
    // The embedded database allows one process at a time: let go of it after a second without
    // requests, so `ctl user ...` can run while the server is up.
    const database = new ServerDatabase(open, embedded ? 1000 : null);
    const mailer = createMailer(config);
    const app = buildServer({ database, config, now: ctx.now, mailer, log: (line) => ctx.warn(line) });

    let address: string;
    try {
      address = await app.listen({ port, host });
    } catch (error) {
      await database.close();
      throw new UnavailableError(`cannot listen on ${host}:${port}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    ctx.warn(`Listening on ${address} (database: ${embedded ? `embedded, ${config.dataDir}` : first.where})`);
    // For a supervisor reading a data format; people have the line above on stderr.
    ctx.result({ listening: address }, []);

    const stoppedBy = await new Promise<'SIGTERM' | 'SIGINT'>((resolve) => {
      const onTerm = () => resolve('SIGTERM');
      process.once('SIGTERM', onTerm);
      if (ctx.signal.aborted) resolve('SIGINT');
      ctx.signal.addEventListener('abort', () => {
        process.removeListener('SIGTERM', onTerm);
        resolve('SIGINT');
      });
    });
    ctx.warn(`Stopping (${stoppedBy}): finishing the requests under way`);
    await app.close();
    await database.close();
    mailer?.close();
    if (stoppedBy === 'SIGINT') throw new InterruptedError('interrupted');
  },
};

export default verb;
