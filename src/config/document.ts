/**
 * The YAML layer of the config loader: parse with node ranges, collect syntax problems
 * and duplicate keys, and find the line and column of any path in the document.
 */
import { Composer, Document, isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, Parser, YAMLParseError, type Node, type Pair, type YAMLError, type YAMLMap } from 'yaml';

import { clip, MAX_DEPTH, quote, tooDeep } from './limits.js';

export type PathSegment = string | number;
export type Path = readonly PathSegment[];

/** Which position a finding points at: the value at the path, its key, or the mapping that should hold it. */
export type Anchor = 'value' | 'key' | 'parent';

/** A problem before it has a position. */
export interface Finding {
  path: Path;
  at: Anchor;
  message: string;
}

export interface Located {
  line: number;
  column: number;
  path: string;
  message: string;
}

export interface ParsedYaml {
  doc: Document.Parsed;
  lines: LineCounter;
  /** Syntax problems (the tree is not trustworthy when there are any). */
  syntax: Located[];
}

/** A key for messages: `'count'`, or JSON-quoted when it holds anything unprintable. */
export function showKey(key: string): string {
  return /^[\x20-\x7e]*$/.test(key) ? `'${clip(key)}'` : quote(key);
}

/** Dotted path: `roles.web.count`, list items as `defaults.subnets[1]`. */
export function formatPath(path: Path): string {
  let out = '';
  for (const seg of path) {
    const s = typeof seg === 'number' ? `[${seg}]` : /^[\x21-\x7e]+$/.test(seg) ? clip(seg) : quote(seg);
    out += typeof seg === 'number' || out === '' ? s : `.${s}`;
  }
  return out;
}

/** Characters YAML forbids in a stream (outside c-printable), one problem per line. */
function unprintable(text: string, lines: LineCounter): Located[] {
  const out: Located[] = [];
  const re = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u0084\u0086-\u009f\ud800-\udfff\ufffe\uffff]/gu;
  let lastLine = 0;
  for (const m of text.matchAll(re)) {
    const { line, col } = lines.linePos(m.index);
    if (line === lastLine) continue;
    lastLine = line;
    const cp = 'U+' + m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    out.push({ line: Math.max(line, 1), column: col, path: '', message: `control character ${cp} is not allowed in YAML` });
  }
  return out;
}

function syntaxMessage(e: YAMLError): string {
  switch (e.code) {
    case 'TAB_AS_INDENT':
      return 'YAML does not allow tabs for indentation; indent with spaces';
    case 'MULTIPLE_DOCS':
      return 'the file holds more than one YAML document ("---"); put the whole fleet in one';
    case 'TAG_RESOLVE_FAILED':
      return `unsupported YAML tag: ${e.message.replace(/^Unresolved tag: /, '')}; fleet.yaml uses plain values`;
    case 'DUPLICATE_KEY':
      return 'duplicate key';
    default: {
      const m = e.message.replace(/\s+/g, ' ').trim();
      return `YAML syntax error: ${m.charAt(0).toLowerCase()}${m.slice(1)}`;
    }
  }
}

const YAML_OPTIONS = { prettyErrors: false, uniqueKeys: false, strict: true } as const;

/**
 * Parse YAML text, keeping ranges; syntax errors and warnings become problems. As
 * `parseDocument` does, in its two steps: the parser (iterative) builds the concrete syntax
 * tree, whose depth is checked before the composer (recursive) builds the document.
 */
export function parseYaml(text: string): ParsedYaml {
  const lines = new LineCounter();
  const tokens = Array.from(new Parser(lines.addNewLine).parse(text));
  const deep = tooDeep(tokens);
  if (deep !== undefined) {
    const { line, col } = lines.linePos(deep.offset);
    const doc = parseDocument('', { ...YAML_OPTIONS });
    return { doc, lines, syntax: [{ line, column: col, path: '', message: `nested more than ${MAX_DEPTH} levels deep; fleet.yaml nests 4 at most (roles.web.volume.size)` }] };
  }
  const composer = new Composer({ ...YAML_OPTIONS });
  let doc: Document.Parsed | undefined;
  for (const d of composer.compose(tokens, true, text.length)) {
    if (!doc) doc = d;
    else {
      doc.errors.push(new YAMLParseError([d.range[0], d.range[1]], 'MULTIPLE_DOCS', 'Source contains multiple documents'));
      break;
    }
  }
  doc ??= parseDocument('', { ...YAML_OPTIONS });
  const syntax: Located[] = unprintable(text, lines);
  // Tabs used for indentation derail the parser; what it reports after them is noise.
  let errors = [...doc.errors, ...doc.warnings];
  if (errors.some((e) => e.code === 'TAB_AS_INDENT')) errors = errors.filter((e) => e.code === 'TAB_AS_INDENT');
  const seenLines = new Set<number>();
  for (const e of errors) {
    const { line, col } = lines.linePos(e.pos[0]);
    if (seenLines.has(line)) continue; // one syntax error per line: the rest follow from it
    seenLines.add(line);
    syntax.push({ line, column: col, path: '', message: syntaxMessage(e) });
  }
  // Aliases to anchors that do not exist (or come later) are found only when resolving.
  walk(doc.contents, [], (node, path) => {
    if (isAlias(node) && node.resolve(doc) === undefined) {
      const { line, col } = lines.linePos(node.range?.[0] ?? 0);
      syntax.push({ line, column: col, path: formatPath(path), message: `alias *${node.source} refers to no anchor &${node.source} defined before it` });
    }
  });
  return { doc, lines, syntax };
}

