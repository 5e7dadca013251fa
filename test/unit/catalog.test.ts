/**
 * The shared catalog's pure logic (api/catalog.ts), the pins `kdflow app apply` makes
 * (lib/package-pin.ts) and the shim's mirror of KdApp objects (shim/catalog-mirror.ts).
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import {
  CATALOG_MAX_BYTES,
  CatalogRefusal,
  KdAppSpec,
  deleteAppVersion,
  emptyCatalog,
  findAppVersion,
  listCatalog,
  parseDeleteRequest,
  parsePutRequest,
  putAppVersion,
  specDifference,
  type CatalogState,
  type KdApp,
} from '../../api/index.ts';
import { pinPackages } from '../../lib/package-pin.ts';
import { CatalogMirror } from '../../shim/catalog-mirror.ts';
import type { CrObject } from '../../shim/resources.ts';

const spec = (version: string, extra: Record<string, unknown> = {}): KdAppSpec =>
  KdAppSpec.parse({
    label: { name: 'Demo' },
    distroID: 'test/demo',
    version,
    defaultImageRepoTag: 'demo:1',
    roles: [{ id: 'node', cardinality: '1+' }],
    ...extra,
  });

const refusal = (fn: () => unknown): CatalogRefusal => {
  try {
    fn();
  } catch (error) {
    if (error instanceof CatalogRefusal) return error;
    throw error;
  }
  throw new Error('not refused');
};

function put(state: CatalogState, version: string, extra?: Record<string, unknown>, name = 'demo') {
  return putAppVersion(state, { name, app: spec(version, extra) }, `2026-12-01T00:00:0${version.length}Z`);
}

describe('the catalog of a namespace', () => {
  it('keeps every version; the one applied last is current; an identical re-apply makes an older one current again', () => {
    let state = emptyCatalog();
    let step = put(state, '1.0');
    expect(step.result).toEqual({ outcome: 'added', version: '1.0', versions: ['1.0'] });
    step = put(step.state, '2.0');
    expect(step.result).toEqual({ outcome: 'added', version: '2.0', previous: '1.0', versions: ['1.0', '2.0'] });
    state = step.state;
    expect(put(state, '2.0')).toMatchObject({ state, result: { outcome: 'unchanged' } });
    step = put(state, '1.0');
    expect(step.result).toMatchObject({ outcome: 'current again', previous: '2.0' });
    expect(listCatalog(step.state)).toEqual([
      {
        name: 'demo',
        current: '1.0',
        versions: [
          { version: '1.0', label: 'Demo', roles: ['node(1+)'], appliedAt: expect.any(String) },
          { version: '2.0', label: 'Demo', roles: ['node(1+)'], appliedAt: expect.any(String) },
        ],
      },
    ]);
    expect(findAppVersion(step.state, { name: 'demo' })).toMatchObject({ snapshot: { version: '1.0', current: true } });
    expect(findAppVersion(step.state, { name: 'demo', version: '2.0' })).toMatchObject({
      snapshot: { version: '2.0', current: false, app: { version: '2.0' } },
    });
    expect(findAppVersion(step.state, { name: 'demo', version: '3' })).toEqual({
      versions: ['1.0', '2.0'],
      current: '1.0',
    });
    expect(findAppVersion(step.state, { name: 'other' })).toEqual({ versions: [] });
  });

  it('refuses another spec under a version that is there, naming the version and the first field that differs', () => {
    const { state } = put(emptyCatalog(), '1.0', { scriptTimeoutSeconds: 60 });
    const error = refusal(() => put(state, '1.0', { scriptTimeoutSeconds: 90 }));
    expect(error.type).toBe('AppVersionConflict');
    expect(error.message).toBe(
      'app demo version 1.0 is already in the catalog with another spec (spec.scriptTimeoutSeconds: 60 in the catalog, 90 applied); a version means one spec: give the changed app a new spec.version (versions there: 1.0)',
    );
  });

  it('names differences inside lists and a field added', () => {
    const a = spec('1', { roles: [{ id: 'node', cardinality: '1+' }] });
    expect(specDifference(a, spec('1', { roles: [{ id: 'node', cardinality: '2+' }] }))).toBe(
      'spec.roles[0].cardinality: "1+" in the catalog, "2+" applied',
    );
    expect(
      specDifference(
        a,
        spec('1', {
          roles: [
            { id: 'a', cardinality: '1' },
            { id: 'b', cardinality: '1' },
          ],
        }),
      ),
    ).toBe('spec.roles: 1 item(s) in the catalog, 2 applied');
    expect(specDifference(a, { ...a, defaultConfigPackage: { packageURL: 'https://x/p.tgz' } })).toBe(
      'spec.defaultConfigPackage: nothing in the catalog, {"packageURL":"https://x/p.tgz"} applied',
    );
    expect(specDifference(a, structuredClone(a))).toBeUndefined();
  });

  it('deletes a version; the current one goes to the version added last; the last version takes the app', () => {
    let state = put(put(put(emptyCatalog(), '1').state, '2').state, '3').state;
    let step = deleteAppVersion(state, { name: 'demo', version: '3' });
    expect(step.result).toEqual({ current: '2', versions: ['1', '2'] });
    step = deleteAppVersion(step.state, { name: 'demo', version: '1' });
    expect(step.result).toEqual({ current: '2', versions: ['2'] });
    state = deleteAppVersion(step.state, { name: 'demo', version: '2' }).state;
    expect(state).toEqual({ apps: [] });
    const error = refusal(() => deleteAppVersion(put(emptyCatalog(), '1').state, { name: 'demo', version: '9' }));
    expect([error.type, error.message]).toEqual([
      'UnknownAppVersion',
      'app "demo" has no version "9"; its versions: 1 (current 1)',
    ]);
  });

  it('keeps apps sorted by name, and stays within its byte bound', () => {
    const state = put(put(emptyCatalog(), '1', {}, 'zeta').state, '1', {}, 'alpha').state;
    expect(state.apps.map((a) => a.name)).toEqual(['alpha', 'zeta']);
    // Four versions of a quarter MiB each (near the largest spec there may be) fit; the fifth does not.
    const big = { label: { name: 'Demo', description: 'x'.repeat(250_000) } };
    let full = state;
    for (const version of ['2', '3', '4', '5']) full = put(full, version, big).state;
    expect(JSON.stringify(full).length).toBeLessThan(CATALOG_MAX_BYTES);
    const error = refusal(() => put(full, '6', big));
    expect(error.type).toBe('CatalogFull');
    expect(error.message).toMatch(
      /^app demo version 6 would make the catalog \d+ bytes, over its limit of 1048576; delete versions/,
    );
  });

  it('checks what a client sends, naming the field and the value', () => {
    expect(refusal(() => parsePutRequest({ name: 'Bad_Name', app: spec('1') })).message).toBe(
      `metadata.name must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit), got "Bad_Name"`,
    );
    expect(refusal(() => parsePutRequest({ name: 'demo', app: { ...spec('1'), version: '' } })).message).toMatch(
      /^app demo: spec\.version: /,
    );
    expect(refusal(() => parseDeleteRequest({ name: 'demo' })).message).toBe(
      'version: got nothing; expected a version of app demo',
    );
    expect(parsePutRequest({ name: 'demo', app: { ...spec('1'), retry: undefined } }).app.retry).toEqual(
      spec('1').retry,
    );
  });
});

describe('pinning http(s) packages at apply', () => {
  const pkg = (url: string, sha256?: string) => ({ packageURL: url, ...(sha256 ? { sha256 } : {}) });

  it('pins each http(s) URL once, keeps file:// and directories as they are, and reuses a pin the catalog has', async () => {
    const fetched: string[] = [];
    const digest = async (url: string) => (fetched.push(url), url.endsWith('a.tgz') ? 'a'.repeat(64) : 'b'.repeat(64));
    const app = spec('1', {
      defaultConfigPackage: pkg('https://h/a.tgz'),
      roles: [
        { id: 'x', cardinality: '1' },
        { id: 'y', cardinality: '1', configPackage: pkg('https://h/a.tgz') },
        { id: 'z', cardinality: '1', configPackage: pkg('file:///opt/p.tgz') },
        { id: 'w', cardinality: '1', configPackage: pkg('http://h/b.tgz', 'c'.repeat(64)) },
      ],
    });
    const { app: pinned, pinned: made } = await pinPackages(app, undefined, digest);
    expect(fetched).toEqual(['https://h/a.tgz']);
    expect(made).toEqual([{ path: 'spec.defaultConfigPackage', url: 'https://h/a.tgz', sha256: 'a'.repeat(64) }]);
    expect(pinned.defaultConfigPackage).toEqual(pkg('https://h/a.tgz', 'a'.repeat(64)));
    expect(pinned.roles.map((r) => r.configPackage)).toEqual([
      undefined,
      pkg('https://h/a.tgz', 'a'.repeat(64)),
      pkg('file:///opt/p.tgz'),
      pkg('http://h/b.tgz', 'c'.repeat(64)),
    ]);
    const again = await pinPackages(app, pinned, async () => {
      throw new Error('fetched');
    });
    expect(again.pinned).toEqual([]);
    expect(again.app).toEqual(pinned);
  });

  it('says which field it could not pin, and how to apply without fetching', async () => {
    const app = spec('1', { roles: [{ id: 'x', cardinality: '1', configPackage: pkg('https://h/gone.tgz') }] });
    await expect(
      pinPackages(app, undefined, async () => {
        throw new Error('config package https://h/gone.tgz answered HTTP 404');
      }),
    ).rejects.toThrow(
      'spec.roles[0].configPackage.packageURL: could not fetch https://h/gone.tgz to pin its sha256 (config package https://h/gone.tgz answered HTTP 404); give configPackage.sha256 in the app to apply it without fetching',
    );
  });
});

describe("the shim's mirror of KdApp objects", () => {
  const object = (version: string, generation: number, spec: unknown = { ...specInput, version }): CrObject => ({
    metadata: { name: 'demo', namespace: 'ns', uid: 'u1', generation },
    spec,
  });
  const specInput = {
    label: { name: 'Demo' },
    distroID: 'd',
    defaultImageRepoTag: 'i',
    roles: [{ id: 'n', cardinality: '1' }],
  };

  it('puts each generation once, reports a refusal once, and tries again after a failure', async () => {
    const puts: KdApp[] = [];
    const refused: string[] = [];
    let next: Error | undefined;
    const mirror = new CatalogMirror(
      {
        put: async (_ns, app) => {
          puts.push(app);
          if (next) {
            const error = next;
            next = undefined;
            throw error;
          }
          return { outcome: 'added', version: app.spec.version, versions: [app.spec.version] };
        },
      },
      pino({ level: 'silent' }),
      (_app, message) => refused.push(message),
    );
    expect(await mirror.mirror(object('1', 1))).toBeUndefined();
    expect(await mirror.mirror(object('1', 1))).toBeUndefined();
    expect(puts.map((p) => [p.metadata, p.spec.version])).toEqual([[{ name: 'demo', namespace: 'ns' }, '1']]);
    next = new CatalogRefusal('AppVersionConflict', 'app demo version 1 is already in the catalog with another spec');
    expect(await mirror.mirror(object('1', 2, { ...specInput, version: '1', systemdRequired: true }))).toContain(
      'already in the catalog',
    );
    expect(refused).toHaveLength(1);
    next = new Error('Temporal is away');
    expect(await mirror.mirror(object('2', 3))).toBeUndefined();
    expect(await mirror.mirror(object('2', 3))).toBeUndefined();
    expect(puts.map((p) => p.spec.version)).toEqual(['1', '1', '2', '2']);
    // An invalid app is not put (forward.ts refuses its clusters with its own reason).
    expect(await mirror.mirror(object('3', 4, { version: '3' }))).toBeUndefined();
    expect(puts).toHaveLength(4);
  });
});
