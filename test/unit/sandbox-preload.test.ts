/**
 * The api contract is shared, deep-frozen, by every workflow in a worker (workflows/preload.ts). This
 * freezes it as the SDK does (own properties, read and frozen depth-first) after the warm-up, then
 * runs every validation path the workflow uses over good and bad input: none may throw a TypeError
 * from a frozen schema, and the answers must be the ones an unfrozen contract gives.
 */
import { describe, expect, it } from 'vitest';
import * as contract from '../../api/contract.ts';
import { GOOD_APP, badSpecs, baseClusterSpec } from '../../scripts/chaos/bad-specs.ts';
import { warmLazyInternals } from '../../workflows/preload.ts';

function deepFreezeLikeTheSdk(object: unknown, visited = new WeakSet<object>()): void {
  if (object === null || (typeof object !== 'object' && typeof object !== 'function') || visited.has(object)) return;
  visited.add(object);
  if (Object.isFrozen(object)) return;
  if (typeof object === 'object') {
    for (const name of [...Object.getOwnPropertyNames(object), ...Object.getOwnPropertySymbols(object)]) {
      const value = (object as Record<PropertyKey, unknown>)[name];
      try {
        deepFreezeLikeTheSdk(value, visited);
      } catch {
        // Typed arrays and the like cannot be frozen; the SDK skips them too.
      }
    }
  }
  Object.freeze(object);
}

describe('the shared, frozen workflow contract', () => {
  const app = contract.KdAppSpec.parse({
    label: { name: 'a' },
    distroID: 'd',
    version: '1',
    defaultImageRepoTag: 'i:1',
    defaultConfigPackage: { packageURL: 'file:///p' },
    roles: [
      { id: 'controller', cardinality: '1' },
      { id: 'worker', cardinality: '0+', eventList: ['configure', 'addnodes'] },
    ],
  });
  const inputs: unknown[] = [
    { namespace: 'default', name: 'c', appName: GOOD_APP, app, spec: { app: GOOD_APP, roles: [{ id: 'controller' }] } },
    { namespace: 'Bad_NS', name: '', appName: 'x', app: { roles: 'no' }, spec: { app: 1, roles: [{ id: '__proto__', members: -1, env: [{ name: '1x', value: 2 }] }] } },
    null,
    [],
    'text',
    { namespace: 'default', name: 'c', appName: GOOD_APP, app: { ...app, roles: [] }, spec: { app: GOOD_APP, roles: [{ id: 'controller', members: 2 }] } },
  ];
  const offers = badSpecs(app).flatMap((b) => (b.workflow ? [b.workflow] : []));
  inputs.push(...offers.flatMap((o) => (o.via === 'start' ? [o.input] : [])));
  const specs = [baseClusterSpec(), ...offers.flatMap((o) => (o.via === 'start' ? [] : [o.spec]))];
  const answers = () => [
    ...inputs.map((i) => JSON.stringify(contract.parseClusterInput(i))),
    ...specs.map((s) => JSON.stringify(contract.checkChange('c', { app: GOOD_APP, roles: [{ id: 'controller' }] }, s, app))),
    JSON.stringify(contract.resizedSpec({ app: GOOD_APP, roles: [{ id: 'controller' }] }, { worker: 3 })),
  ];

  it('validates exactly as before once warmed and frozen, without a TypeError', () => {
    const before = answers();
    expect(warmLazyInternals(contract)).toBeGreaterThan(0);
    deepFreezeLikeTheSdk(contract);
    expect(Object.isFrozen(contract.KdClusterSpec)).toBe(true);
    expect(answers()).toEqual(before);
  });
});
