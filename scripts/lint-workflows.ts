/**
 * Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, and activities only as
 * types. tsc cannot say that, so this check reads every import in workflows/ and api/ (which the
 * workflow bundle includes) and fails on a violation.
 */
import { builtinModules } from 'node:module';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const SANDBOXED = ['workflows', 'api'];
// Node-side code the sandbox may know only as types.
const NODE_SIDE = ['activities', 'runtimes', 'lib', 'cli', 'shim', 'worker', 'scripts', 'testing'];
const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** Every import and re-export of a file, and whether it is for types only. */
function importsOf(
  file: string,
  source: string,
): { spec: string; typeOnly: boolean; node: ts.Node; sf: ts.SourceFile }[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true);
  const found: { spec: string; typeOnly: boolean; node: ts.Node; sf: ts.SourceFile }[] = [];
  for (const stmt of sf.statements) {
    if (ts.isImportDeclaration(stmt) && ts.isStringLiteral(stmt.moduleSpecifier)) {
      const clause = stmt.importClause;
      const named =
        clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : undefined;
      const typeOnly = Boolean(
        clause?.isTypeOnly || (clause && !clause.name && named && named.length > 0 && named.every((e) => e.isTypeOnly)),
      );
      found.push({ spec: stmt.moduleSpecifier.text, typeOnly, node: stmt, sf });
    }
    if (ts.isExportDeclaration(stmt) && stmt.moduleSpecifier && ts.isStringLiteral(stmt.moduleSpecifier))
      found.push({ spec: stmt.moduleSpecifier.text, typeOnly: stmt.isTypeOnly, node: stmt, sf });
  }
  return found;
}

/** The modules a file loads at run time (type-only imports and exports left out), as written. */
export function valueImports(file: string, source: string): string[] {
  return importsOf(file, source)
    .filter((i) => !i.typeOnly)
    .map((i) => i.spec);
}

/**
 * zod must not reach the workflow bundle (docs/adr/0013): its schemas are rebuilt per workflow and
 * changed on first use, so they can be neither shared nor cheap. Follows the value imports from
 * `entry` through api/ and workflows/ and names the chain to any file that loads zod.
 */
export function zodChains(entry: string, read: (file: string) => string): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  const visit = (file: string, chain: string[]) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of valueImports(file, read(file))) {
      if (spec === 'zod' || spec.startsWith('zod/')) problems.push(`${[...chain, file].join(' → ')} loads zod`);
      else if (spec.startsWith('.'))
        visit(path.relative('.', path.resolve(path.dirname(file), spec)), [...chain, file]);
    }
  };
  visit(entry, []);
  return problems;
}

export function importViolations(file: string, source: string): string[] {
  const problems: string[] = [];
  for (const { spec, typeOnly, node, sf } of importsOf(file, source)) {
    const where = `${file}:${sf.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
    if (builtins.has(spec) || spec.startsWith('node:')) problems.push(`${where}: imports the Node built-in "${spec}"`);
    const resolved = spec.startsWith('.') ? path.relative('.', path.resolve(path.dirname(file), spec)) : '';
    const top = resolved.split(path.sep)[0] ?? '';
    if (NODE_SIDE.includes(top) && !typeOnly) problems.push(`${where}: imports ${spec} as a value; use "import type"`);
    // The workflow bundle gets the contract and nothing else of api/: edge code stays out (docs/adr/0013).
    if (
      file.startsWith(`workflows${path.sep}`) &&
      top === 'api' &&
      resolved !== path.join('api', 'contract.ts') &&
      !typeOnly
    )
      problems.push(`${where}: imports ${spec} as a value; workflows/ imports api/contract.ts`);
  }
  return problems;
}

if (import.meta.main) {
  const problems = SANDBOXED.flatMap((dir) =>
    readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .flatMap((f) => importViolations(path.join(dir, f), readFileSync(path.join(dir, f), 'utf8'))),
  );
  problems.push(
    ...['index.ts', 'preload.ts']
      .flatMap((entry) => zodChains(path.join('workflows', entry), (f) => readFileSync(f, 'utf8')))
      .map((chain) => `${chain}: the workflow bundle must not load zod (use api/light-check.ts)`),
  );
  for (const p of problems) process.stderr.write(`lint: ${p}\n`);
  if (problems.length > 0) process.exit(1);
  process.stdout.write(
    `lint: ${SANDBOXED.join(', ')} import no Node built-ins and no activity values; the workflow bundle loads no zod\n`,
  );
}
