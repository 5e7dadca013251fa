import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { crdFiles } from '../../lib/crd-files.ts';

const walk = (node: unknown, visit: (o: Record<string, unknown>) => void): void => {
  if (Array.isArray(node)) node.forEach((n) => walk(n, visit));
  else if (node && typeof node === 'object') {
    visit(node as Record<string, unknown>);
    Object.values(node).forEach((n) => walk(n, visit));
  }
};

describe('CRDs generated from api/', () => {
  it.each(crdFiles())('%s matches the schemas (run npm run crds after changing api/)', async (file, text) => {
    expect(await readFile(file, 'utf8')).toBe(text);
  });

  it('are structural: no $ref, no anyOf, no additionalProperties beside properties', () => {
    for (const [, text] of crdFiles()) {
      expect(text).not.toMatch(/\$ref|anyOf|oneOf/);
      walk(parse(text), (o) => {
        if (o.properties) expect(o.additionalProperties).toBeUndefined();
      });
    }
  });
});
