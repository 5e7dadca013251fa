/**
 * The Kubernetes runtime: a member is a Pod (plus its PVC and Services), created and removed by the
 * workflow's activities; config and scripts go in through exec. Talks to the cluster from the usual
 * kubeconfig (KUBECONFIG, ~/.kube/config, or in-cluster).
 */
import { CoreV1Api, KubeConfig, type V1OwnerReference, type V1Service } from '@kubernetes/client-node';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { logger as rootLogger } from '../../lib/logger.ts';
import { RuntimeError } from '../errors.ts';
import type { ObjectKind, StoredObject } from '../../api/index.ts';
import {
  type ExecOptions,
  type ExecResult,
  type GuestFile,
  type MemberDown,
  type MemberSpec,
  type MemberTarget,
  type Readiness,
  type ReadyWait,
  type Replacement,
  type Runtime,
} from '../runtime.ts';
import { DEFAULT_API_BOUNDS, boundedCoreApi, watchedCall, type ApiBounds } from './bounds.ts';
import { execInPod, type ExecBounds } from './exec.ts';
import { ENTER, inPodCommand, type InPodProgram } from './in-pod.ts';
import {
  LABELS,
  REPLACEMENT_ANNOTATION,
  clusterSelector,
  foreignOwner,
  headlessService,
  headlessServiceName,
  memberBlockPvcs,
  memberPod,
  memberPvc,
  memberServiceName,
  memberServices,
  ownerRef,
  pvcName,
} from './objects.ts';
import { oomKilledSince, podAlive, watchReadiness } from './readiness.ts';
import { podEnded, watchMemberPods } from './watch.ts';

export interface KubernetesRuntimeOptions {
  /** How long Unschedulable, image-pull or crash-loop problems last before a member is failed. */
  problemGraceSeconds?: number;
  /** How long removeMember waits for a pod to be gone before leaving it terminating. */
  removalWaitSeconds?: number;
  logger?: Logger;
  /** The bounds on each API call and exec stream (docs/adr/0043); tests shorten them. */
  bounds?: Partial<ApiBounds>;
}

/** Whose objects are meant: a member's (with `name`), or the cluster's own (the headless Service). */
interface Owner {
  namespace: string;
  cluster: string;
  name?: string;
}
type Labelled = { metadata?: { name?: string; labels?: Record<string, string>; uid?: string } };

/** Another cluster's object of the name we want: a permanent failure that names its owner (ADR 0018). */
function refuseForeign(kind: string, object: Labelled, owner: Owner): void {
  const foreign = foreignOwner(object.metadata?.labels, owner.cluster, owner.name);
  if (!foreign) return;
  const ours = owner.name ? `member ${owner.name} of cluster "${owner.cluster}"` : `cluster "${owner.cluster}"`;
  throw new RuntimeError(
    'RuntimeFailure',
    `${kind} ${owner.namespace}/${object.metadata?.name} belongs to ${foreign}, not to ${ours}: kdflow never adopts or deletes another cluster's objects; give one of the clusters another name`,
    true,
  );
}

export class KubernetesRuntime implements Runtime {
  readonly kind = 'kubernetes';
  private readonly kc: KubeConfig;
  private readonly core: CoreV1Api;
  private readonly options: Required<Omit<KubernetesRuntimeOptions, 'bounds'>>;
  private readonly bounds: ApiBounds;

  /** `core` is for tests that stand in for the API; otherwise it is the bounded client of `kc`. */
  constructor(kc?: KubeConfig, options: KubernetesRuntimeOptions = {}, core?: CoreV1Api) {
    this.kc = kc ?? defaultKubeConfig();
    this.bounds = { ...DEFAULT_API_BOUNDS, ...options.bounds };
    this.core = core ?? boundedCoreApi(this.kc, this.bounds.callTimeoutMs);
    this.options = {
      problemGraceSeconds: options.problemGraceSeconds ?? Number(process.env.KDFLOW_K8S_PROBLEM_GRACE_SECONDS ?? 60),
      removalWaitSeconds: options.removalWaitSeconds ?? 20,
      logger: options.logger ?? rootLogger.child({ component: 'kubernetes-runtime' }),
    };
  }

