/**
 * The "no shell strings from user input" rule, checked on the source: every process kdflow starts is
 * an argv, never a command line. Flags exec/execSync from child_process, `shell:` options, commands
 * built by template or `+`, `sh -c` with a script that is not a constant, eval and new Function, and
 * in shell files eval and unquoted "$@".
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export const SOURCE_DIRS = [
  'api',
  'activities',
  'cli',
  'lib',
  'runtimes',
  'scripts',
  'shim',
  'testing',
  'worker',
  'workflows',
];
const PROCESS_CALLS = new Set(['spawn', 'spawnSync', 'execFile', 'execFileSync', 'fork']);
const SHELL_CALLS = new Set(['exec', 'execSync']);
const SHELLS = new Set(['sh', 'bash', '/bin/sh', '/bin/bash', 'zsh', 'dash']);

export interface Finding {
  file: string;
  line: number;
  what: string;
}

/** Built strings: a template with substitutions, or a `+` with a non-literal side. */
function isBuilt(node: ts.Node): boolean {
  if (ts.isTemplateExpression(node)) return true;
  if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.PlusToken) return true;
  if (ts.isParenthesizedExpression(node)) return isBuilt(node.expression);
  return false;
}

const literalText = (node: ts.Node | undefined) =>
  node && (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) ? node.text : undefined;

export function scanTypeScript(file: string, source: string): Finding[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true);
  const findings: Finding[] = [];
  const add = (node: ts.Node, what: string) =>
    findings.push({ file, line: sf.getLineAndCharacterOfPosition(node.getStart()).line + 1, what });
  // Names bound to child_process: `import { spawn as s }` and `import * as cp`.
  const named = new Map<string, string>();
  const namespaces = new Set<string>();
  for (const stmt of sf.statements) {
    if (!ts.isImportDeclaration(stmt) || !ts.isStringLiteral(stmt.moduleSpecifier)) continue;
    if (!['child_process', 'node:child_process'].includes(stmt.moduleSpecifier.text)) continue;
    const bindings = stmt.importClause?.namedBindings;
    if (bindings && ts.isNamespaceImport(bindings)) namespaces.add(bindings.name.text);
    if (bindings && ts.isNamedImports(bindings))
      for (const el of bindings.elements) named.set(el.name.text, (el.propertyName ?? el.name).text);
    if (stmt.importClause?.name) namespaces.add(stmt.importClause.name.text);
  }
  const processFunction = (callee: ts.Expression): string | undefined => {
    if (ts.isIdentifier(callee)) return named.get(callee.text);
    if (
      ts.isPropertyAccessExpression(callee) &&
      ts.isIdentifier(callee.expression) &&
      namespaces.has(callee.expression.text)
    )
      return callee.name.text;
    return undefined;
  };
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node)) {
      const fn = processFunction(node.expression);
      if (fn && SHELL_CALLS.has(fn)) add(node, `${fn}() runs a shell command line`);
      if (fn && PROCESS_CALLS.has(fn)) {
        const [command, args] = node.arguments;
        if (command && isBuilt(command)) add(command, `${fn}() with a command built from strings`);
        if (args && ts.isArrayLiteralExpression(args) && SHELLS.has(literalText(command) ?? ''))
          shellDashC(args.elements, 0);
      }
      if (ts.isIdentifier(node.expression) && node.expression.text === 'eval') add(node, 'eval()');
    }
    if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'Function')
      add(node, 'new Function()');
    // `shell: true` (or any shell) in process options.
    if (
      ts.isPropertyAssignment(node) &&
      ts.isIdentifier(node.name) &&
      node.name.text === 'shell' &&
      node.initializer.kind !== ts.SyntaxKind.FalseKeyword
    ) {
      const call = node.parent?.parent;
      if (call && ts.isCallExpression(call) && processFunction(call.expression))
        add(node, `${node.getText(sf)} in process options`);
    }
    // ['sh', '-c', SCRIPT, …] anywhere (argv arrays handed to exec APIs, such as the Kubernetes runtime's).
    if (ts.isArrayLiteralExpression(node) && SHELLS.has(literalText(node.elements[0]) ?? ''))
      shellDashC(node.elements, 1);
    ts.forEachChild(node, visit);
  };
  const shellDashC = (elements: ts.NodeArray<ts.Expression>, from: number) => {
    const at = elements.findIndex((e, i) => i >= from && literalText(e) === '-c');
    const script = at >= 0 ? elements[at + 1] : undefined;
    if (script && isBuilt(script))
      add(script, 'sh -c with a script built from strings (pass values as positional parameters)');
  };
  visit(sf);
  return findings;
}

export function scanShell(file: string, source: string): Finding[] {
  const findings: Finding[] = [];
  source.split('\n').forEach((raw, i) => {
    const line = raw.replace(/(^|\s)#.*$/, '');
    if (/(^|[\s;&|(])eval(\s|$)/.test(line)) findings.push({ file, line: i + 1, what: 'eval' });
    // "$@" keeps each argument whole; a bare $@ or $* splits and globs them.
    const bare = line.replace(/"[^"]*"/g, '""');
    if (/\$[@*]|\$\{[@*]\}/.test(bare)) findings.push({ file, line: i + 1, what: 'unquoted $@ or $*' });
  });
  return findings;
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry.startsWith('.')) continue;
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) out.push(...walk(full));
    else if (/\.(ts|js|mjs|sh)$/.test(entry)) out.push(full);
  }
  return out;
}

/** Every finding in kdflow's own code (tests are not scanned: they may build archives with system tar). */
export function scanSource(root: string): { files: number; findings: Finding[] } {
  const files = SOURCE_DIRS.flatMap((d) => {
    try {
      return walk(path.join(root, d));
    } catch {
      return [];
    }
  });
  const findings = files.flatMap((file) => {
    const source = readFileSync(file, 'utf8');
    const rel = path.relative(root, file);
    return file.endsWith('.sh') ? scanShell(rel, source) : scanTypeScript(rel, source);
  });
  return { files: files.length, findings };
}
