// Keeps the source tree's layers running one way (docs/architecture.md, "Layers"). Reads every .ts
// file under src/, collects the specifiers of its static imports, `export ... from` re-exports and
// dynamic `import('...')` (type-only imports too: a type import is a dependency all the same),
// maps each file to its layer and fails, listing the offending lines, on:
// - an import from a higher layer;
// - an import cycle between files (one concrete cycle per tangle is printed);
// - a relative import that is no .ts file under src/, or a file in no layer;
// - file-system access outside io/, and any io/ import from the layers that must do no I/O.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src');

/**
 * The layers, lowest first. A file may import files of its own layer and of the layers below it.
 * `errors.ts` (the one error class) sits under everything, so every file may import it; the
 * package entry (src/index.ts) and the command line share the top.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['errors.ts'], // the error class and its codes
  ['io/'], // the file-system interface: node:fs, and the simulated disk
  ['model/'], // value types, their limits and input checks; Lsn, RecordInput, LogRecord
  ['codec/'], // record kinds, fixed-layout bytes, CRC, framing, sign bytes, Merkle hashing
  ['log/'], // the segmented write-ahead log
  ['btree/'], // the in-memory B+tree, its keys, the sorted sets built on them
  ['cold/'], // the cold tier: immutable compressed files of finalized records, their manifest
  ['stores/'], // the stores
  ['store-options.ts', 'store.ts', 'restore.ts', 'key-rotation.ts', 'backup/'], // openStore: its options, the wiring; restoreFromSnapshot; rotateNodeKey; backups and their restore
  ['pg/'], // openPostgresStore: the same ConsensusStore on a PostgreSQL database
  ['consensus/'], // the reference engine
  ['index.ts', 'entries/', 'testing/', 'cli/'], // the package entries (root, subpaths, testing) and the command line
];

/** Layers that must do no I/O: below the order's own rule, they may not import io/ either. */
const NO_IO_LAYERS: readonly string[] = ['model/', 'codec/'];

/** The file-system modules: only io/ may import them (D9, docs/durability.md). */
const FS_MODULES: ReadonlySet<string> = new Set(['fs', 'fs/promises', 'node:fs', 'node:fs/promises']);

/** The layer of a path relative to src/ ('/'-separated), or undefined when it has none. */
function layerOf(rel: string): number | undefined {
  for (let rank = 0; rank < LAYERS.length; rank++) {
    for (const entry of LAYERS[rank]!) {
      if (entry.endsWith('/') ? rel.startsWith(entry) : rel === entry) return rank;
    }
  }
  return undefined;
}

function layerName(rank: number): string {
  return LAYERS[rank]!.join(' + ');
}

interface ImportEdge {
  readonly specifier: string;
  readonly line: number;
}

/** Every module specifier the file names: imports, re-exports, dynamic imports, import types. */
function importsOf(fileName: string, text: string): ImportEdge[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const edges: ImportEdge[] = [];
  const add = (node: ts.Node, spec: ts.Node | undefined): void => {
    if (spec !== undefined && ts.isStringLiteralLike(spec)) {
      const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
      edges.push({ specifier: spec.text, line });
    }
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) {
      add(node, node.moduleSpecifier);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node, node.arguments[0]);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node, node.argument.literal);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node, node.moduleReference.expression);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return edges;
}

interface Graph {
  /** Files relative to src/, '/'-separated, sorted. */
  readonly files: readonly string[];
  /** Imports of files under src/, per file. */
  readonly edges: ReadonlyMap<string, readonly { readonly to: string; readonly line: number }[]>;
  /** Imports of packages and built-ins (`node:fs`, `msgpackr`, ...), per file. */
  readonly external: ReadonlyMap<string, readonly ImportEdge[]>;
  /** Relative imports that name no .ts file under src/. */
  readonly unresolved: readonly string[];
}