  /**
   * Every API request goes through here: named, logged once when slow, its timeout an ApiTimeout,
   * and other failures RuntimeErrors. Invalid requests cannot succeed on retry. Forbidden (403) can:
   * a kube-apiserver that has just started answers 403 until its RBAC caches are filled, and so does
   * one whose RoleBinding was applied a moment ago (docs/adr/0043).
   */
  private async api<T>(what: string, call: () => Promise<T>, absent?: (code: number | undefined) => T | undefined) {
    try {
      return await watchedCall(
        what,
        call,
        { slowCallMs: this.bounds.slowCallMs, boundMs: this.bounds.callTimeoutMs },
        this.options.logger,
      );
    } catch (error) {
      if (error instanceof RuntimeError) throw error;
      const code = statusCode(error);
      const instead = absent?.(code);
      if (instead !== undefined) return instead;
      const permanent = code === 400 || code === 422;
      throw new RuntimeError(
        'RuntimeFailure',
        `${what}: ${code ? `HTTP ${code}: ` : ''}${apiMessage(error)}`,
        permanent,
      );
    }
  }

  /** The object, or undefined when the API says it does not exist (404). */
  private async readIfPresent<T>(what: string, read: () => Promise<T>): Promise<T | undefined> {
    const got = await this.api<T | typeof ABSENT>(`reading ${what}`, read, (code) =>
      code === 404 ? ABSENT : undefined,
    );
    return got === ABSENT ? undefined : got;
  }

  /** The created object, or undefined when one of that name exists already (409). */
  private async createIfAbsent<T>(what: string, create: () => Promise<T>): Promise<T | undefined> {
    const got = await this.api<T | typeof ABSENT>(`creating ${what}`, create, (code) =>
      code === 409 ? ABSENT : undefined,
    );
    return got === ABSENT ? undefined : got;
  }

  /** Deletes, and takes "not found" (404) as done. */
  private async deleteIfPresent(what: string, remove: () => Promise<unknown>): Promise<void> {
    await this.api(`deleting ${what}`, remove, (code) => (code === 404 ? ABSENT : undefined));
  }

  private execBounds(what: string): ExecBounds {
    return { ...this.bounds, what, logger: this.options.logger };
  }

  async ensureMember(member: MemberSpec): Promise<void> {
    const { namespace, cluster, name } = member;
    const anchor = await this.ensureAnchor(namespace, cluster);
    const owner = ownerRef(anchor);
    const pvc = memberPvc(member, owner);
    if (pvc) {
      await this.createOrAdopt(
        'PVC',
        pvcName(name),
        member,
        () => this.core.createNamespacedPersistentVolumeClaim({ namespace, body: pvc }),
        () => this.core.readNamespacedPersistentVolumeClaim({ namespace, name: pvcName(name) }),
      );
    }
    for (const block of memberBlockPvcs(member, owner)) {
      const blockName = block.metadata?.name ?? '';
      await this.createOrAdopt(
        'PVC',
        blockName,
        member,
        () => this.core.createNamespacedPersistentVolumeClaim({ namespace, body: block }),
        () => this.core.readNamespacedPersistentVolumeClaim({ namespace, name: blockName }),
      );
    }
    const existing = await this.readIfPresent(`pod ${name}`, () => this.core.readNamespacedPod({ namespace, name }));
    if (existing) refuseForeign('pod', existing, member);
    if (existing?.metadata?.deletionTimestamp)
      throw new RuntimeError('MemberNotReady', `pod ${name} is still terminating; it is created again once it is gone`);
    // A pod that ended (evicted, failed) never runs again: it goes, and the member is made anew (docs/adr/0049).
    const ended = existing && podEnded(existing);
    if (existing && ended) {
      await this.deleteIfPresent(`pod ${name}`, () =>
        this.core.deleteNamespacedPod({ namespace, name, body: { preconditions: { uid: existing.metadata?.uid } } }),
      );
      throw new RuntimeError(
        'MemberNotReady',
        `pod ${name} had ended (${ended}); deleted, created again once it is gone`,
      );
    }
    const pod =
      existing ??
      (await this.createOrAdopt(
        'pod',
        name,
        member,
        () => this.core.createNamespacedPod({ namespace, body: memberPod(member, owner) }),
        () => this.core.readNamespacedPod({ namespace, name }),
      ));
    const podRef: V1OwnerReference = { apiVersion: 'v1', kind: 'Pod', name, uid: pod.metadata?.uid ?? '' };
    for (const service of memberServices(member, podRef)) {
      const serviceName = service.metadata?.name ?? '';
      await this.createOrAdopt(
        'service',
        serviceName,
        member,
        () => this.core.createNamespacedService({ namespace, body: service }),
        () => this.core.readNamespacedService({ namespace, name: serviceName }),
      );
    }
  }

