/**
 * `kdflow dev`'s `a` key: runs one of the app's custom actions (docs/adr/0050) on the running
 * cluster. One action declared: it runs at once. Several: a prompt line names them and the next digit
 * picks one (any other key goes on as itself). Parameters take their defaults; an action with a
 * required parameter and no default is refused with the check's own words, naming the parameter.
 * It starts as `kdflow action` starts one (lib/start-action.ts); the session follows it to the end.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { specQuery } from '../../api/messages.ts';
import { ValidationError } from '../../api/rules.ts';
import { startAction } from '../../lib/start-action.ts';

export interface ActionKeyDeps {
  handle: () => Promise<Pick<WorkflowHandle, 'query' | 'executeUpdate'> | undefined>;
  say: (line: string) => void;
  /** A started action: the session prints its members' results and a summary once it is over. */
  follow: (id: string) => void;
  cluster: string;
}

export class ActionKey {
  private readonly deps: ActionKeyDeps;
  /** The names the prompt offered, until a key answers it. */
  private offered?: string[];
  constructor(deps: ActionKeyDeps) {
    this.deps = deps;
  }

  /** `a`: run the app's one action, or offer its several. */
  async pressed(): Promise<void> {
    this.offered = undefined;
    const handle = await this.deps.handle();
    const view = handle ? await handle.query(specQuery).catch(() => undefined) : undefined;
    if (!handle || !view) return this.deps.say(`── cluster/${this.deps.cluster} is not running`);
    const names = (view.app.actions ?? []).map((a) => a.name);
    if (names.length === 0) return this.deps.say('── the app declares no actions (KdApp spec.actions)');
    if (names.length === 1) return this.run(handle, names[0] as string);
    this.offered = names.slice(0, 9);
    this.deps.say(
      `── run which action? ${this.offered.map((n, i) => `${i + 1} ${n}`).join(', ')} (a digit; any other key cancels)`,
    );
  }

  /** A digit: the offered action of that number, if a prompt is open. */
  async picked(digit: string): Promise<void> {
    const offered = this.offered;
    this.offered = undefined;
    const name = offered?.[Number(digit) - 1];
    if (!name) return;
    const handle = await this.deps.handle();
    if (handle) await this.run(handle, name);
  }

  /** Any other key closes the prompt. */
  cancel(): void {
    if (this.offered) this.deps.say('── action prompt closed');
    this.offered = undefined;
  }

  private async run(handle: Pick<WorkflowHandle, 'query' | 'executeUpdate'>, name: string): Promise<void> {
    const result = await startAction(handle, { action: name, params: {} });
    if ('issues' in result) throw new ValidationError(result.issues, `action ${name}`);
    const { id, targets, resolved } = result.started;
    const params = resolved.params.map(([k, v]) => `${k}=${v}`).join(' ');
    this.deps.say(`── action ${id} started on ${targets} member(s)${params ? ` (${params})` : ''}`);
    this.deps.follow(id);
  }
}
