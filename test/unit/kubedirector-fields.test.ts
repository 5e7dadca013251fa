/**
 * Every KubeDirector v1beta1 field (api/kubedirector-fields.ts) through the same path the CLI reads a
 * manifest: one catalog-shaped fixture per field (test/fixtures/kubedirector/fields/, written for
 * kdflow), which is supported silently, warned about by name, or refused by name. The README's
 * "Coming from KubeDirector" section lists every field.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KUBEDIRECTOR_FIELDS, ValidationError, memberName, type FieldRule } from '../../api/index.ts';
import { parseManifests, type Manifest } from '../../api/manifest.ts';
import { localPackageIssues } from '../../lib/package-url.ts';

const DIR = new URL('../fixtures/kubedirector/fields/', import.meta.url);
const slug = (rule: Pick<FieldRule, 'kind' | 'path'>) =>
  `${rule.kind}.${rule.path.replace('spec.', '').replaceAll('[]', '').replaceAll('.', '-')}.json`;
const read = (file: string) => readFileSync(new URL(file, DIR), 'utf8');
const parse = (file: string): Manifest => {
  const [manifest] = parseManifests(read(file), file);
  if (!manifest) throw new Error(`${file} holds no manifest`);
  return manifest;
};
const refusal = (file: string): ValidationError => {
  try {
    parse(file);
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error(`${file} was accepted`);
};
/** `spec.roles[].affinity` matches `spec.roles[1].affinity`. */
const matches = (rule: FieldRule) => new RegExp(`^${rule.path.replaceAll('.', '\\.').replaceAll('[]', '\\[\\d+\\]')}$`);

describe('every KubeDirector field, one fixture each', () => {
  it('has a fixture for every field in the table, and no fixture without a field or a test below', () => {
    const files = new Set(readdirSync(DIR));
    const expected = KUBEDIRECTOR_FIELDS.map(slug);
    for (const file of expected) expect(files.has(file), file).toBe(true);
    const extra = [
      'app.roles-id-collision.json',
      'app.defaultConfigPackage-image-path.json',
      'cluster.metadata-name-dotted.json',
      'cluster.namingScheme-UID.json',
    ];
    expect([...files].filter((f) => !expected.includes(f)).sort()).toEqual(extra.sort());
  });

  it.each(KUBEDIRECTOR_FIELDS.map((rule) => [`${rule.kind} ${rule.path} (${rule.status})`, rule] as const))(
    '%s',
    (_name, rule) => {
      const file = slug(rule);
      if (rule.whenSet === 'refuse') {
        const error = refusal(file);
        const issue = error.issues.find((i) => matches(rule).test(i.path));
        expect(issue, `${file}: ${error.message}`).toBeDefined();
        expect(issue?.message).toContain(rule.note);
        return;
      }
      const manifest = parse(file);
      const warned = manifest.warnings.filter((w) => matches(rule).test(w.path));
      if (rule.whenSet === 'warn') {
        expect(warned, file).toHaveLength(1);
        expect(warned[0]?.message).toContain(rule.note);
      } else {
        expect(manifest.warnings, file).toEqual([]);
      }
    },
  );

  it('keeps mixed-case and dotted role ids as given, with DNS-safe member names', () => {
    const manifest = parse(slug({ kind: 'app', path: 'spec.roles[].id' }));
    if (manifest.kind !== 'KdApp') throw new Error('expected an app');
    expect(manifest.value.spec.roles.map((r) => r.id)).toEqual(['controller', 'RESTServer.v2']);
    expect(memberName('fieldcheck-1', 'RESTServer.v2', 0)).toBe('fieldcheck-1-restserver-v2-0');
  });

  it('refuses two role ids with one DNS-safe name, naming both', () => {
    expect(refusal('app.roles-id-collision.json').message).toMatch(
      /spec\.roles\[1\]\.id: role id "loadbalancer" gives the same member names \(loadbalancer\) as role "LoadBalancer"/,
    );
  });

  it('accepts a dotted cluster name; its members and FQDNs use the DNS-safe form', () => {
    const manifest = parse('cluster.metadata-name-dotted.json');
    expect(manifest.value.metadata.name).toBe('ubuntu18.04');
    expect(memberName('ubuntu18.04', 'worker', 1)).toBe('ubuntu18-04-worker-1');
  });

  it('says which naming scheme is used: UID is warned about, CrNameRole is what kdflow does', () => {
    const uid = parse('cluster.namingScheme-UID.json');
    expect(uid.warnings).toEqual([
      {
        path: 'spec.namingScheme',
        message: expect.stringMatching(/<cluster>-<role>-<ordinal> \(the CrNameRole scheme\)/),
      },
    ]);
    expect(parse(slug({ kind: 'cluster', path: 'spec.namingScheme' })).warnings).toEqual([]);
  });

  it('refuses an image-style file:// package on the local runtime, saying why and what to use; Kubernetes takes it', async () => {
    const manifest = parse('app.defaultConfigPackage-image-path.json');
    if (manifest.kind !== 'KdApp') throw new Error('expected an app');
    const [issue, ...rest] = await localPackageIssues(manifest.value.spec, 'local');
    expect(rest).toEqual([]);
    expect(issue?.path).toBe('spec.defaultConfigPackage.packageURL');
    expect(issue?.message).toMatch(
      /^file:\/\/\/opt\/configscripts\/fieldcheck-appconfig\.tgz is not on this machine\./,
    );
    expect(issue?.message).toMatch(/path inside the member's image/);
    expect(issue?.message).toMatch(/or an http\(s\):\/\/ URL$/);
    expect(await localPackageIssues(manifest.value.spec, 'kubernetes')).toEqual([]);
  });
});

describe('README: Coming from KubeDirector', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## Coming from KubeDirector'));

  it.each(KUBEDIRECTOR_FIELDS.map((rule) => [`${rule.kind} ${rule.path}`, rule] as const))(
    'lists %s with its status',
    (_name, rule) => {
      const row = section.split('\n').find((line) => line.startsWith(`| ${rule.kind} | \`${rule.path}\` |`));
      expect(row, `${rule.kind} ${rule.path}`).toBeDefined();
      expect(row).toContain(`| ${rule.status} |`);
    },
  );
});
