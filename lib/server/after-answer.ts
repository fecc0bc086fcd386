import type { FastifyReply } from 'fastify';

/**
 * Work a route does after its answer has gone out: what would make the answer slower for some
 * requests than for others when their answers must not differ (a password reset or a new
 * confirmation link for an address that has an account: its look-up, link and mail). The server
 * keeps track of it: closing waits for what is under way, as for a request (a mail's wait is
 * bounded by the SMTP timeouts, lib/mail/mailer.ts), and a failure is a log line, never an
 * unhandled rejection.
 */
export class AfterAnswer {
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly log: (line: string) => void) {}

  /**
   * Runs `work` once `reply` has been sent (or the client has gone): nothing of it runs before
   * then. `what` names it in the log line of a failure (the route pattern, never the URL).
   */
  start(reply: FastifyReply, what: string, work: () => Promise<void>): void {
    const res = reply.raw;
    const sent = res.writableFinished || res.destroyed ? Promise.resolve() : new Promise<void>((resolve) => res.once('close', () => resolve()));
    const task: Promise<void> = sent
      .then(work)
      .catch((error: unknown) => {
        const e = error as { stack?: string; message?: string };
        this.log(`internal error after answering ${what}: ${e?.stack ?? e?.message ?? String(error)}`);
      })
      .finally(() => this.running.delete(task));
    this.running.add(task);
  }

  /** Resolves once no such work is under way (also work started while it waited). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running);
  }
}