/** The import graph of a set of sources, keyed by path relative to src/. */
function graphOf(sources: ReadonlyMap<string, string>): Graph {
  const files = [...sources.keys()].sort();
  const edges = new Map<string, { to: string; line: number }[]>();
  const external = new Map<string, ImportEdge[]>();
  const unresolved: string[] = [];
  for (const file of files) {
    const out: { to: string; line: number }[] = [];
    const packages: ImportEdge[] = [];
    for (const edge of importsOf(file, sources.get(file)!)) {
      if (!edge.specifier.startsWith('.')) {
        packages.push(edge);
        continue;
      }
      const target = posix.normalize(posix.join(posix.dirname(file), edge.specifier)).replace(/\.js$/, '.ts');
      if (!sources.has(target)) {
        unresolved.push(`src/${file}:${edge.line} imports '${edge.specifier}', which is no .ts file under src/`);
        continue;
      }
      out.push({ to: target, line: edge.line });
    }
    edges.set(file, out);
    external.set(file, packages);
  }
  return { files, edges, external, unresolved };
}

function readSources(): Map<string, string> {
  const sources = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (name.endsWith('.ts')) sources.set(relative(SRC, full).split(sep).join('/'), readFileSync(full, 'utf8'));
    }
  };
  walk(SRC);
  return sources;
}

/** Files in no layer. */
function unlayered(graph: Graph): string[] {
  return graph.files.filter((f) => layerOf(f) === undefined).map((f) => `src/${f}`);
}

/** Imports that point at a higher layer, one line each. */
function upwardImports(graph: Graph): string[] {
  const found: string[] = [];
  for (const [from, outs] of graph.edges) {
    const fromRank = layerOf(from);
    if (fromRank === undefined) continue;
    for (const { to, line } of outs) {
      const toRank = layerOf(to);
      if (toRank !== undefined && toRank > fromRank) {
        found.push(`src/${from}:${line} (${layerName(fromRank)}) imports src/${to} (${layerName(toRank)})`);
      }
    }
  }
  return found;
}

/** File-system access outside io/, and io/ imports from the layers that must do no I/O. */
function ioOutsideIo(graph: Graph): string[] {
  const found: string[] = [];
  for (const file of graph.files) {
    if (file.startsWith('io/')) continue;
    for (const { specifier, line } of graph.external.get(file) ?? []) {
      if (FS_MODULES.has(specifier)) found.push(`src/${file}:${line} imports '${specifier}': only io/ touches the file system`);
    }
    if (!NO_IO_LAYERS.some((layer) => file.startsWith(layer))) continue;
    for (const { to, line } of graph.edges.get(file) ?? []) {
      if (to.startsWith('io/')) found.push(`src/${file}:${line} imports src/${to}: ${file.split('/')[0]}/ does no I/O`);
    }
  }
  return found;
}

/**
 * Every strongly connected component of the file graph with more than one file (or a file that
 * imports itself), as one concrete cycle through it: a -> b -> ... -> a.
 */
function importCycles(graph: Graph): string[] {
  const succ = (f: string): string[] => (graph.edges.get(f) ?? []).map((e) => e.to);
  // Tarjan's algorithm, iterative (no recursion depth limit to worry about).
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  const enter = (file: string): void => {
    index.set(file, counter);
    low.set(file, counter++);
    stack.push(file);
    onStack.add(file);
  };
  for (const root of graph.files) {
    if (index.has(root)) continue;
    enter(root);
    const work: { node: string; next: number }[] = [{ node: root, next: 0 }];
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const outs = succ(frame.node);
      if (frame.next < outs.length) {
        const to = outs[frame.next++]!;
        if (!index.has(to)) {
          enter(to);
          work.push({ node: to, next: 0 });
        } else if (onStack.has(to)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(to)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        components.push(component);
      }
    }
  }
  const cycles: string[] = [];
  for (const component of components) {
    const members = new Set(component);
    const start = [...component].sort()[0]!;
    if (component.length === 1 && !succ(start).includes(start)) continue;
    // The shortest path from `start` back to itself inside the component (breadth first).
    const previous = new Map<string, string>();
    const queue = [start];
    let closing: string | undefined;
    while (queue.length > 0 && closing === undefined) {
      const at = queue.shift()!;
      for (const to of succ(at)) {
        if (!members.has(to)) continue;
        if (to === start) {
          closing = at;
          break;
        }
        if (!previous.has(to)) {
          previous.set(to, at);
          queue.push(to);
        }
      }
    }
    const path = [start];
    for (let at = closing!; at !== start; at = previous.get(at)!) path.splice(1, 0, at);
    const tangle = component.length > path.length ? ` (${component.length} files tangled in all)` : '';
    cycles.push([...path, start].map((f) => `src/${f}`).join(' -> ') + tangle);
  }
  return cycles.sort();
}

