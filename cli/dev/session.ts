/**
 * The app author's loop (`kdflow dev -f APP -f CLUSTER`). On every save of a manifest or of the
 * config package it runs the whole lifecycle again on fresh members: the cluster is deleted (its
 * members torn down, their files gone) and created again from the manifests, as a real first start
 * would see it. Meanwhile every member's output is on the terminal as it is written (member-output.ts)
 * and, each time the cluster settles, one line per script run: member, event, exit code, time.
 *
 * Saves during a run are not lost: the newest one runs once the current run is through. A manifest
 * that does not parse or validate is shown, and the loop waits for the next save.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { performance } from 'node:perf_hooks';
import { clusterWorkflowId, deleteSignal, statusQuery, statusVersionQuery, ValidationError } from '../../api/index.ts';
import type { ClusterStatus } from '../../api/status.ts';
import type { KdAppSpec } from '../../api/app.ts';
import type { Manifest } from '../../api/manifest.ts';
import { fullStatus } from '../../lib/cluster-status.ts';
import { localPackageIssues } from '../../lib/package-url.ts';
import { MemberLayout } from '../../runtimes/local/layout.ts';
import { applyCluster } from '../commands/apply.ts';
import type { CliContext } from '../context.ts';
import { UsageError } from '../errors.ts';
import { readManifests } from '../files.ts';
import { printWarnings } from '../render.ts';
import { MemberOutput } from './member-output.ts';
import { SaveWatcher } from './watch-files.ts';
import { fileURLToPath } from 'node:url';

/** How often the cluster's status version is asked while the loop runs. */
const STATUS_EVERY_MS = 100;

export interface DevSessionOptions {
  ctx: CliContext;
  client: Client;
  files: string[];
  colour: boolean;
  /** Prints an error as the CLI does (`kdflow: …` lines). */
  report: (error: unknown) => Promise<void>;
}

interface Target {
  namespace: string;
  name: string;
  roles: string[];
}

export class DevSession {
  private readonly options: DevSessionOptions;
  private readonly say: (line: string) => void;
  private readonly watcher: SaveWatcher;
  private target?: Target;
  private output?: MemberOutput;
  private running?: Promise<void>;
  private queued?: string;
  private stopped = false;
  private statusTimer?: NodeJS.Timeout;
  private statusRound?: Promise<void>;
  private lastVersion?: number;
  /** Runs already summed up, by run id. */
  private readonly reported = new Set<string>();
  /** When the save (or key) that started what runs now happened; the next settle line says how long ago. */
  private since?: number;
  /** A custom action started with the `a` key, summed up once it is over, and when it was started. */
  private followed?: { id: string; since: number };
  roleIndex = 0;

  constructor(options: DevSessionOptions) {
    this.options = options;
    this.say = options.ctx.out;
    this.watcher = new SaveWatcher((file) => this.saved(`saved ${file}`));
  }

  /** The cluster the loop runs, once the manifests named one. */
  get cluster(): Target | undefined {
    return this.target;
  }

  /** A save, a key or the start: run the lifecycle again (after the run in progress, if there is one). */
  saved(reason: string): void {
    if (this.stopped) return;
    if (this.running) {
      this.queued = reason;
      return;
    }
    this.running = this.rerun(reason).finally(() => {
      this.running = undefined;
      const next = this.queued;
      this.queued = undefined;
      if (next !== undefined) this.saved(next);
    });
  }

  private async rerun(reason: string): Promise<void> {
    this.since = performance.now();
    this.say(`── ${reason}`);
    let manifests: Manifest[];
    try {
      manifests = await readManifests(this.options.files);
      const target = await this.applyApps(manifests);
      await this.watchPaths(manifests);
      await this.recreate(target, manifests);
    } catch (error) {
      await this.options.report(error);
      this.say('── waiting for the next save');
      // The manifests may be broken, but their files are still what to watch.
      if (this.target === undefined) await this.watcher.watch(this.options.files);
    }
  }

