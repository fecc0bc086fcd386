import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { CTL, ctlEnv } from './cli';
import type { TestDatabase } from './backend';

/** A free TCP port on 127.0.0.1 (for a server whose URL must be known before it starts). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A child process that printed a line matching `ready`, with what it said and a way to stop it. */
export interface Started {
  readonly child: ChildProcessWithoutNullStreams;
  readonly match: RegExpExecArray;
  output(): string;
  stop(): Promise<void>;
}

export function startProcess(args: readonly string[], env: NodeJS.ProcessEnv, ready: RegExp, stream: 'stdout' | 'stderr'): Promise<Started> {
  const child = spawn(process.execPath, args, { env });
  let out = '';
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await closed;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start: ${out}`)), 20000);
    const onData = (d: Buffer) => {
      out += d.toString();
      // Only the watched stream can say it is ready; the other is kept for error messages.
      const match = ready.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ child, match, output: () => out, stop });
      }
    };
    child[stream].on('data', onData);
    child[stream === 'stdout' ? 'stderr' : 'stdout'].on('data', (d: Buffer) => (out += d.toString()));
    void closed.then(() => reject(new Error(`${args.join(' ')} exited: ${out}`)));
  });
}

/** The OpenID provider of test/helpers/oidc-provider.mjs, for one relying party's redirect URI. */
export async function startOidcProvider(clientId: string, clientSecret: string, redirectUri: string): Promise<Started & { readonly issuer: string }> {
  const started = await startProcess(
    [path.join(__dirname, 'oidc-provider.mjs'), clientId, clientSecret, redirectUri],
    { PATH: process.env.PATH },
    /^ready (\S+)$/m,
    'stdout',
  );
  return { ...started, issuer: started.match[1] };
}

/** The real `bin/ctl serve` on a given port, with APP_URL naming it. */
export async function startCtlServe(tdb: TestDatabase, port: number, env: Record<string, string>): Promise<Started & { readonly base: string }> {
  const base = `http://127.0.0.1:${port}`;
  const started = await startProcess(
    [CTL, 'serve', '--port', String(port)],
    ctlEnv(tdb, { APP_URL: base, ...env }),
    /^Listening on http:\/\/127\.0\.0\.1:\d+ /m,
    'stderr',
  );
  return { ...started, base };
}

/** A browser's cookies, by name (every server here is 127.0.0.1; paths are not enforced). */
export class CookieJar {
  private readonly cookies = new Map<string, string>();

  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  keep(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const gone = value === '' || attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (gone) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  get(name: string): string | undefined {
    return this.cookies.get(name);
  }

  set(name: string, value: string): void {
    this.cookies.set(name, value);
  }
}

/** One request as a browser makes it, without following redirects (`headers`: e.g. the X-Forwarded-For a proxy adds). */
export async function browse(jar: CookieJar, url: string, headers: Record<string, string> = {}): Promise<Response> {
  const res = await fetch(url, { redirect: 'manual', headers: { ...headers, cookie: jar.header() } });
  jar.keep(res);
  return res;
}
