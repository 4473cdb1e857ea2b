// A Key Vault (or Managed HSM) test peer on loopback, speaking the Key Vault keys REST API that
// @azure/keyvault-keys uses, with challenge authentication and a Microsoft Entra ID style token endpoint
// (client secret and federated client assertion, as workload identity sends), over TLS with a certificate made
// for the run. Keys are real: generated, signed with and verified by node:crypto (./keys.ts).
//
// Why a peer of our own: lowkey-vault, the Key Vault test double the issue names, is not served by the Maven
// registry these machines reach, and no other Key Vault emulator is packaged on a registry they reach.
//
// Fault injection: `fail(n, status, retryAfterSeconds)` answers the next n vault requests with that status and a
// Retry-After header, as Key Vault's throttling does.

import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type IncomingMessage, type ServerResponse } from 'node:http';
import { type Server, createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates, setDefaultCACertificates } from 'node:tls';
import { recordTestSecret } from '../test-secrets.ts';
import {
  type CreateParameters,
  KeyStore,
  type PeerKind,
  PeerError,
  type StoredKey,
  type StoredVersion,
} from './keys.ts';

export interface KeyVaultPeerOptions {
  readonly kind?: PeerKind;
  readonly retentionDays?: number;
  readonly purgeProtection?: boolean;
  readonly downgradeHsmKeys?: boolean;
}

export interface KeyVaultPeer {
  readonly vaultUrl: string;
  /** Base URL of the token endpoint (AZURE_AUTHORITY_HOST). */
  readonly authorityHost: string;
  readonly tenantId: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** The federated token workload identity presents (AZURE_FEDERATED_TOKEN_FILE holds it). */
  readonly federatedToken: string;
  readonly store: KeyStore;
  /** Vault requests (keys and deleted keys) received, each attempt counted, and when each arrived. */
  readonly requests: readonly { readonly method: string; readonly path: string; readonly at: number }[];
  /** Answers the next `count` vault requests with `status` and, when given, Retry-After in seconds. */
  fail(count: number, status: number, retryAfterSeconds?: number): void;
  /** Moves the peer's clock (soft-delete retention and purge dates) forward. */
  advance(ms: number): void;
  stop(): Promise<void>;
}

const RESOURCE: Readonly<Record<PeerKind, string>> = {
  vault: 'https://vault.azure.net',
  managedHsm: 'https://managedhsm.azure.net',
};

