// Text → YAML value + positions. js-yaml reports positions only for syntax errors, so its
// `listener` option is used to rebuild a tree of node ranges while it parses; every value (and
// every mapping key) is then indexed by its JSON pointer, which is what ajv reports.
import { readFile } from 'node:fs/promises';
import { load, YAMLException } from 'js-yaml';
import { WorkflowInvalidError } from './errors.ts';

/** 1-based line and column. */
export interface Pos {
  readonly line: number;
  readonly col: number;
  readonly offset: number;
}

export interface NodePos {
  /** Where the value starts (for an empty value: its key). */
  readonly value: Pos;
  /** Where the key starts, for members of a mapping. */
  readonly key?: Pos | undefined;
}

export interface Source {
  readonly file: string;
  readonly text: string;
  readonly data: unknown;
  /** JSON pointer ("" for the root, "/steps/0/dump") → position. */
  readonly positions: ReadonlyMap<string, NodePos>;
}

export async function loadWorkflow(file: string): Promise<Source> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new WorkflowInvalidError([{ file, pos: { line: 1, col: 1, offset: 0 }, message: `cannot read the workflow: ${err.code ?? err.message}` }]);
  }
  return parseSource(file, text);
}

interface Frame {
  readonly open: number;
  end: number;
  kind: string | null;
  result: unknown;
  readonly children: Frame[];
}

export function parseSource(file: string, text: string): Source {
  const root: Frame = { open: 0, end: 0, kind: null, result: undefined, children: [] };
  const stack: Frame[] = [root];
  let data: unknown;
  try {
    data = load(text, {
      filename: file,
      listener(event, state) {
        if (event === 'open') {
          const f: Frame = { open: state.position, end: state.position, kind: null, result: undefined, children: [] };
          stack.at(-1)!.children.push(f);
          stack.push(f);
        } else {
          const f = stack.pop()!;
          f.end = state.position;
          f.kind = state.kind;
          f.result = state.result;
        }
      },
    });
  } catch (e) {
    if (e instanceof YAMLException) {
      const line = e.mark.line + 1;
      const col = e.mark.column + 1;
      throw new WorkflowInvalidError([{ file, pos: { line, col, offset: e.mark.position }, message: `YAML syntax error: ${e.reason}`, text }]);
    }
    throw e;
  }
  const lines = lineStarts(text);
  const positions = new Map<string, NodePos>();
  const top = root.children[0];
  if (top) index(top, '', undefined, text, lines, positions);
  else positions.set('', { value: toPos(lines, 0) });
  return { file, text, data, positions };
}

/** Position for a pointer: the node itself, else its nearest ancestor that exists. */
export function positionOf(source: Source, pointer: string, which: 'key' | 'value' = 'value'): Pos {
  for (let p = pointer; ; p = p.slice(0, p.lastIndexOf('/'))) {
    const n = source.positions.get(p);
    if (n) return (which === 'key' ? n.key : undefined) ?? n.value;
    if (p === '') return { line: 1, col: 1, offset: 0 };
  }
}

/** Line and column of an offset in the source. */
export function posAt(source: Source, offset: number): Pos {
  return toPos(lineStarts(source.text), offset);
}

/**
 * Position of character `at` of the string value at `pointer`: exact for plain and quoted
 * scalars, found by searching for block scalars (whose text is not a copy of the file's).
 */
export function positionInString(source: Source, pointer: string, value: string, at: number): Pos {
  const start = positionOf(source, pointer).offset;
  const open = value.lastIndexOf('${{', at);
  if (open >= 0) {
    // The k-th `${{` of the value is the k-th one in the file after the value starts.
    const k = value.slice(0, open).split('${{').length - 1;
    let off = start - 1;
    for (let i = 0; i <= k && off !== -1; i++) off = source.text.indexOf('${{', off + 1);
    if (off !== -1) return posAt(source, off + (at - open));
  }
  const c = source.text[start];
  if (c === '"' || c === "'") return posAt(source, start + 1 + at);
  if (c === '|' || c === '>') {
    const hit = source.text.indexOf(value.slice(at, at + 12), start);
    return hit === -1 ? posAt(source, start) : posAt(source, hit);
  }
  return posAt(source, start + at);
}

export function escapePointer(segment: string | number): string {
  return String(segment).replace(/~/g, '~0').replace(/\//g, '~1');
}

function index(f: Frame, pointer: string, keyPos: Pos | undefined, text: string, lines: readonly number[], out: Map<string, NodePos>): void {
  // An empty node (`key:` with nothing after it) starts where the next token is: point at its key.
  const start = f.kind === null && keyPos ? keyPos : toPos(lines, skipBlank(text, f.open, f.end));
  out.set(pointer, { value: start, key: keyPos });
  if (f.kind === 'mapping') {
    const kids = f.children;
    for (let i = 0; i < kids.length; i++) {
      const k = kids[i]!;
      if (k.kind === null || !followedByColon(text, k.end)) continue;
      const kp = toPos(lines, skipBlank(text, k.open, k.end));
      const child = `${pointer}/${escapePointer(String(k.result))}`;
      // After `key:` js-yaml always composes a value node (empty for `key:` alone).
      const v = kids[i + 1];
      if (v) index(v, child, kp, text, lines, out);
      else out.set(child, { value: kp, key: kp });
      i++;
    }
  } else if (f.kind === 'sequence') {
    const items = Array.isArray(f.result) && f.children.length !== f.result.length ? f.children.filter((c) => c.kind !== null) : f.children;
    items.forEach((c, i) => index(c, `${pointer}/${i}`, undefined, text, lines, out));
  } else if (f.children.length === 1) {
    // A scalar that js-yaml read as a would-be mapping key: the child carries the real range.
    index(f.children[0]!, pointer, keyPos, text, lines, out);
  }
}

function followedByColon(text: string, at: number): boolean {
  let i = at;
  while (text[i] === ' ' || text[i] === '\t') i++;
  return text[i] === ':';
}

/** Skips spaces, line breaks and comments from `from`, never past `limit`. */
function skipBlank(text: string, from: number, limit: number): number {
  let i = from;
  while (i < limit) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') i++;
    else if (c === '#') while (i < limit && text[i] !== '\n') i++;
    else break;
  }
  return i;
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') starts.push(i + 1);
  return starts;
}

function toPos(starts: readonly number[], offset: number): Pos {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, col: offset - starts[lo]! + 1, offset };
}
