/**
 * A lean Temporal client for the CLI's hot commands (docs/adr/0032): gRPC over Node's own HTTP/2, the
 * few WorkflowService calls `kdflow get NAME` and `kdflow resize` make, their messages written and read
 * field by field (lib/protowire.ts). It loads in milliseconds where `@temporalio/client` takes a few
 * hundred (its protobuf tree of every Temporal message is built at load). The answers are the same
 * values the SDK's handle gives: the workflow's query and update results, typed by api/.
 */
import { randomUUID } from 'node:crypto';
import http2 from 'node:http2';
import type { TLSConfig } from '@temporalio/client';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { Fields, bytesField, message, messageField, stringField, timestampOf, varintField } from './protowire.ts';
import { decodeValues, encodeValues, payloadsMessage, readPayload, readPayloads } from './payloads.ts';

const SERVICE = '/temporal.api.workflowservice.v1.WorkflowService/';

/** gRPC status codes the callers tell apart. */
export const GRPC = { NOT_FOUND: 5, UNIMPLEMENTED: 12, UNAVAILABLE: 14 } as const;

/** Names as the SDK's `WorkflowExecutionDescription.status.name` gives them (enums/v1/workflow.proto order). */
const STATUS_NAMES = [
  'UNSPECIFIED',
  'RUNNING',
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TERMINATED',
  'CONTINUED_AS_NEW',
  'TIMED_OUT',
  'PAUSED',
];

/** A call the server answered with a gRPC status other than OK. */
export class GrpcCallError extends Error {
  override readonly name = 'GrpcCallError';
  readonly code: number;
  constructor(method: string, code: number, detail: string) {
    super(detail || `${method} failed with gRPC status ${code}`);
    this.code = code;
  }
}

/** The transport failed: no answer, a reset, a TLS handshake refused. */
export class GrpcTransportError extends Error {
  override readonly name = 'GrpcTransportError';
}

/** The workflow rejected or failed an update; `cause.message` is its reason, as with the SDK's WorkflowUpdateFailedError. */
export class UpdateFailedError extends Error {
  override readonly name = 'UpdateFailedError';
}

export interface LeanConnectionSettings {
  address: string;
  namespace: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
  /** Payload codecs, as the SDK's data converter takes them (first encodes first). */
  codecs?: readonly PayloadCodec[];
}

export interface RunDescription {
  workflowId: string;
  runId: string;
  status: { name: string };
  startTime: Date;
  firstRunId?: string;
}

const IDENTITY = `kdflow-cli@${process.pid}`;

/** WorkflowExecutionInfo: execution = 1 (workflow_id 1, run_id 2), start_time = 3, status = 5, first_run_id = 21. */
function runOf(info: Fields | undefined, workflowId: string): RunDescription {
  const execution = info?.message(1);
  const firstRunId = info?.string(21);
  return {
    workflowId: execution?.string(1) || workflowId,
    runId: execution?.string(2) ?? '',
    status: { name: STATUS_NAMES[info?.number(5) ?? 0] ?? 'UNSPECIFIED' },
    startTime: timestampOf(info?.message(3)) ?? new Date(Number.NaN),
    ...(firstRunId ? { firstRunId } : {}),
  };
}

/** How often a call is tried when the transport fails or the server says UNAVAILABLE, as the SDK's client retries. */
const CALL_ATTEMPTS = 4;

export class LeanTemporalClient {
  private session: http2.ClientHttp2Session;
  private readonly settings: LeanConnectionSettings;
  private readonly codecs: readonly PayloadCodec[];

  private constructor(session: http2.ClientHttp2Session, settings: LeanConnectionSettings) {
    this.session = session;
    this.settings = settings;
    this.codecs = settings.codecs ?? [];
  }

  /** Opens the HTTP/2 session (TLS as the SDK's settings say); rejects if it cannot be made within `timeoutMs`. */
  static async connect(settings: LeanConnectionSettings, timeoutMs = 5_000): Promise<LeanTemporalClient> {
    return new LeanTemporalClient(await LeanTemporalClient.openSession(settings, timeoutMs), settings);
  }