  /** Apps in the files go to the catalog first; the files must hold exactly one cluster. */
  private async applyApps(manifests: Manifest[]): Promise<Target> {
    const clusters = manifests.filter((m) => m.kind === 'KdCluster');
    if (clusters.length !== 1)
      throw new UsageError(
        `kdflow dev runs one cluster: the files (${this.options.files.join(', ')}) hold ${clusters.length} KdCluster manifests${clusters.length > 1 ? ` (${clusters.map((c) => c.value.metadata.name).join(', ')})` : ''}; give exactly one`,
      );
    for (const m of manifests) {
      printWarnings(this.options.ctx, m);
      if (m.kind !== 'KdApp') continue;
      const packages = await localPackageIssues(m.value.spec);
      if (packages.length > 0) throw new ValidationError(packages, m.value.metadata.name);
      // Not put into the shared catalog: an app in progress is no version (docs/adr/0039); recreate() runs it from the file.
    }
    const cluster = clusters[0] as Extract<Manifest, { kind: 'KdCluster' }>;
    const namespace = cluster.value.metadata.namespace ?? this.options.ctx.namespace;
    const name = cluster.value.metadata.name;
    if (this.target && (this.target.namespace !== namespace || this.target.name !== name)) {
      // The manifest now names another cluster: the old one goes first, so that nothing is left running.
      await this.deleteCluster();
    }
    return { namespace, name, roles: cluster.value.spec.roles.map((r) => r.id) };
  }

  /** The manifests and every config package on this machine that the cluster's app uses. */
  private async watchPaths(manifests: Manifest[]): Promise<void> {
    const cluster = manifests.find((m) => m.kind === 'KdCluster');
    const appName = cluster?.kind === 'KdCluster' ? cluster.value.spec.app : undefined;
    const namespace = cluster?.value.metadata.namespace ?? this.options.ctx.namespace;
    const inFiles = manifests.flatMap((m) =>
      m.kind === 'KdApp' && m.value.metadata.name === appName ? [m.value] : [],
    );
    const app =
      inFiles[0]?.spec ?? (appName ? (await this.options.ctx.catalog.get(namespace, appName)).app : undefined);
    const packages = app ? packagePaths(app) : [];
    await this.watcher.watch([...this.options.files, ...packages]);
  }

  private async recreate(target: Target, manifests: Manifest[]): Promise<void> {
    const cluster = manifests.find((m) => m.kind === 'KdCluster');
    if (cluster?.kind !== 'KdCluster') return;
    this.target = target;
    await this.deleteCluster();
    this.reported.clear();
    this.lastVersion = undefined;
    this.watchMembers(target);
    // The app of the files when they hold it (an app in progress, kept out of the shared catalog), else the catalog's.
    const namespace = cluster.value.metadata.namespace ?? this.options.ctx.namespace;
    const inFiles = manifests.find(
      (m) =>
        m.kind === 'KdApp' &&
        m.value.metadata.name === cluster.value.spec.app &&
        (m.value.metadata.namespace ?? this.options.ctx.namespace) === namespace,
    );
    await applyCluster(
      this.options.ctx,
      cluster.value,
      inFiles?.kind === 'KdApp'
        ? { name: inFiles.value.metadata.name, version: inFiles.value.spec.version, app: inFiles.value.spec }
        : undefined,
    );
    this.say(`── cluster/${target.name} created; its members' output follows`);
  }

  /** Deletes the cluster when it runs, and waits until its workflow is over (every member torn down). */
  async deleteCluster(): Promise<void> {
    const target = this.target;
    if (!target) return;
    const handle = this.handle(target);
    const description = await handle.describe().catch(() => undefined);
    if (description?.status.name !== 'RUNNING') return;
    await handle.signal(deleteSignal);
    // The workflow ends once its teardown is done; how it ended matters less than that it did.
    await handle.result().catch(() => undefined);
  }

  private handle(target: Target): WorkflowHandle {
    return this.options.client.workflow.getHandle(clusterWorkflowId(target.namespace, target.name));
  }

  private watchMembers(target: Target): void {
    if (this.output) return;
    const clusterDir = new MemberLayout(this.options.ctx.home).clusterDir(target.namespace, target.name);
    this.output = new MemberOutput({ clusterDir, line: this.say, colour: this.options.colour });
    this.output.start();
    const tick = () => {
      this.statusRound = this.statusCheck().finally(() => {
        if (!this.stopped) this.statusTimer = setTimeout(tick, STATUS_EVERY_MS);
      });
    };
    this.statusTimer = setTimeout(tick, STATUS_EVERY_MS);
  }

