/**
 * Connected ConfigMaps and Secrets as configmeta shows them (activities/connections.ts,
 * docs/adr/0044): grouped by KubeDirector's type label, a Secret's values base64 as Go writes []byte,
 * objects that are missing or unlabelled left out and named; the digest moves with any content.
 */
import { mkdtemp, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseManifests } from '../../api/manifest.ts';
import type { StoredObject, Topology } from '../../api/index.ts';
import { connectionsDigest, readConnections, type ConnectionReaders } from '../../activities/connections.ts';
import { getObject, putObject } from '../../lib/object-store.ts';

const FIXTURES = new URL('../fixtures/kubedirector/connections/', import.meta.url).pathname;
const manifest = async (file: string): Promise<StoredObject> => {
  const { readFile } = await import('node:fs/promises');
  const [m] = parseManifests(await readFile(path.join(FIXTURES, file), 'utf8'), file);
  if (m?.kind !== 'ConfigMap' && m?.kind !== 'Secret') throw new Error('expected a ConfigMap or Secret');
  return m.value;
};

describe('connected objects', () => {
  it('stores what `kdflow apply` took privately, and reads it back in KubeDirector shape', async () => {
    const home = await mkdtemp(path.join(os.tmpdir(), 'kdflow-objects-'));
    const settings = await manifest('settings.yaml');
    const credentials = await manifest('credentials.yaml');
    await putObject(home, 'default', settings);
    await putObject(home, 'default', credentials);
    expect((await stat(path.join(home, 'objects'))).mode & 0o777).toBe(0o700);
    expect((await stat(path.join(home, 'objects/default/secrets/credentials.json'))).mode & 0o777).toBe(0o600);
    await expect(getObject(home, 'Secret', 'default', '../x')).rejects.toThrow(/not a valid Secret/);

    const readers: ConnectionReaders = {
      object: (kind, namespace, name) => getObject(home, kind, namespace, name),
      cluster: async () => undefined,
    };
    const { content, notes } = await readConnections(
      'default',
      { clusters: ['gone'], configmaps: ['settings', 'absent'], secrets: ['credentials'] },
      readers,
    );
    expect(content.configmaps).toEqual({
      'store-settings': [
        {
          metadata: { name: 'settings' },
          data: { mode: 'fast' },
          labels: { 'kubedirector.hpe.com/cmType': 'store-settings' },
          annotations: {},
        },
      ],
    });
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    expect(content.secrets).toEqual({
      'store-credentials': [
        {
          metadata: { name: b64('credentials') },
          data: { password: b64('s3cret') },
          labels: { 'kubedirector.hpe.com/secretType': b64('store-credentials') },
          annotations: {},
        },
      ],
    });
    expect(content.clusters).toEqual({});
    expect(notes).toEqual([
      'connected cluster default/gone is not running',
      'connected ConfigMap default/absent not found',
    ]);

    const digest = connectionsDigest(content);
    await putObject(home, 'default', { ...settings, metadata: { ...settings.metadata, labels: {} } });
    const unlabelled = await readConnections('default', { configmaps: ['settings'] }, readers);
    expect(unlabelled.notes).toEqual([
      'connected ConfigMap default/settings has no kubedirector.hpe.com/cmType label: left out',
    ]);
    expect(connectionsDigest(unlabelled.content)).not.toBe(digest);
  });

  it('warns at apply about a ConfigMap without its type label, naming the label', () => {
    const [m] = parseManifests('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain}\ndata: {a: b}\n', 'cm.yaml');
    expect(m?.warnings).toEqual([
      {
        path: 'metadata.labels.kubedirector.hpe.com/cmType',
        message: 'not set: a connected ConfigMap without it is left out of configmeta, as KubeDirector does',
      },
    ]);
    expect(() =>
      parseManifests('apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: "not base64!"}\n', 's.yaml'),
    ).toThrow(/data\.a: a Secret's data values are base64; use stringData for plain text/);
  });

  it('gives a connected cluster its own digest', () => {
    const topology = { namespace: 'default', cluster: 'db', clusterId: 'x', roles: [] } as unknown as Topology;
    const one = connectionsDigest({ clusters: { db: topology }, configmaps: {}, secrets: {} });
    const two = connectionsDigest({ clusters: { db: { ...topology, clusterId: 'y' } }, configmaps: {}, secrets: {} });
    expect(one).not.toBe(two);
  });
});