/** A self-signed certificate for 127.0.0.1, trusted by this process's TLS clients from here on. */
function certificate(): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'keyvault-peer-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=keyvault-peer',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return {
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function body(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function send(
  response: ServerResponse,
  status: number,
  value?: unknown,
  headers: Record<string, string> = {},
): void {
  const text = value === undefined ? '' : JSON.stringify(value);
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  response.end(text);
}

const seconds = (ms: number): number => Math.floor(ms / 1000);

export async function startKeyVaultPeer(options: KeyVaultPeerOptions = {}): Promise<KeyVaultPeer> {
  const kind = options.kind ?? 'managedHsm';
  const resource = RESOURCE[kind];
  let offset = 0;
  const now = (): number => Date.now() + offset;
  const store = new KeyStore({
    kind,
    retentionDays: options.retentionDays ?? 7,
    purgeProtection: options.purgeProtection ?? false,
    downgradeHsmKeys: options.downgradeHsmKeys ?? false,
    now,
  });
  const tenantId = randomUUID();
  const clientId = randomUUID();
  const clientSecret = randomBytes(24).toString('base64url');
  recordTestSecret(clientSecret, 'Key Vault peer client secret');
  const federatedToken = `eyJ.${randomBytes(24).toString('base64url')}.sig`;
  const tokens = new Map<string, string>(); // access token -> audience
  const requests: { method: string; path: string; at: number }[] = [];
  let faults: { count: number; status: number; retryAfter?: number } | undefined;
  let base = '';

  const recoveryLevel = (): string =>
    `${store.options.retentionDays < 90 ? 'Customized' : ''}Recoverable${store.options.purgeProtection ? '' : '+Purgeable'}`;

  const attributes = (v: StoredVersion): Record<string, unknown> => ({
    enabled: v.enabled,
    created: seconds(v.created),
    updated: seconds(v.updated),
    recoverableDays: store.options.retentionDays,
    recoveryLevel: recoveryLevel(),
    exportable: false,
  });

  const kid = (name: string, v?: StoredVersion): string => `${base}/keys/${name}${v ? `/${v.version}` : ''}`;

  const bundle = (key: StoredKey, v: StoredVersion): Record<string, unknown> => ({
    key: {
      kid: kid(key.name, v),
      kty: v.kty,
      key_ops: v.keyOps,
      ...(v.publicJwk
        ? { n: v.publicJwk.n, e: v.publicJwk.e, crv: v.publicJwk.crv, x: v.publicJwk.x, y: v.publicJwk.y }
        : {}),
    },
    attributes: attributes(v),
    tags: v.tags,
  });

  const deletedFields = (key: StoredKey): Record<string, unknown> => ({
    recoveryId: `${base}/deletedkeys/${key.name}`,
    deletedDate: seconds(key.deleted?.deletedDate ?? 0),
    scheduledPurgeDate: seconds(key.deleted?.scheduledPurgeDate ?? 0),
  });

  const latest = (key: StoredKey): StoredVersion => key.versions.at(-1)!;

  /** Key Vault pages lists; a small page size makes the SDK follow nextLink in tests too. */
  const page = <T>(items: readonly T[], url: URL, map: (item: T) => unknown): unknown => {
    const skip = Number(url.searchParams.get('$skiptoken') ?? '0');
    const size = Math.min(Number(url.searchParams.get('maxresults') ?? '5'), 25);
    const next = new URL(url.href);
    next.searchParams.set('$skiptoken', String(skip + size));
    return {
      value: items.slice(skip, skip + size).map(map),
      nextLink: skip + size < items.length ? `${base}${next.pathname}${next.search}` : null,
    };
  };

  const vault = (
    method: string,
    parts: string[],
    url: URL,
    json: Record<string, unknown>,
  ): [number, unknown] => {
    const [collection, name, third, fourth] = parts;
    if (collection === 'keys' && name === undefined && method === 'GET') {
      return [
        200,
        page(store.active(), url, (k) => ({
          kid: kid(k.name),
          attributes: attributes(latest(k)),
          tags: latest(k).tags,
        })),
      ];
    }
    if (collection === 'deletedkeys' && name === undefined && method === 'GET') {
      return [
        200,
        page(store.deleted(), url, (k) => ({
          kid: kid(k.name),
          attributes: attributes(latest(k)),
          tags: latest(k).tags,
          ...deletedFields(k),
        })),
      ];
    }
    if (name === undefined) throw new PeerError(404, 'NotFound', `no route ${method} ${url.pathname}`);
    if (collection === 'deletedkeys') {
      if (method === 'GET' && third === undefined) {
        const key = store.deletedKey(name);
        return [200, { ...bundle(key, latest(key)), ...deletedFields(key) }];
      }
      if (method === 'DELETE' && third === undefined) {
        store.purge(name);
        return [204, undefined];
      }
      if (method === 'POST' && third === 'recover') {
        const key = store.recover(name);
        return [200, bundle(key, latest(key))];
      }
    }
    if (collection === 'keys') {
      if (method === 'POST' && third === 'create') {
        store.create(name, json as unknown as CreateParameters);
        const key = store.key(name);
        return [200, bundle(key, latest(key))];
      }
      if (method === 'POST' && third === 'rotate') {
        const v = store.rotate(name);
        return [200, bundle(store.key(name), v)];
      }
      if (method === 'DELETE' && third === undefined) {
        const key = store.delete(name);
        return [200, { ...bundle(key, latest(key)), ...deletedFields(key) }];
      }
      if (method === 'GET' && third === 'versions') {
        const key = store.key(name);
        return [
          200,
          page(key.versions, url, (v) => ({ kid: kid(name, v), attributes: attributes(v), tags: v.tags })),
        ];
      }
      const version = third === '' ? undefined : third;
      if (method === 'GET' && fourth === undefined) {
        const v = store.version(name, version);
        if (!v.enabled)
          throw new PeerError(
            403,
            'Forbidden',
            'Operation get is not allowed on a disabled key.',
            'KeyDisabled',
          );
        return [200, bundle(store.key(name), v)];
      }
      if (method === 'PATCH' && fourth === undefined) {
        const v = store.update(name, version, json);
        return [200, bundle(store.key(name), v)];
      }
      if (method === 'POST' && version && (fourth === 'sign' || fourth === 'verify')) {
        const alg = String(json.alg);
        if (fourth === 'sign') {
          const signature = store.sign(name, version, alg, Buffer.from(String(json.value), 'base64url'));
          return [
            200,
            { kid: kid(name, store.version(name, version)), value: signature.toString('base64url') },
          ];
        }
        const valid = store.verify(
          name,
          version,
          alg,
          Buffer.from(String(json.digest), 'base64url'),
          Buffer.from(String(json.value), 'base64url'),
        );
        return [200, { value: valid }];
      }
    }
    throw new PeerError(404, 'NotFound', `no route ${method} ${url.pathname}`);
  };

  const token = (tenant: string, form: URLSearchParams): [number, unknown] => {
    const client = form.get('client_id');
    const proof =
      form.get('client_secret') === clientSecret ||
      (form.get('client_assertion_type') === 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' &&
        form.get('client_assertion') === federatedToken);
    if (tenant !== tenantId)
      return [
        400,
        { error: 'invalid_request', error_description: `AADSTS90002: Tenant '${tenant}' not found.` },
      ];
    if (client !== clientId || !proof) {
      return [
        401,
        { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' },
      ];
    }
    const scope = form.get('scope') ?? '';
    const access = randomBytes(32).toString('base64url');
    tokens.set(access, scope.replace(/\/\.default$/, '').replace(/\/$/, ''));
    return [200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: access }];
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', base);
    const method = request.method ?? 'GET';
    const text = await body(request);
    const parts = url.pathname.split('/').slice(1);
    if (parts[1] === 'v2.0' && parts[2] === '.well-known') {
      const authority = `${base}/${parts[0] ?? ''}`;
      send(response, 200, {
        token_endpoint: `${authority}/oauth2/v2.0/token`,
        authorization_endpoint: `${authority}/oauth2/v2.0/authorize`,
        end_session_endpoint: `${authority}/oauth2/v2.0/logout`,
        jwks_uri: `${authority}/discovery/v2.0/keys`,
        issuer: `${authority}/v2.0`,
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      });
      return;
    }
    if (parts[1] === 'oauth2' && method === 'POST') {
      const [status, value] = token(parts[0] ?? '', new URLSearchParams(text));
      send(response, status, value);
      return;
    }
    requests.push({ method, path: url.pathname, at: now() });
    if (faults && faults.count > 0) {
      faults.count -= 1;
      const headers: Record<string, string> =
        faults.retryAfter === undefined ? {} : { 'retry-after': String(faults.retryAfter) };
      send(
        response,
        faults.status,
        {
          error: {
            code: faults.status === 429 ? 'Throttled' : 'ServiceUnavailable',
            message: 'Request was not processed.',
          },
        },
        headers,
      );
      return;
    }
    const authorization = request.headers.authorization ?? '';
    const audience = tokens.get(authorization.replace(/^Bearer /, ''));
    if (audience === undefined) {
      send(
        response,
        401,
        { error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' } },
        {
          'www-authenticate': `Bearer authorization="${base}/${tenantId}", resource="${resource}"`,
        },
      );
      return;
    }
    if (audience !== resource) {
      send(response, 401, {
        error: {
          code: 'Unauthorized',
          message: `AKV10022: Invalid audience. Expected ${resource}, found: ${audience}.`,
        },
      });
      return;
    }
    try {
      const [status, value] = vault(
        method,
        parts,
        url,
        text ? (JSON.parse(text) as Record<string, unknown>) : {},
      );
      send(response, status, value);
    } catch (error) {
      if (!(error instanceof PeerError)) throw error;
      send(response, error.status, {
        error: {
          code: error.code,
          message: error.message,
          ...(error.inner ? { innererror: { code: error.inner } } : {}),
        },
      });
    }
  };

  const { cert, key } = certificate();
  setDefaultCACertificates([...rootCertificates, cert]);
  const server: Server = createServer({ cert, key }, (request, response) => {
    handle(request, response).catch((error: unknown) => {
      send(response, 500, { error: { code: 'InternalError', message: String(error) } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    vaultUrl: base,
    authorityHost: base,
    tenantId,
    clientId,
    clientSecret,
    federatedToken,
    store,
    requests,
    fail(count, status, retryAfterSeconds) {
      faults = {
        count,
        status,
        ...(retryAfterSeconds === undefined ? {} : { retryAfter: retryAfterSeconds }),
      };
    },
    advance(ms) {
      offset += ms;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    },
  };
}
