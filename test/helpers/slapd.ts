import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'ldapts';

/**
 * A real OpenLDAP server (Debian's slapd) for one test file: a throwaway slapd.conf and mdb
 * directory in a temp dir, loaded with `slapadd`, listening on a free loopback port, stopped and
 * deleted after the file. `allow bind_anon_cred` makes it accept a DN with an empty password as
 * an anonymous bind, as some directories do, so the empty-password test shows the defence is ours.
 */
export interface Slapd {
  readonly url: string;
  /** With `tls`: the ldaps:// listener, and the CA (PEM file) that signed the server's certificate. */
  readonly ldapsUrl: string | null;
  readonly caFile: string | null;
  /** With `tls`: another CA (PEM file), which signed nothing this server shows. */
  readonly strangerCaFile: string | null;
  readonly rootDn: string;
  readonly rootPassword: string;
  /** The CTL_LDAP_* settings that point the app at this server. */
  readonly env: Record<string, string>;
  /** Runs fn bound as the directory's root (to change entries mid-test). */
  asRoot<T>(fn: (client: Client) => Promise<T>): Promise<T>;
  stop(): Promise<void>;
}

export const BASE = 'dc=example,dc=org';
export const ADMINS = `cn=admins,ou=groups,${BASE}`;
export const dnOf = (uid: string) => `uid=${uid},ou=people,${BASE}`;

/** People in the directory: uid, password, mail, given name, surname, in the admin group. */
export const PEOPLE = [
  { uid: 'alice', password: 'alice-pass', mail: 'alice@example.org', givenName: 'Alice', sn: 'Liddell', admin: true },
  { uid: 'bob', password: 'bob-pass', mail: 'bob@example.org', givenName: 'Bob', sn: 'Builder', admin: false },
  { uid: 'carol', password: 'carol-pass', mail: 'carol@example.org', givenName: 'Carol', sn: 'Danvers', admin: false },
] as const;

const SLAPD = '/usr/sbin/slapd';
const SLAPADD = '/usr/sbin/slapadd';
const SCHEMA = '/etc/ldap/schema';