  /**
   * Re-creates the pod under its own name on its own PVC: the old one is deleted (after its run
   * processes are ended) and awaited until gone; `ensureMember` then creates the new one, annotated
   * with the token, so a retried replacement finds it done.
   */
  async replaceMember(
    member: MemberSpec,
    replacement: Replacement,
    heartbeat: (detail?: unknown) => void,
  ): Promise<void> {
    const { namespace, name } = member;
    const pod = await this.readIfPresent(`pod ${name}`, () => this.core.readNamespacedPod({ namespace, name }));
    if (!pod) return;
    refuseForeign('pod', pod, member);
    if (pod.metadata?.annotations?.[REPLACEMENT_ANNOTATION] === replacement.token) return;
    if (!pod.metadata?.deletionTimestamp) {
      await this.inPod(member, 'cleanup', [], undefined, { allowFailure: true }).catch(() => undefined);
      await this.deleteIfPresent(`pod ${name}`, () =>
        this.core.deleteNamespacedPod({ namespace, name, body: { preconditions: { uid: pod.metadata?.uid } } }),
      );
    }
    const until = Date.now() + this.options.removalWaitSeconds * 1000;
    for (;;) {
      const current = await this.readIfPresent(`pod ${name}`, () => this.core.readNamespacedPod({ namespace, name }));
      if (current?.metadata?.uid !== pod.metadata?.uid) return;
      if (Date.now() >= until)
        throw new RuntimeError('MemberNotReady', `pod ${name} is still terminating; it is replaced once it is gone`);
      heartbeat({ replacing: name });
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** The cluster's headless Service: it gives members their FQDNs and owns their objects. */
  private async ensureAnchor(namespace: string, cluster: string): Promise<V1Service> {
    const owner = { namespace, cluster };
    return this.createOrAdopt(
      'service',
      headlessServiceName(cluster),
      owner,
      () => this.core.createNamespacedService({ namespace, body: headlessService(namespace, cluster) }),
      () => this.core.readNamespacedService({ namespace, name: headlessServiceName(cluster) }),
    );
  }

  /** Creates the object, or takes the existing one of that name only when its labels say it is ours. */
  private async createOrAdopt<T extends Labelled>(
    kind: string,
    name: string,
    owner: Owner,
    create: () => Promise<T>,
    read: () => Promise<T>,
  ): Promise<T> {
    const created = await this.createIfAbsent(`${kind} ${name}`, create);
    if (created) return created;
    const existing = await this.api(`reading ${kind} ${name}`, read);
    refuseForeign(kind, existing, owner);
    return existing;
  }

  /** Whether an object found by name is ours to delete; another cluster's is left alone, and said so. */
  private ours(kind: string, object: Labelled, owner: Owner): boolean {
    const foreign = foreignOwner(object.metadata?.labels, owner.cluster, owner.name);
    if (foreign)
      this.options.logger.warn(
        { namespace: owner.namespace, cluster: owner.cluster, [kind]: object.metadata?.name, owner: foreign },
        `${kind} belongs to another cluster; not removed`,
      );
    return !foreign;
  }

  async awaitReady(members: MemberTarget[], wait: ReadyWait): Promise<Record<string, Readiness>> {
    const groups = new Map<string, MemberTarget[]>();
    for (const m of members)
      groups.set(`${m.namespace}/${m.cluster}`, [...(groups.get(`${m.namespace}/${m.cluster}`) ?? []), m]);
    const results = await Promise.all(
      [...groups.values()].map((group) =>
        this.api(`watching pods of ${group[0]?.namespace}/${group[0]?.cluster}`, () =>
          watchReadiness(this.kc, this.core, group, wait, { problemGraceMs: this.options.problemGraceSeconds * 1000 }),
        ),
      ),
    );
    return Object.assign({}, ...results);
  }

  /** One list per cluster, no watch: what each member's pod says now. */
  async probeMembers(members: MemberTarget[]): Promise<Record<string, Readiness>> {
    const result: Record<string, Readiness> = Object.create(null);
    const clusters = new Map<string, MemberTarget[]>();
    for (const m of members)
      clusters.set(`${m.namespace}/${m.cluster}`, [...(clusters.get(`${m.namespace}/${m.cluster}`) ?? []), m]);
    for (const group of clusters.values()) {
      const { namespace, cluster } = group[0] as MemberTarget;
      const pods = await this.api(`listing pods of ${namespace}/${cluster}`, () =>
        this.core.listNamespacedPod({ namespace, labelSelector: clusterSelector(cluster) }),
      );
      const byName = new Map(pods.items.map((pod) => [pod.metadata?.name, pod]));
      for (const m of group) result[m.name] = podAlive(byName.get(m.name));
    }
    return result;
  }

  async readObject(kind: ObjectKind, namespace: string, name: string): Promise<StoredObject | undefined> {
    const object =
      kind === 'ConfigMap'
        ? await this.readIfPresent(`ConfigMap ${name}`, () => this.core.readNamespacedConfigMap({ namespace, name }))
        : await this.readIfPresent(`Secret ${name}`, () => this.core.readNamespacedSecret({ namespace, name }));
    if (!object) return undefined;
    return {
      kind,
      metadata: {
        name,
        namespace,
        labels: object.metadata?.labels ?? {},
        annotations: object.metadata?.annotations ?? {},
      },
      data: object.data ?? {},
    };
  }

  async writeFiles(member: MemberTarget, files: GuestFile[]): Promise<void> {
    for (const file of files) {
      const content = typeof file.content === 'string' ? Buffer.from(file.content) : file.content;
      // Private files live in private directories (0600 in 0700); configmeta is 0644 in 0755, as KubeDirector makes it.
      const dirMode = (file.mode & 0o077) === 0 ? '700' : '755';
      await this.inPod(member, 'writeFile', [file.path, file.mode.toString(8), dirMode, content.length], content);
    }
  }

  async installPackage(
    member: MemberTarget,
    tgzPath: string,
    onProgress?: (bytes: number, total: number) => void,
  ): Promise<void> {
    const bytes = await readFile(tgzPath);
    // The exec returns only once the pod has unpacked it all; until then only "still sending" can be said.
    onProgress?.(0, bytes.length);
    const beat = setInterval(() => onProgress?.(0, bytes.length), 5000);
    try {
      await this.inPod(member, 'installPackage', [bytes.length], bytes);
    } finally {
      clearInterval(beat);
    }
    onProgress?.(bytes.length, bytes.length);
  }

  async installImagePackage(member: MemberTarget, guestPath: string): Promise<void> {
    const result = await this.inPod(member, 'installImagePackage', [guestPath], undefined, { allowFailure: true });
    if (result.exitCode === null)
      throw new RuntimeError(
        'RuntimeFailure',
        `unpacking file://${guestPath} in ${member.name}: ${result.message ?? 'exec failed'}`,
      );
    if (result.exitCode === 3)
      throw new RuntimeError(
        'PackageUnavailable',
        `config package file://${guestPath} is neither on the worker's machine nor in the image of ${member.name}`,
        true,
      );
    if (result.exitCode !== 0)
      throw new RuntimeError(
        'PackageInvalid',
        `config package file://${guestPath} from the image of ${member.name} could not be unpacked: ${result.stderr.trim().split('\n').at(-1) ?? ''}`,
        true,
      );
  }

  async exec(member: MemberTarget, argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
    return execInPod(
      this.kc,
      member.namespace,
      member.name,
      ['sh', '-c', ENTER, 'kdflow', `${member.namespace}/${member.name}`, ...argv],
      this.execBounds(`exec ${argv[0] ?? ''} in ${member.namespace}/${member.name}`),
      options.stdin,
      options.signal,
    );
  }

  /** The container is the member already: a startscript runs as it is. */
  scriptPrefix(): string[] {
    return [];
  }

  async oomKilledSince(member: MemberTarget, since: number): Promise<boolean> {
    const pod = await this.readIfPresent(`pod ${member.name}`, () =>
      this.core.readNamespacedPod({ namespace: member.namespace, name: member.name }),
    );
    return oomKilledSince(pod, since);
  }

  async readGuestFile(member: MemberTarget, guestPath: string): Promise<string | undefined> {
    const pod = await this.readIfPresent(`pod ${member.name}`, () =>
      this.core.readNamespacedPod({ namespace: member.namespace, name: member.name }),
    );
    if (!pod || foreignOwner(pod.metadata?.labels, member.cluster, member.name)) return undefined;
    const result = await this.inPod(member, 'readTail', [guestPath, 64 * 1024 * 1024], undefined, {
      allowFailure: true,
    });
    return result.exitCode === 0 ? result.stdout.toString('utf8') : undefined;
  }

  async removeMember(member: MemberTarget): Promise<void> {
    const { namespace, cluster, name } = member;
    const pod = await this.readIfPresent(`pod ${name}`, () => this.core.readNamespacedPod({ namespace, name }));
    const podIsOurs = pod !== undefined && this.ours('pod', pod, member);
    if (pod && podIsOurs && !pod.metadata?.deletionTimestamp) {
      await this.inPod(member, 'cleanup', [], undefined, { allowFailure: true }).catch(() => undefined);
      await this.deleteIfPresent(`pod ${name}`, () =>
        this.core.deleteNamespacedPod({ namespace, name, body: { preconditions: { uid: pod.metadata?.uid } } }),
      );
    }
    const services = await this.api(`listing services of ${name}`, () =>
      this.core.listNamespacedService({
        namespace,
        labelSelector: `${clusterSelector(cluster)},${LABELS.member}=${name}`,
      }),
    );
    for (const s of services.items)
      await this.deleteIfPresent(`service ${s.metadata?.name}`, () =>
        this.core.deleteNamespacedService({
          namespace,
          name: s.metadata?.name ?? memberServiceName(name, ''),
          body: { preconditions: { uid: s.metadata?.uid } },
        }),
      );
    // The data volume and any block devices: every PVC labelled as this member's.
    const pvcs = await this.api(`listing PVCs of member ${name}`, () =>
      this.core.listNamespacedPersistentVolumeClaim({
        namespace,
        labelSelector: `${clusterSelector(cluster)},${LABELS.member}=${name}`,
      }),
    );
    const dataPvc = await this.readIfPresent(`PVC ${pvcName(name)}`, () =>
      this.core.readNamespacedPersistentVolumeClaim({ namespace, name: pvcName(name) }),
    );
    const candidates = [
      ...pvcs.items,
      ...(dataPvc && !pvcs.items.some((p) => p.metadata?.uid === dataPvc.metadata?.uid) ? [dataPvc] : []),
    ];
    for (const pvc of candidates) {
      if (!this.ours('PVC', pvc, member)) continue;
      await this.deleteIfPresent(`PVC ${pvc.metadata?.name}`, () =>
        this.core.deleteNamespacedPersistentVolumeClaim({
          namespace,
          name: pvc.metadata?.name ?? pvcName(name),
          body: { preconditions: { uid: pvc.metadata?.uid } },
        }),
      );
    }
    if (!podIsOurs) return;
    // A member name is reused by a later grow, so wait (briefly) for the pod to be really gone.
    const until = Date.now() + this.options.removalWaitSeconds * 1000;
    while (
      Date.now() < until &&
      (await this.readIfPresent(`pod ${name}`, () => this.core.readNamespacedPod({ namespace, name })))?.metadata
        ?.uid === pod.metadata?.uid
    )
      await new Promise((r) => setTimeout(r, 250));
  }

  async listMembers(namespace: string, cluster: string): Promise<string[]> {
    const selector = clusterSelector(cluster);
    const [pods, pvcs] = await Promise.all([
      this.api(`listing pods of ${namespace}/${cluster}`, () =>
        this.core.listNamespacedPod({ namespace, labelSelector: selector }),
      ),
      this.api(`listing PVCs of ${namespace}/${cluster}`, () =>
        this.core.listNamespacedPersistentVolumeClaim({ namespace, labelSelector: selector }),
      ),
    ]);
    const names = [...pods.items, ...pvcs.items]
      .map((o) => o.metadata?.labels?.[LABELS.member])
      .filter((n): n is string => Boolean(n));
    return [...new Set(names)];
  }

  /** One watch on every member pod of every namespace: the worker's heal watch (docs/adr/0049). */
  watchMembers(onDown: (down: MemberDown) => void, signal: AbortSignal): Promise<void> {
    return watchMemberPods(this.kc, this.core, onDown, signal);
  }

  async removeCluster(namespace: string, cluster: string): Promise<void> {
    const anchor = await this.readIfPresent(`service ${headlessServiceName(cluster)}`, () =>
      this.core.readNamespacedService({ namespace, name: headlessServiceName(cluster) }),
    );
    if (!anchor || !this.ours('service', anchor, { namespace, cluster })) return;
    await this.deleteIfPresent(`service ${headlessServiceName(cluster)}`, () =>
      this.core.deleteNamespacedService({
        namespace,
        name: headlessServiceName(cluster),
        body: { preconditions: { uid: anchor.metadata?.uid } },
      }),
    );
  }

  private async inPod(
    member: MemberTarget,
    program: InPodProgram,
    args: (string | number)[],
    stdin?: Uint8Array,
    options: { allowFailure?: boolean; signal?: AbortSignal } = {},
  ): Promise<ExecResult> {
    const result = await execInPod(
      this.kc,
      member.namespace,
      member.name,
      inPodCommand(program, `${member.namespace}/${member.name}`, args),
      this.execBounds(`exec ${program} in ${member.namespace}/${member.name}`),
      stdin,
      options.signal,
    );
    if (result.exitCode !== 0 && !options.allowFailure) {
      throw new RuntimeError(
        'RuntimeFailure',
        `${program} in ${member.name} failed (exit ${result.exitCode ?? 'unknown'}): ${(result.stderr.trim() || result.message) ?? ''}`.trim(),
        result.exitCode !== null,
      );
    }
    return result;
  }
}

export function defaultKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}

function statusCode(error: unknown): number | undefined {
  return error && typeof error === 'object' && 'code' in error && typeof (error as { code: unknown }).code === 'number'
    ? (error as { code: number }).code
    : undefined;
}

function apiMessage(error: unknown): string {
  const body = error && typeof error === 'object' && 'body' in error ? (error as { body: unknown }).body : undefined;
  try {
    const parsed =
      typeof body === 'string'
        ? (JSON.parse(body) as { message?: string })
        : (body as { message?: string } | undefined);
    if (parsed?.message) return parsed.message;
  } catch {
    // Not JSON: fall back to the error's own text.
  }
  return error instanceof Error ? error.message : String(error);
}

/** What an API call answers instead of its object when the API's answer means "not there" (404) or "already there" (409). */
const ABSENT = Symbol('absent');
