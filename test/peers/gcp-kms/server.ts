// A Cloud KMS peer: a gRPC server for google.cloud.kms.v1.KeyManagementService on the .proto files that ship with
// @google-cloud/kms, so the real client talks to it over the real wire protocol (insecure channel on loopback).
// Faults are injected per method: a status code before the call runs, or after it ran (the response is lost but the
// change is made), a RetryInfo delay, a response that never comes, or a corrupted payload with its old checksum.
//
// Not modelled: IAM (every caller may do everything), import jobs, Cloud EKM, rotation schedules, key access
// justifications, pagination (one page), list filters, attestations (a real one is signed by the HSM vendor), ML-KEM,
// RSA-PSS and raw encryption algorithms, secp256k1 and RSA 4096 with SHA-512.

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';
import { protobuf } from 'google-gax';
import { type Handler, kmsService } from './service.ts';
import { KmsError, KmsState } from './state.ts';

const require = createRequire(import.meta.url);
const KMS_PROTOS = join(dirname(require.resolve('@google-cloud/kms')), '../protos');
const COMMON_PROTOS = join(dirname(require.resolve('google-gax')), '../protos');

export interface Fault {
  /** The status to fail with. */
  readonly code?: grpc.status;
  readonly message?: string;
  /** Run the call first and fail afterwards, as when a response is lost on the way back. */
  readonly afterCommit?: boolean;
  /** A google.rpc.RetryInfo detail asking the client to wait this long. */
  readonly retryDelayMs?: number;
  /** Run the call and never answer (until the peer stops). */
  readonly hang?: boolean;
  /** Answer with one byte of the payload field flipped, keeping the checksum of the true payload. */
  readonly corrupt?: string;
  /** How many calls the fault applies to. */
  readonly times?: number;
}

export interface PeerOptions {
  /** How long new Cloud HSM and asymmetric versions stay PENDING_GENERATION. */
  pendingGenerationMs?: number;
}

function statusDetails(code: grpc.status, message: string, retryDelayMs: number): Buffer {
  const root = protobuf.loadSync(
    ['google/rpc/status.proto', 'google/rpc/error_details.proto'].map((file) => join(COMMON_PROTOS, file)),
  );
  const RetryInfo = root.lookupType('google.rpc.RetryInfo');
  const Status = root.lookupType('google.rpc.Status');
  const retryInfo = RetryInfo.encode(
    RetryInfo.fromObject({
      retryDelay: { seconds: Math.floor(retryDelayMs / 1000), nanos: (retryDelayMs % 1000) * 1e6 },
    }),
  ).finish();
  return Buffer.from(
    Status.encode(
      Status.fromObject({
        code,
        message,
        details: [{ type_url: 'type.googleapis.com/google.rpc.RetryInfo', value: retryInfo }],
      }),
    ).finish(),
  );
}

function serviceError(code: grpc.status, message: string, retryDelayMs?: number): Partial<grpc.ServiceError> {
  const metadata = new grpc.Metadata();
  if (retryDelayMs !== undefined)
    metadata.set('grpc-status-details-bin', statusDetails(code, message, retryDelayMs));
  return { code, details: message, metadata };
}

export class GcpKmsPeer {
  readonly state: KmsState;
  /** Calls received, by method name (AsymmetricSign, CreateCryptoKeyVersion...), faulted ones included. */
  readonly calls = new Map<string, number>();
  pendingGenerationMs: number;
  #clockOffsetMs = 0;
  readonly #faults = new Map<string, Fault[]>();
  readonly #server = new grpc.Server();
  readonly #hung: (() => void)[] = [];
  readonly #arrivals = new Map<string, (() => void)[]>();
  #port = 0;