  /** When the cluster has settled since the last look: one line per script run not summed up yet. */
  private async statusCheck(): Promise<void> {
    const target = this.target;
    if (!target || this.running) return;
    const handle = this.handle(target);
    const version = await handle.query(statusVersionQuery).catch(() => undefined);
    if (version === undefined || version === this.lastVersion) return;
    const first = await handle.query(statusQuery).catch(() => undefined);
    if (!first) return;
    const settled =
      first.observedGeneration >= first.generation && ['configured', 'config error'].includes(first.phase);
    if (!settled) return;
    this.lastVersion = version;
    const status = await fullStatus(handle).catch(() => first);
    await this.output?.flush();
    this.output?.endPartials();
    this.summarise(status);
    this.summariseAction(status);
  }

  /** The `a` key started an action: its members' results and a summary line once it is over. */
  follow(id: string): void {
    this.followed = { id, since: performance.now() };
    // Looked at again even if the status stood still since the last look.
    this.lastVersion = undefined;
  }

  private summariseAction(status: ClusterStatus): void {
    const followed = this.followed;
    const action = followed && status.actions?.find((a) => a.id === followed.id);
    if (!followed || (action && action.finishedAt === undefined)) return;
    this.followed = undefined;
    if (!action) return this.say(`── action ${followed.id} is no longer in the cluster's status`);
    for (const member of status.roles.flatMap((r) => r.members)) {
      const last = member.lastAction;
      if (last?.id !== action.id) continue;
      const seconds = (Date.parse(last.finishedAt) - Date.parse(last.startedAt)) / 1000;
      const ok = last.exitCode === 0 && !last.error;
      this.say(
        `${this.mark(ok)} ${this.output?.prefix(member.name) ?? `${member.name} │ `}action ${action.action} exit ${last.exitCode ?? '-'} in ${seconds.toFixed(2)} s${last.error ? `: ${last.error}` : ''}`,
      );
    }
    const after = ((performance.now() - followed.since) / 1000).toFixed(2);
    const failures = action.failures.length > 0 ? `; ${action.failures.join('; ')}` : '';
    this.say(
      `── action ${action.id} ${action.state}: ${action.succeeded} of ${action.targets} succeeded${failures}, ${after} s after it started`,
    );
  }

  private mark(ok: boolean): string {
    if (!this.options.colour) return ok ? '✓' : '✗';
    return ok ? '\x1b[32m✓\x1b[0m' : '\x1b[31m✗\x1b[0m';
  }

  private summarise(status: ClusterStatus): void {
    const lines: string[] = [];
    for (const member of status.roles.flatMap((r) => r.members)) {
      for (const run of member.events) {
        if (this.reported.has(run.runId)) continue;
        this.reported.add(run.runId);
        const seconds = (Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000;
        const ok = run.exitCode === 0;
        const mark = this.mark(ok);
        const about = run.about ? ` (${run.about})` : '';
        const error = !ok && run.error ? `: ${run.error}` : '';
        const warning = ok && member.warning ? `; warning: ${member.warning}` : '';
        lines.push(
          `${mark} ${this.output?.prefix(member.name) ?? `${member.name} │ `}${run.event}${about} exit ${run.exitCode ?? '-'} in ${seconds.toFixed(2)} s${error}${warning}`,
        );
      }
    }
    if (lines.length === 0) return;
    for (const line of lines) this.say(line);
    const total = status.roles.reduce((n, r) => n + r.total, 0);
    const configured = status.roles.reduce((n, r) => n + r.configured, 0);
    const after =
      this.since === undefined ? '' : `, ${((performance.now() - this.since) / 1000).toFixed(2)} s after it started`;
    this.since = undefined;
    this.say(`── cluster/${status.name} ${status.phase}: ${configured}/${total} members configured${after}`);
  }

  /** A key started something (a grow, a shrink): the next settle line times it. */
  markStart(): void {
    this.since = performance.now();
  }

  /** Stops watching and following; deletes the cluster unless told to keep it. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.watcher.close();
    clearTimeout(this.statusTimer);
    await this.running?.catch(() => undefined);
    await this.statusRound;
    await this.output?.stop();
    await this.deleteCluster();
  }
}

/** The config packages of an app that are on this machine (file:// URLs): what a save can change. */
function packagePaths(app: KdAppSpec): string[] {
  const urls = [app.defaultConfigPackage, ...app.roles.map((r) => r.configPackage)].flatMap((p) =>
    p?.packageURL.startsWith('file://') ? [p.packageURL] : [],
  );
  return [...new Set(urls)].flatMap((url) => {
    try {
      return [fileURLToPath(url)];
    } catch {
      return [];
    }
  });
}
