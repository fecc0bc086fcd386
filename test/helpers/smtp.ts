import { SMTPServer, type SMTPServerAddress } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import type { AddressInfo } from 'node:net';

/** One message as the SMTP server received it, parsed. */
export interface ReceivedMail {
  /** Envelope: who the client said it was from and to (what the server was asked to deliver). */
  readonly envelopeFrom: string;
  readonly envelopeTo: readonly string[];
  /** The authenticated user, when the server asked for credentials. */
  readonly user: string | null;
  readonly from: string;
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  /** Every http(s) URL in the text part, in order. */
  readonly textLinks: readonly string[];
  /** Every href in the HTML part, in order. */
  readonly htmlLinks: readonly string[];
  readonly parsed: ParsedMail;
}

export interface TestSmtpOptions {
  /** Ask for AUTH with exactly these credentials (plain connection: insecure auth allowed). */
  readonly auth?: { readonly user: string; readonly pass: string };
  /** Refuse RCPT TO for matching addresses with 550. */
  readonly rejectRecipients?: RegExp;
}

/** A message whose acceptance the server holds (see `TestSmtp.hold`). */
export interface HeldMail {
  /** Resolves once the message has been received whole and is being held (its DATA not yet answered). */
  readonly arrived: Promise<void>;
  /** Accepts the message: the server answers its DATA and it joins `messages`. */
  release(): void;
}

export interface TestSmtp {
  readonly port: number;
  /** `smtp://127.0.0.1:<port>` (no credentials in it). */
  readonly url: string;
  readonly messages: ReceivedMail[];
  /** Resolves once `count` messages have arrived (rejects after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  /**
   * Holds the acceptance of the next message until `release()`, as a slow mail server does: the
   * sender's SMTP client waits for the answer to its DATA all that time.
   */
  hold(): HeldMail;
  clear(): void;
  close(): Promise<void>;
}

function addressOf(a: SMTPServerAddress | false): string {
  return a ? a.address : '';
}

/**
 * A real SMTP server on 127.0.0.1 (smtp-server from npm) for one test file. STARTTLS is off, so
 * nodemailer talks plain SMTP to it as it would to a relay on localhost.
 */
export async function startSmtp(opts: TestSmtpOptions = {}): Promise<TestSmtp> {
  const messages: ReceivedMail[] = [];
  let waiters: Array<() => void> = [];
  let nextHold: { arrive: () => void; released: Promise<void> } | null = null;
  const server = new SMTPServer({
    logger: false,
    disabledCommands: opts.auth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    authOptional: !opts.auth,
    allowInsecureAuth: true,
    onAuth(auth, _session, callback) {
      if (opts.auth && auth.username === opts.auth.user && auth.password === opts.auth.pass) return callback(null, { user: auth.username });
      return callback(new Error('Invalid username or password'));
    },
    onRcptTo(address, _session, callback) {
      if (opts.rejectRecipients?.test(address.address)) {
        const error = new Error(`Mailbox ${address.address} unavailable`) as Error & { responseCode: number };
        error.responseCode = 550;
        return callback(error);
      }
      return callback();
    },
    onData(stream, session, callback) {
      const held = nextHold;
      nextHold = null;
      simpleParser(stream)
        .then(async (parsed) => {
          if (held) {
            held.arrive();
            await held.released;
          }
          const text = parsed.text ?? '';
          const html = typeof parsed.html === 'string' ? parsed.html : '';
          messages.push({
            envelopeFrom: addressOf(session.envelope.mailFrom),
            envelopeTo: session.envelope.rcptTo.map((r) => r.address),
            user: (session.user as string | undefined) ?? null,
            from: parsed.from?.text ?? '',
            to: Array.isArray(parsed.to) ? parsed.to.map((t) => t.text).join(', ') : (parsed.to?.text ?? ''),
            subject: parsed.subject ?? '',
            text,
            html,
            textLinks: text.match(/https?:\/\/[^\s<>"]+/g) ?? [],
            htmlLinks: [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1].replace(/&amp;/g, '&')),
            parsed,
          });
          const ready = waiters;
          waiters = [];
          ready.forEach((w) => w());
          callback();
        })
        .catch(callback);
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  server.on('error', () => undefined);
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages,
    async waitFor(count, timeoutMs = 10000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < count) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`expected ${count} mail(s), got ${messages.length}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return messages.slice(0, count);
    },
    hold() {
      let arrive!: () => void;
      let release!: () => void;
      const arrived = new Promise<void>((resolve) => (arrive = resolve));
      const released = new Promise<void>((resolve) => (release = resolve));
      nextHold = { arrive, released };
      return { arrived, release };
    },
    clear() {
      messages.length = 0;
      nextHold = null;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * A test file's SMTP server: started before the file's tests, emptied before each test (so
 * `waitFor(n)` counts only that test's mail), closed after. `use` receives it.
 */
export function useTestSmtp(use: (smtp: TestSmtp) => void, opts: TestSmtpOptions = {}): void {
  let smtp: TestSmtp | undefined;
  beforeAll(async () => {
    smtp = await startSmtp(opts);
    use(smtp);
  });
  afterAll(() => smtp?.close());
  beforeEach(() => smtp!.clear());
}

/** The token at the end of a link (`.../registration/<token>`). */
export function tokenOf(url: string): string {
  const match = /\/([A-Za-z0-9_-]{20,})\/?$/.exec(url);
  if (!match) throw new Error(`no token in ${url}`);
  return match[1];
}

/** A local TCP port with nothing listening (for "the mail server is down"). */
export async function closedPort(): Promise<number> {
  const net = await import('node:net');
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
