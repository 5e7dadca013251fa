import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { kdflowCrds } from '../api/crds.ts';

const CRDS_DIR = fileURLToPath(new URL('../crds/', import.meta.url));

/** File path → YAML text of every generated CRD. */
export function crdFiles(): [string, string][] {
  return kdflowCrds().map((crd) => {
    const name = (crd.metadata as { name: string }).name;
    return [
      path.join(CRDS_DIR, `${name}.yaml`),
      `# Generated from api/ by \`npm run crds\`. Do not edit.\n${stringify(crd)}`,
    ];
  });
}