describe('source layers', () => {
  const graph = graphOf(readSources());

  it('finds the files and their imports', () => {
    expect(graph.files).toContain('index.ts');
    expect(graph.files.length).toBeGreaterThan(50);
    expect([...graph.edges.values()].reduce((n, outs) => n + outs.length, 0)).toBeGreaterThan(100);
  });

  it('puts every file under src/ in a layer', () => {
    expect(unlayered(graph)).toEqual([]);
  });

  it('resolves every relative import to a .ts file under src/', () => {
    expect(graph.unresolved).toEqual([]);
  });

  it('has no import from a higher layer', () => {
    expect(upwardImports(graph)).toEqual([]);
  });

  it('has no import cycle between files', () => {
    expect(importCycles(graph)).toEqual([]);
  });

  it('touches the file system only in io/, and model/ and codec/ import nothing of io/', () => {
    expect(ioOutsideIo(graph)).toEqual([]);
  });
});

describe('the layer checks themselves', () => {
  it('read imports, re-exports, dynamic imports and import types, and skip comments and strings', () => {
    const text = [
      "// import x from './comment.ts';",
      "import type { A } from './a.ts';",
      "export { b } from './b.ts';",
      "export * as e from './e.ts';",
      "import './f.ts';",
      "const s = \"from './string.ts'\";",
      'import {',
      '  x,',
      "} from './h.ts';",
      "const d = await import('./d.ts');",
      "type T = import('./t.ts').T;",
    ].join('\n');
    expect(importsOf('probe.ts', text).map((e) => e.specifier)).toEqual(['./a.ts', './b.ts', './e.ts', './f.ts', './h.ts', './d.ts', './t.ts']);
  });

  it('catch an upward import, a cycle, a file in no layer, a bad path and I/O where none belongs', () => {
    const graph = graphOf(
      new Map([
        ['errors.ts', ''],
        ['io/a.ts', "import { b } from './b.ts';\nimport '../errors.ts';"],
        ['io/b.ts', "import type { A } from './a.ts';"],
        ['model/m.ts', "import type { FileSystem } from '../io/a.ts';"],
        ['codec/c.ts', "import type { S } from '../stores/s.ts';\nimport { m } from '../model/m.ts';"],
        ['stores/s.ts', "import { readFile } from 'node:fs/promises';\nconst c = await import('../codec/c.ts');"],
        ['log/l.ts', "import { gone } from './gone.ts';"],
        ['misc/x.ts', ''],
      ]),
    );
    expect(upwardImports(graph)).toEqual(['src/codec/c.ts:1 (codec/) imports src/stores/s.ts (stores/)']);
    expect(importCycles(graph)).toEqual([
      'src/codec/c.ts -> src/stores/s.ts -> src/codec/c.ts',
      'src/io/a.ts -> src/io/b.ts -> src/io/a.ts',
    ]);
    expect(unlayered(graph)).toEqual(['src/misc/x.ts']);
    expect(graph.unresolved).toEqual(["src/log/l.ts:1 imports './gone.ts', which is no .ts file under src/"]);
    expect(ioOutsideIo(graph)).toEqual([
      'src/model/m.ts:1 imports src/io/a.ts: model/ does no I/O',
      "src/stores/s.ts:1 imports 'node:fs/promises': only io/ touches the file system",
    ]);
  });
});