function keyOf(pair: Pair): string | undefined {
  const k = pair.key;
  if (isScalar(k)) return String(k.value);
  if (k === null || k === undefined) return '';
  return undefined;
}

/** Visit every node (not following aliases) with its data path. */
function walk(node: unknown, path: PathSegment[], fn: (node: Node, path: PathSegment[], pair?: Pair) => void, pair?: Pair): void {
  if (node === null || node === undefined || typeof node !== 'object') return;
  fn(node as Node, path, pair);
  if (isMap(node)) {
    for (const p of node.items) {
      const k = keyOf(p) ?? '?';
      if (p.key && !isScalar(p.key)) walk(p.key, [...path, k], fn);
      walk(p.value, [...path, k], fn, p);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => walk(item, [...path, i], fn));
  }
}

/** Duplicate keys in any mapping, and keys that are not plain scalars. */
export function keyProblems(parsed: ParsedYaml): Located[] {
  const out: Located[] = [];
  const pos = (n: Node | null | undefined) => parsed.lines.linePos(n?.range?.[0] ?? 0);
  walk(parsed.doc.contents, [], (node, path) => {
    if (!isMap(node)) return;
    const seen = new Map<string, number>();
    for (const p of node.items) {
      const key = keyOf(p);
      const at = pos(p.key as Node | null);
      if (key === undefined) {
        out.push({ line: at.line, column: at.col, path: formatPath(path), message: 'keys must be plain words, not lists or mappings' });
        continue;
      }
      const first = seen.get(key);
      if (first !== undefined) {
        out.push({ line: at.line, column: at.col, path: formatPath([...path, key]), message: `duplicate key ${showKey(key)} (first defined on line ${first})` });
      } else {
        seen.set(key, at.line);
      }
    }
  });
  return out;
}

/** Per mapping, its pairs by key (the last one wins, as in toJS): finding a path costs its length, not the mapping's size. */
const pairIndex = new WeakMap<YAMLMap, Map<string, Pair>>();

function pairOf(map: YAMLMap, key: string): Pair | undefined {
  let index = pairIndex.get(map);
  if (index === undefined) {
    index = new Map();
    for (const it of map.items) {
      const k = keyOf(it);
      if (k !== undefined) index.set(k, it);
    }
    pairIndex.set(map, index);
  }
  return index.get(key);
}

/** Where `path` is in the document: the node at the path, its pair, and the deepest existing ancestor. */
function find(parsed: ParsedYaml, path: Path): { node?: Node; pair?: Pair; parent: Node | undefined } {
  const doc = parsed.doc;
  let cur: unknown = doc.contents;
  let pair: Pair | undefined;
  let parent: Node | undefined;
  for (const seg of path) {
    if (isAlias(cur)) cur = cur.resolve(doc);
    parent = (cur ?? undefined) as Node | undefined;
    if (isMap(cur)) {
      const p = pairOf(cur, String(seg));
      if (!p) return { parent };
      pair = p;
      cur = p.value;
    } else if (isSeq(cur) && typeof seg === 'number') {
      pair = undefined;
      cur = cur.items[seg];
      if (cur === undefined) return { parent };
    } else {
      return { parent };
    }
  }
  return { node: (cur ?? undefined) as Node | undefined, ...(pair && isPair(pair) ? { pair } : {}), parent };
}

/** Whether `path` names a node of the document (keys compared as plain scalars). */
export function hasPath(parsed: ParsedYaml, path: Path): boolean {
  const found = find(parsed, path);
  return found.node !== undefined || found.pair !== undefined;
}

/** Line and column (1-based) for a finding. */
export function locate(parsed: ParsedYaml, f: Finding): { line: number; column: number } {
  const { node, pair, parent } = find(parsed, f.path);
  const lastIsKey = typeof f.path[f.path.length - 1] === 'string';
  let offset: number | undefined;
  const keyStart = pair && lastIsKey ? (pair.key as Node | null)?.range?.[0] : undefined;
  if (f.at === 'key') offset = keyStart ?? node?.range?.[0];
  else if (f.at === 'value') {
    // An empty value (`count:`) has a zero-width node after the colon: point at the key instead.
    const empty = isScalar(node) && node.value === null && node.range && node.range[0] === node.range[1];
    offset = node && !empty ? node.range?.[0] : keyStart;
  }
  if (offset === undefined) {
    // 'parent', or a path that is not in the document: the mapping that should hold it.
    offset = parent?.range?.[0] ?? parsed.doc.contents?.range?.[0] ?? 0;
  }
  const { line, col } = parsed.lines.linePos(offset);
  return { line: Math.max(line, 1), column: Math.max(col, 1) };
}
