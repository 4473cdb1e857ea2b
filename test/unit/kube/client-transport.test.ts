// KubeClient's transport against a real local HTTPS server (certificates made by openssl): what it presents,
// how it pools connections, what a timeout does to its socket, and how it reads a watch stream.
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import { KubeClient } from '../../../src/kube/client.ts';
import type { KubeClientOptions } from '../../../src/kube/client.ts';
import { kubeConfigFromObject } from '../../../src/kube/config.ts';
import { KubeApiError } from '../../../src/kube/errors.ts';
import { builtinResources } from '../../../src/kube/resource.ts';
import { eventually } from '../../support/eventually.ts';
import { OpenSsl } from '../../support/openssl.ts';

const configMaps = builtinResources.configMaps;
const b64 = (data: Buffer): string => data.toString('base64');

describe('KubeClient over node:https', () => {
  const openssl = new OpenSsl();
  let server: Server;
  let serverCert: Buffer;
  let clientCert: Buffer;
  let clientKey: Buffer;
  let url: string;
  /** TLS connections the server accepted, and how many of them have closed. */
  const connections = { accepted: 0, closed: 0 };

  const handlers: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
    '/whoami': (req, res) => {
      const socket: unknown = req.socket;
      const peer = (socket as TLSSocket).getPeerCertificate();
      json(res, 200, { fingerprint: peer.fingerprint256, authorization: req.headers.authorization ?? null });
    },
    '/hang': () => {
      // Never answers.
    },
    '/api/v1/namespaces/ns/configmaps/a': (req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        json(res, 200, {
          metadata: { name: 'a' },
          data: { contentType: req.headers['content-type'] ?? '', body, query: req.url ?? '' },
        });
      });
    },
    '/api/v1/namespaces/ns/configmaps/missing': (_req, res) => {
      json(res, 404, { kind: 'Status', reason: 'NotFound', message: 'configmaps "missing" not found' });
    },
    '/api/v1/namespaces/ns/configmaps': (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const name = Buffer.from('bü');
      // An event split across chunks, and a chunk boundary inside a UTF-8 character.
      const chunks = [
        Buffer.from('{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n{"type":"MODI'),
        Buffer.concat([Buffer.from('FIED","object":{"metadata":{"name":"'), name.subarray(0, 2)]),
        Buffer.concat([name.subarray(2), Buffer.from('"}}}\n\n')]),
      ];
      const stayOpen = new URL(req.url ?? '/', 'https://x').searchParams.has('labelSelector');
      const next = (): void => {
        const chunk = chunks.shift();
        if (chunk) {
          res.write(chunk);
          setTimeout(next, 30);
        } else if (!stayOpen) res.end();
      };
      next();
    },
  };

  before(() => {
    for (const name of ['server', 'client']) {
      openssl.run([
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
        '-keyout', `${name}.key`, '-out', `${name}.pem`, '-subj', `/CN=keyward-test-${name}`,
        ...(name === 'server' ? ['-addext', 'subjectAltName=IP:127.0.0.1'] : []),
      ]); // prettier-ignore
    }
    serverCert = openssl.read('server.pem');
    clientCert = openssl.read('client.pem');
    clientKey = openssl.read('client.key');
    server = createServer({
      key: openssl.read('server.key'),
      cert: serverCert,
      requestCert: true,
      rejectUnauthorized: false,
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const handler = handlers[new URL(req.url ?? '/', 'https://x').pathname];
      if (handler) handler(req, res);
      else json(res, 500, { message: 'no such route' });
    });
    server.on('secureConnection', (socket: TLSSocket) => {
      connections.accepted += 1;
      socket.once('close', () => (connections.closed += 1));
    });
    return new Promise<void>((resolve) => {
      server.listen(0, '127.0.0.1', () => {
        url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
        resolve();
      });
    });
  });

  after(() => {
    server.closeAllConnections();
    server.close();
    openssl.remove();
  });

  const client = (user: Record<string, unknown>, options: KubeClientOptions = {}): KubeClient =>
    new KubeClient(
      kubeConfigFromObject({
        clusters: [{ name: 'c', cluster: { server: url, 'certificate-authority-data': b64(serverCert) } }],
        users: [{ name: 'u', user }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
      options,
    );
  const withCertificate = (): Record<string, string> => ({
    'client-certificate-data': b64(clientCert),
    'client-key-data': b64(clientKey),
  });

  it('presents the client certificate, trusts the cluster CA, and pools connections', async () => {
    const before = connections.accepted;
    const kube = client(withCertificate());
    for (let i = 0; i < 3; i++) {
      const seen = await kube.request<{ fingerprint: string; authorization: null }>('GET', '/whoami');
      assert.equal(seen.fingerprint, new X509Certificate(clientCert).fingerprint256);
      assert.equal(seen.authorization, null);
    }
    assert.equal(connections.accepted - before, 1, 'three requests, one connection');
  });

  it('sends the bearer token, patch content types and JSON bodies; reads a Status as a KubeApiError', async () => {
    const answered: [string, number | undefined][] = [];
    const kube = client(
      { token: 'the-bearer-token' },
      { onResponse: (method, code) => answered.push([method, code]) },
    );
    const seen = await kube.request<{ authorization: string }>('GET', '/whoami');
    assert.equal(seen.authorization, 'Bearer the-bearer-token');

    const patched = await kube.patch<{ metadata: { name: string }; data: Record<string, string> }>(
      configMaps,
      'a',
      'ns',
      'merge',
      { data: { k: 'v' } },
    );
    assert.deepEqual(patched.data, {
      contentType: 'application/merge-patch+json',
      body: '{"data":{"k":"v"}}',
      query: '/api/v1/namespaces/ns/configmaps/a?fieldManager=keyward',
    });
    await assert.rejects(
      kube.get(configMaps, 'missing', 'ns'),
      (err: unknown) =>
        err instanceof KubeApiError &&
        err.statusCode === 404 &&
        err.reason === 'NotFound' &&
        err.message === 'GET /api/v1/namespaces/ns/configmaps/missing: configmaps "missing" not found',
    );
    assert.deepEqual(answered, [
      ['GET', 200],
      ['PATCH', 200],
      ['GET', 404],
    ]);
  });

  it('destroys the socket of a request that timed out, and the next request works', async () => {
    const answered: (number | undefined)[] = [];
    const kube = client(withCertificate(), {
      requestTimeoutMs: 300,
      onResponse: (_method, code) => answered.push(code),
    });
    await kube.request('GET', '/whoami');
    const { accepted, closed } = connections;
    await assert.rejects(kube.request('GET', '/hang'), { name: 'TimeoutError' });
    await eventually('the timed-out connection to close', () => connections.closed > closed);
    await kube.request('GET', '/whoami');
    assert.equal(connections.accepted, accepted + 1, 'a new connection for the request after the timeout');
    assert.deepEqual(answered, [200, undefined, 200]);

    const aborted = AbortSignal.abort(new Error('caller gave up'));
    await assert.rejects(kube.request('GET', '/whoami', { signal: aborted }), { message: 'caller gave up' });
  });

  it('reads watch events split across chunks, each watch on a connection it closes', async () => {
    const kube = client(withCertificate());
    await kube.request('GET', '/whoami'); // a pooled connection the watch must not use
    const { accepted, closed } = connections;
    const events: string[] = [];
    for await (const event of kube.watch(configMaps, { namespace: 'ns' }, new AbortController().signal)) {
      events.push(`${event.type} ${(event.object as { metadata: { name: string } }).metadata.name}`);
    }
    assert.deepEqual(events, ['ADDED a', 'MODIFIED bü']);
    assert.equal(connections.accepted, accepted + 1, 'a connection of its own');
    await eventually('the watch connection to close', () => connections.closed === closed + 1);

    // A watch that stays open: aborting it ends the stream with the abort's reason and closes its connection.
    const abort = new AbortController();
    const stream = kube.watch(configMaps, { namespace: 'ns', labelSelector: 'open' }, abort.signal);
    const first = await stream.next();
    assert.equal(first.done ? undefined : first.value.type, 'ADDED');
    abort.abort(new Error('informer stopped'));
    await assert.rejects(stream.next(), /informer stopped/);
    await eventually('the aborted watch connection to close', () => connections.closed === closed + 2);
  });
});

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