function ldif(): string {
  const people = PEOPLE.map(
    (p) => `dn: ${dnOf(p.uid)}
objectClass: inetOrgPerson
uid: ${p.uid}
cn: ${p.givenName}
givenName: ${p.givenName}
sn: ${p.sn}
mail: ${p.mail}
employeeType: ${p.admin ? 'admin' : 'staff'}
userPassword: ${p.password}
`,
  );
  return [
    `dn: ${BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n`,
    `dn: ou=people,${BASE}\nobjectClass: organizationalUnit\nou: people\n`,
    `dn: ou=groups,${BASE}\nobjectClass: organizationalUnit\nou: groups\n`,
    ...people,
    `dn: ${ADMINS}\nobjectClass: groupOfNames\ncn: admins\n${PEOPLE.filter((p) => p.admin)
      .map((p) => `member: ${dnOf(p.uid)}`)
      .join('\n')}\n`,
  ].join('\n');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`slapd exited with ${child.exitCode}: ${stderr()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`slapd did not listen on ${port} within 10 s: ${stderr()}`);
}

/**
 * A CA and a server certificate for 127.0.0.1 signed by it (openssl), for StartTLS and LDAPS. The
 * certificate names only 127.0.0.1, not localhost: Node checks a name-less StartTLS against
 * "localhost", which this certificate fails.
 */
function makeCertificates(dir: string): { ca: string; cert: string; key: string; stranger: string } {
  const run = (args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };
  fs.writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=test-ldap-ca']);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext']);
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'stranger.key', '-out', 'stranger.pem', '-days', '2', '-subj', '/CN=stranger-ca']);
  return { ca: path.join(dir, 'ca.pem'), cert: path.join(dir, 'server.pem'), key: path.join(dir, 'server.key'), stranger: path.join(dir, 'stranger.pem') };
}

export async function startSlapd(opts: { readonly tls?: boolean } = {}): Promise<Slapd> {
  if (!fs.existsSync(SLAPD)) throw new Error(`${SLAPD} is missing: install Debian's slapd and ldap-utils (.ci/run does)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-slapd-'));
  const data = path.join(dir, 'data');
  fs.mkdirSync(data);
  const rootDn = `cn=admin,${BASE}`;
  const rootPassword = 'root-secret';
  const conf = path.join(dir, 'slapd.conf');
  const certs = opts.tls ? makeCertificates(dir) : null;
  const tlsConf = certs ? `TLSCACertificateFile ${certs.ca}\nTLSCertificateFile ${certs.cert}\nTLSCertificateKeyFile ${certs.key}\n` : '';
  fs.writeFileSync(
    conf,
    `${tlsConf}include ${SCHEMA}/core.schema
include ${SCHEMA}/cosine.schema
include ${SCHEMA}/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile ${dir}/slapd.pid
allow bind_anon_cred
database mdb
maxsize 16777216
suffix "${BASE}"
rootdn "${rootDn}"
rootpw ${rootPassword}
directory ${data}
access to attrs=userPassword by anonymous auth by self write by * none
access to * by * read
`,
  );
  fs.writeFileSync(path.join(dir, 'data.ldif'), ldif());
  const add = spawnSync(SLAPADD, ['-f', conf, '-l', path.join(dir, 'data.ldif')], { encoding: 'utf8' });
  if (add.status !== 0) throw new Error(`slapadd failed: ${add.stderr}`);
  const port = await freePort();
  const url = `ldap://127.0.0.1:${port}`;
  const tlsPort = certs ? await freePort() : null;
  const ldapsUrl = tlsPort ? `ldaps://127.0.0.1:${tlsPort}` : null;
  // -d 0: stay in the foreground, so the child is slapd itself and stopping it is one signal.
  const child = spawn(SLAPD, ['-d', '0', '-h', [`${url}/`, ...(ldapsUrl ? [`${ldapsUrl}/`] : [])].join(' '), '-f', conf], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  await waitForPort(port, child, () => stderr);
  if (tlsPort) await waitForPort(tlsPort, child, () => stderr);
  const slapd: Slapd = {
    url,
    ldapsUrl,
    caFile: certs?.ca ?? null,
    strangerCaFile: certs?.stranger ?? null,
    rootDn,
    rootPassword,
    env: {
      CTL_LDAP_URL: url,
      CTL_LDAP_BIND_DN: rootDn,
      CTL_LDAP_BIND_PASSWORD: rootPassword,
      CTL_LDAP_SEARCH_BASE: `ou=people,${BASE}`,
      CTL_LDAP_SEARCH_FILTER: '(uid={{username}})',
      CTL_LDAP_NAME_ATTRIBUTE: 'givenName',
      CTL_LDAP_LAST_NAME_ATTRIBUTE: 'sn',
      CTL_LDAP_ADMIN_GROUP_DN: ADMINS,
    },
    async asRoot(fn) {
      const client = new Client({ url, timeout: 5000 });
      try {
        await client.bind(rootDn, rootPassword);
        return await fn(client);
      } finally {
        await client.unbind();
      }
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 5000)))]);
        clearTimeout(timer);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return slapd;
}

/** A file's slapd: started before its tests, stopped after them. */
export function useSlapd(use: (slapd: Slapd) => void, opts: { readonly tls?: boolean } = {}): void {
  let slapd: Slapd | undefined;
  beforeAll(async () => {
    slapd = await startSlapd(opts);
    use(slapd);
  }, 30000);
  afterAll(() => slapd?.stop());
}

/** A TCP relay in front of an LDAP listener that keeps every byte the client sent, to show what crossed the wire in clear. */
export interface WireTap {
  /** The ldap:// URL of the relay, on 127.0.0.1. */
  readonly url: string;
  /** Everything the clients sent so far, as it travelled. */
  readonly sent: () => Buffer;
  readonly close: () => Promise<void>;
}

export async function wireTap(target: string): Promise<WireTap> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<net.Socket>();
  const chunks: Buffer[] = [];
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port), hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      upstream.write(chunk);
    });
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `ldap://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    sent: () => Buffer.concat(chunks),
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