  private static async openSession(
    settings: LeanConnectionSettings,
    timeoutMs = 5_000,
  ): Promise<http2.ClientHttp2Session> {
    const tls = settings.tls;
    const options: http2.SecureClientSessionOptions = {};
    if (tls && typeof tls === 'object') {
      if (tls.serverRootCACertificate) options.ca = Buffer.from(tls.serverRootCACertificate);
      if (tls.clientCertPair) {
        options.cert = Buffer.from(tls.clientCertPair.crt);
        options.key = Buffer.from(tls.clientCertPair.key);
      }
      if (tls.serverNameOverride) options.servername = tls.serverNameOverride;
    }
    const session = http2.connect(`${tls ? 'https' : 'http'}://${settings.address}`, options);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        session.destroy();
        reject(new GrpcTransportError(`no HTTP/2 session within ${timeoutMs} ms`));
      }, timeoutMs);
      // The server's SETTINGS, not the TCP (or TLS) connect: anything that accepts a connection connects.
      session.once('remoteSettings', () => {
        clearTimeout(timer);
        resolve();
      });
      session.once('error', (error: Error) => {
        clearTimeout(timer);
        reject(new GrpcTransportError(error.message));
      });
      session.once('close', () => {
        clearTimeout(timer);
        reject(new GrpcTransportError('the server closed the connection before HTTP/2 settings'));
      });
    });
    // Later session errors reach the call that is waiting, as a stream error.
    session.on('error', () => {});
    return session;
  }

  close(): void {
    this.session.close();
  }

  /**
   * One unary call, tried again (on a new session if the old one is gone) when the transport fails or
   * the server is UNAVAILABLE: a long `wait` outlives a session the server or a starved machine drops.
   * Every call kdflow makes is safe to repeat (reads, updates with an id, signals that set a state).
   */
  private async call(method: string, request: Uint8Array): Promise<Fields> {
    for (let attempt = 1; ; attempt++) {
      try {
        if (this.session.closed || this.session.destroyed)
          this.session = await LeanTemporalClient.openSession(this.settings);
        return await this.callOnce(method, request);
      } catch (error) {
        const transient =
          error instanceof GrpcTransportError || (error instanceof GrpcCallError && error.code === GRPC.UNAVAILABLE);
        if (!transient || attempt >= CALL_ATTEMPTS) throw error;
        if (error instanceof GrpcTransportError) this.session.destroy();
        await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** attempt));
      }
    }
  }

  /** One unary call: a length-prefixed message out, one back, the status from the trailers. */
  private callOnce(method: string, request: Uint8Array): Promise<Fields> {
    const headers: http2.OutgoingHttpHeaders = {
      ':method': 'POST',
      ':path': SERVICE + method,
      'content-type': 'application/grpc',
      te: 'trailers',
      'temporal-namespace': this.settings.namespace,
    };
    if (this.settings.apiKey) headers.authorization = `Bearer ${this.settings.apiKey}`;
    return new Promise((resolve, reject) => {
      const stream = this.session.request(headers);
      const chunks: Buffer[] = [];
      let status: string | undefined;
      let detail = '';
      const takeStatus = (h: http2.IncomingHttpHeaders) => {
        if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
        if (h['grpc-message'] !== undefined) detail = decodeURIComponent(String(h['grpc-message']));
      };
      stream.on('response', takeStatus);
      stream.on('trailers', takeStatus);
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', (error: Error) => reject(new GrpcTransportError(error.message)));
      stream.on('close', () => {
        if (status === undefined) return reject(new GrpcTransportError(`${method}: no gRPC status in the answer`));
        if (status !== '0') return reject(new GrpcCallError(method, Number(status), detail));
        const body = Buffer.concat(chunks);
        if (body.length < 5) return resolve(new Fields(new Uint8Array()));
        if (body[0] !== 0) return reject(new GrpcTransportError(`${method}: compressed answer not asked for`));
        resolve(new Fields(body.subarray(5, 5 + body.readUInt32BE(1))));
      });
      const frame = Buffer.alloc(5 + request.length);
      frame.writeUInt32BE(request.length, 1);
      frame.set(request, 5);
      stream.end(frame);
    });
  }

  private execution(workflowId: string, runId?: string): Uint8Array {
    return messageField(2, stringField(1, workflowId), stringField(2, runId));
  }

  /** DescribeWorkflowExecution: the answer's WorkflowExecutionInfo is field 2. */
  async describe(workflowId: string, runId?: string): Promise<RunDescription> {
    const answer = await this.call(
      'DescribeWorkflowExecution',
      message(stringField(1, this.settings.namespace), this.execution(workflowId, runId)),
    );
    return runOf(answer.message(2), workflowId);
  }

  /** QueryWorkflow: query = 3 (query_type 1, query_args 2); the answer's query_result = 1, query_rejected = 2. */
  async query(workflowId: string, queryType: string, args: unknown[]): Promise<unknown> {
    const payloads = args.length > 0 ? await encodeValues(args, this.codecs) : [];
    const answer = await this.call(
      'QueryWorkflow',
      message(
        stringField(1, this.settings.namespace),
        this.execution(workflowId),
        messageField(
          3,
          stringField(1, queryType),
          payloads.length ? messageField(2, payloadsMessage(payloads)) : undefined,
        ),
      ),
    );
    const rejected = answer.message(2);
    if (rejected)
      throw new GrpcCallError(
        'QueryWorkflow',
        0,
        `query rejected: the workflow is ${(STATUS_NAMES[rejected.number(1)] ?? 'not running').toLowerCase()}`,
      );
    const [value] = await decodeValues(readPayloads(answer.message(1)), this.codecs);
    return value;
  }

  /**
   * UpdateWorkflowExecution, waiting for the update to complete: wait_policy = 4 (lifecycle_stage 3,
   * COMPLETED), request = 5 (meta 1: update_id, identity; input 2: name 2, args 3). The server may answer
   * before the update completes (its own deadline); the same update id is sent again, which the server
   * takes as the same update.
   */
  async update(workflowId: string, name: string, args: unknown[]): Promise<unknown> {
    const payloads = await encodeValues(args, this.codecs);
    const request = message(
      stringField(1, this.settings.namespace),
      this.execution(workflowId),
      messageField(4, varintField(1, 3)),
      messageField(
        5,
        messageField(1, stringField(1, randomUUID()), stringField(2, IDENTITY)),
        messageField(2, stringField(2, name), messageField(3, payloadsMessage(payloads))),
      ),
    );
    for (;;) {
      const outcome = (await this.call('UpdateWorkflowExecution', request)).message(2);
      if (!outcome) continue;
      const failure = outcome.message(2);
      if (failure)
        throw new UpdateFailedError('workflow update failed', { cause: new Error(await this.failureMessage(failure)) });
      const [value] = await decodeValues(readPayloads(outcome.message(1)), this.codecs);
      return value;
    }
  }

  /** SignalWorkflowExecution: signal_name = 3, input = 4, identity = 5, request_id = 6. */
  async signal(workflowId: string, name: string, args: unknown[]): Promise<void> {
    const payloads = await encodeValues(args, this.codecs);
    await this.call(
      'SignalWorkflowExecution',
      message(
        stringField(1, this.settings.namespace),
        this.execution(workflowId),
        stringField(3, name),
        messageField(4, payloadsMessage(payloads)),
        stringField(5, IDENTITY),
        stringField(6, randomUUID()),
      ),
    );
  }

  /**
   * Every event of one run (the current one without `runId`), page by page: GetWorkflowExecutionHistory
   * (maximum_page_size = 3, next_page_token = 4); the answer's history = 1 (events = 1), next_page_token = 3.
   */
  async history(workflowId: string, runId?: string): Promise<Fields[]> {
    const events: Fields[] = [];
    let token: Uint8Array | undefined;
    do {
      const answer = await this.call(
        'GetWorkflowExecutionHistory',
        message(
          stringField(1, this.settings.namespace),
          this.execution(workflowId, runId),
          token ? bytesField(4, token) : undefined,
        ),
      );
      events.push(...(answer.message(1)?.messages(1) ?? []));
      token = answer.bytes(3);
    } while (token && token.length > 0);
    return events;
  }

  /**
   * Running or closed workflows a visibility query finds, page by page: ListWorkflowExecutions
   * (next_page_token = 3, query = 4); the answer's executions = 1, next_page_token = 2.
   */
  async list(query: string): Promise<RunDescription[]> {
    const runs: RunDescription[] = [];
    let token: Uint8Array | undefined;
    do {
      const answer = await this.call(
        'ListWorkflowExecutions',
        message(
          stringField(1, this.settings.namespace),
          token ? bytesField(3, token) : undefined,
          stringField(4, query),
        ),
      );
      runs.push(...answer.messages(1).map((info) => runOf(info, '')));
      token = answer.bytes(2);
    } while (token && token.length > 0);
    return runs;
  }

  /** Payloads as values, through the codecs. */
  decodePayloads(payloads: Payload[]): Promise<unknown[]> {
    return decodeValues(payloads, this.codecs);
  }

  /** Failure: message = 1; with encoded attributes (= 20, a payload of {message, stack_trace}) the message is in there. */
  async failureMessage(failure: Fields): Promise<string> {
    const encoded = failure.message(20);
    if (!encoded) return failure.string(1);
    const [attributes] = (await decodeValues([readPayload(encoded)], this.codecs)) as [{ message?: string }?];
    return attributes?.message ?? failure.string(1);
  }
}