  constructor(options: PeerOptions = {}) {
    this.pendingGenerationMs = options.pendingGenerationMs ?? 0;
    this.state = new KmsState({
      now: () => Date.now() + this.#clockOffsetMs,
      pendingGenerationMs: () => this.pendingGenerationMs,
    });
    const definition = loader.loadSync('google/cloud/kms/v1/service.proto', {
      includeDirs: [KMS_PROTOS, COMMON_PROTOS],
      longs: String,
      enums: String,
      defaults: false,
      oneofs: true,
    });
    const kms = (
      grpc.loadPackageDefinition(definition) as unknown as {
        google: { cloud: { kms: { v1: { KeyManagementService: { service: grpc.ServiceDefinition } } } } };
      }
    ).google.cloud.kms.v1.KeyManagementService.service;
    const handlers = kmsService(this.state);
    const implementation: grpc.UntypedServiceImplementation = {};
    for (const [method, handler] of Object.entries(handlers)) {
      implementation[method] = (
        call: grpc.ServerUnaryCall<unknown, unknown>,
        callback: grpc.sendUnaryData<unknown>,
      ) => {
        this.#serve(method, handler, call.request as Record<string, unknown>, callback);
      };
    }
    this.#server.addService(kms, implementation);
  }

  async start(): Promise<this> {
    this.#port = await new Promise<number>((resolve, reject) => {
      this.#server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => {
        if (error) reject(error);
        else resolve(port);
      });
    });
    return this;
  }

  get port(): number {
    return this.#port;
  }

  /** What KeyBackend.spec.gcpKMS.endpoint says to reach the peer. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Moves the peer's clock forward (scheduled destruction takes at least 24 hours). */
  advanceClock(ms: number): void {
    this.#clockOffsetMs += ms;
  }

  now(): number {
    return this.state.now();
  }

  /** Applies `fault` to the next `fault.times` (default 1) calls of `method`. */
  fail(method: string, fault: Fault): void {
    const faults = this.#faults.get(method) ?? [];
    for (let i = 0; i < (fault.times ?? 1); i++) faults.push(fault);
    this.#faults.set(method, faults);
  }

  clearFaults(): void {
    this.#faults.clear();
  }

  /** Resolves when the next call of `method` arrives (after it was handled, before any answer). */
  arrival(method: string): Promise<void> {
    return new Promise((resolve) => {
      this.#arrivals.set(method, [...(this.#arrivals.get(method) ?? []), resolve]);
    });
  }

  callCount(method: string): number {
    return this.calls.get(method) ?? 0;
  }

  #serve(
    method: string,
    handler: Handler,
    request: Record<string, unknown>,
    callback: grpc.sendUnaryData<unknown>,
  ) {
    this.calls.set(method, this.callCount(method) + 1);
    const fault = this.#faults.get(method)?.shift();
    const arrived = () => {
      for (const resolve of this.#arrivals.get(method) ?? []) resolve();
      this.#arrivals.delete(method);
    };
    if (fault?.code !== undefined && !fault.afterCommit) {
      arrived();
      callback(
        serviceError(fault.code, fault.message ?? `injected ${grpc.status[fault.code]}`, fault.retryDelayMs),
      );
      return;
    }
    let response: Record<string, unknown>;
    try {
      response = handler(request);
    } catch (error) {
      arrived();
      if (error instanceof KmsError) callback(serviceError(error.code, error.message));
      else
        callback(serviceError(grpc.status.INTERNAL, error instanceof Error ? error.message : String(error)));
      return;
    }
    arrived();
    if (fault?.hang) {
      this.#hung.push(() => {
        callback(serviceError(grpc.status.UNAVAILABLE, 'the peer stopped'));
      });
      return;
    }
    if (fault?.code !== undefined) {
      callback(
        serviceError(fault.code, fault.message ?? `injected ${grpc.status[fault.code]}`, fault.retryDelayMs),
      );
      return;
    }
    if (fault?.corrupt !== undefined) {
      const payload = response[fault.corrupt];
      if (Buffer.isBuffer(payload)) {
        const copy = Buffer.from(payload);
        copy[0] = (copy[0] ?? 0) ^ 0xff;
        response = { ...response, [fault.corrupt]: copy };
      } else if (typeof payload === 'string') {
        response = { ...response, [fault.corrupt]: `${payload} ` };
      }
    }
    callback(null, response);
  }

  async stop(): Promise<void> {
    for (const release of this.#hung.splice(0)) release();
    await new Promise<void>((resolve) => {
      this.#server.tryShutdown(() => {
        resolve();
      });
    });
  }
}
