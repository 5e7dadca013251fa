/** Custom actions' one check (api/actions.ts, docs/adr/0050): requests, the app's declarations, the argv. */
import { describe, expect, it } from 'vitest';
import {
  KdAppSpec,
  actionArgv,
  isScriptEvent,
  resolveAction,
  runArgv,
  checkAppSpec,
  type ActionMember,
} from '../../api/index.ts';

const app = KdAppSpec.parse({
  label: { name: 'a' },
  distroID: 'a/a',
  version: '1',
  defaultImageRepoTag: 'a:1',
  defaultConfigPackage: { packageURL: 'file:///pkg' },
  roles: [
    { id: 'master', cardinality: '1' },
    { id: 'worker', cardinality: '0+' },
    { id: 'edge', cardinality: '0+', configPackage: null },
  ],
  actions: [
    {
      name: 'compact',
      roles: ['worker'],
      params: [
        { name: 'level', type: 'enum', values: ['low', 'high'], default: 'low' },
        { name: 'files', type: 'integer', required: true },
        { name: 'ratio', type: 'number' },
        { name: 'dry', type: 'boolean' },
        { name: 'note', type: 'string' },
      ],
    },
    { name: 'backup', mode: 'serial' },
  ],
});
const members: ActionMember[] = [
  { name: 'c-master-0', role: 'master', state: 'configured' },
  { name: 'c-worker-0', role: 'worker', state: 'configured' },
  { name: 'c-worker-1', role: 'worker', state: 'configured' },
  { name: 'c-edge-0', role: 'edge', state: 'configured' },
];
const messages = (request: unknown, list = members) => {
  const result = resolveAction(app, list, request);
  return 'resolved' in result ? [] : result.issues.map((i) => `${i.path}: ${i.message}`);
};

describe('resolveAction', () => {
  it('targets the action’s roles (or every role with a startscript), fills defaults, keeps declared order', () => {
    const ok = resolveAction(app, members, { action: 'compact', params: { files: '3', dry: 'true' } });
    expect('resolved' in ok && ok.resolved.targets).toEqual(['c-worker-0', 'c-worker-1']);
    expect('resolved' in ok && ok.resolved.params).toEqual([
      ['level', 'low'],
      ['files', '3'],
      ['dry', 'true'],
    ]);
    const backup = resolveAction(app, members, { action: 'backup' });
    expect('resolved' in backup && backup.resolved.targets).toEqual(['c-master-0', 'c-worker-0', 'c-worker-1']);
    const one = resolveAction(app, members, { action: 'backup', role: 'master' });
    expect('resolved' in one && one.resolved.targets).toEqual(['c-master-0']);
  });

  it('names the field, the value and what is accepted for every bad part, and refuses the whole request', () => {
    expect(messages({ action: 'nope' })).toEqual(['action: got "nope"; expected one of compact, backup']);
    expect(
      messages({ action: 'compact', params: { files: '1.5', level: 'max', ratio: 'x', dry: 'yes', extra: '1' } }),
    ).toEqual([
      'params.extra: unknown parameter of action compact; accepted: level, files, ratio, dry, note',
      'params.level: got "max"; expected one of low, high',
      'params.files: got "1.5"; expected an integer',
      'params.ratio: got "x"; expected a number',
      'params.dry: got "yes"; expected true or false',
    ]);
    expect(messages({ action: 'compact', params: {} })).toEqual(['params.files: missing; required (integer)']);
    expect(messages({ action: 'compact', params: { files: '1', note: 'a\nb' } })).toEqual([
      'params.note: got "a\\nb"; expected no control characters (newline, tab, NUL)',
    ]);
    expect(messages({ action: 'compact', params: { files: 2 } })).toEqual([
      'params.files: got 2; expected a string (integer)',
    ]);
    expect(messages({ action: 'compact', role: 'master', params: { files: '1' } })).toEqual([
      'role: got "master"; action compact runs on worker',
    ]);
    expect(messages({ action: 'compact', members: ['c-master-0', 'zz'], params: { files: '1' } })).toEqual([
      'members[0]: c-master-0 is of role master; action compact runs on worker',
      'members[1]: got "zz"; not a member of the cluster (its members: c-master-0, c-worker-0, c-worker-1, c-edge-0)',
    ]);
    const broken = members.map((m) => (m.name === 'c-worker-1' ? { ...m, state: 'config error' } : m));
    expect(messages({ action: 'compact', params: { files: '1' } }, broken)).toEqual([
      'members: c-worker-1 (config error) not configured; an action runs on configured members (name the members, or kdflow retry first)',
    ]);
    expect(messages({ action: 'compact', params: { files: '1' } }, members.slice(0, 1))).toEqual([
      'members: no members to run on: worker has none',
    ]);
    expect(messages(undefined)).toEqual(['action: got nothing; expected one of compact, backup']);
  });

  it('formats the argv once: one word per parameter, spaces and all', () => {
    expect(actionArgv('backup', [['dest', '/x y']])).toEqual(['--action', 'backup', '--param', 'dest=/x y']);
    expect(runArgv({ event: 'action-backup', action: { name: 'backup', params: [] } }, 'c', 'ns')).toEqual([
      '--action',
      'backup',
    ]);
    expect(runArgv({ event: 'configure' }, 'c', 'ns')).toEqual(['--configure']);
    for (const ok of ['configure', 'delnodes', 'action-compact']) expect(isScriptEvent(ok)).toBe(true);
    for (const bad of ['action-', 'action-../x', 'action-A', 'reboot', 3]) expect(isScriptEvent(bad)).toBe(false);
  });
});

describe('the app’s action declarations', () => {
  it('refuses unknown roles, duplicates, enums without values, values on other types and defaults of the wrong type', () => {
    const spec = {
      ...app,
      actions: [
        { name: 'compact', roles: ['ghost'] },
        { name: 'compact' },
        { name: 'configure' },
        {
          name: 'tune',
          params: [
            { name: 'a', type: 'enum' },
            { name: 'a', type: 'integer', values: ['1'], default: 'x' },
          ],
        },
      ],
    };
    const result = checkAppSpec(spec);
    expect(result.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'actions[0].roles[0]: unknown role "ghost"',
      'actions[1].name: duplicate action name "compact"',
      'actions[2].name: action name "configure" is a lifecycle event\'s',
      'actions[3].params[0].values: an enum parameter needs at least one value',
      'actions[3].params[1].name: duplicate parameter name "a"',
      'actions[3].params[1].values: values are for enum parameters, not integer',
      'actions[3].params[1].default: got "x"; expected an integer',
    ]);
  });
});
