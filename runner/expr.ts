// `${{ }}` expressions: a small, safe language, parsed once at plan time and evaluated against an
// explicit context at execute time (never JavaScript eval). Grammar, loosest first:
//   or: and ('||' and)*   and: eq ('&&' eq)*   eq: cmp (('=='|'!=') cmp)*
//   cmp: unary (('<'|'<='|'>'|'>=') unary)*   unary: '!' unary | postfix
//   postfix: primary ('.' name | '[' or ']')*   primary: literal | name | name '(' ')' | '(' or ')'

export const CONTEXTS = ['inputs', 'vars', 'env', 'steps'] as const;
export type ContextName = (typeof CONTEXTS)[number];
export const FUNCTIONS = ['success', 'failure', 'always', 'cancelled'] as const;
export type FunctionName = (typeof FUNCTIONS)[number];
export type BinaryOp = '||' | '&&' | '==' | '!=' | '<' | '<=' | '>' | '>=';

export type Value = string | number | boolean | null | undefined | readonly Value[] | { readonly [k: string]: Value };

/** `at` is the offset of the node in the expression source. */
export type Expr =
  | { readonly type: 'literal'; readonly value: string | number | boolean | null; readonly at: number }
  | { readonly type: 'context'; readonly name: ContextName; readonly at: number }
  | { readonly type: 'member'; readonly object: Expr; readonly key: string; readonly at: number }
  | { readonly type: 'index'; readonly object: Expr; readonly index: Expr; readonly at: number }
  | { readonly type: 'call'; readonly name: FunctionName; readonly at: number }
  | { readonly type: 'not'; readonly arg: Expr; readonly at: number }
  | { readonly type: 'binary'; readonly op: BinaryOp; readonly left: Expr; readonly right: Expr; readonly at: number };

export class ExprSyntaxError extends Error {
  /** Offset in the source given to the parser. */
  readonly at: number;
  constructor(message: string, at: number) {
    super(message);
    this.at = at;
  }
}

type Token =
  | { readonly t: 'num'; readonly v: number; readonly at: number }
  | { readonly t: 'str'; readonly v: string; readonly at: number }
  | { readonly t: 'name'; readonly v: string; readonly at: number }
  | { readonly t: 'op'; readonly v: string; readonly at: number }
  | { readonly t: 'end'; readonly at: number };

const OPS = ['==', '!=', '<=', '>=', '&&', '||', '<', '>', '!', '(', ')', '[', ']', '.', ','] as const;

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) { i++; continue; }
    const at = i;
    if (c === "'" || c === '"') {
      // GitHub style: a quote inside is written twice ('it''s').
      let v = '';
      for (i++; ; i++) {
        if (i >= src.length) throw new ExprSyntaxError(`unterminated string (expected a closing ${c})`, at);
        if (src[i] === c) {
          if (src[i + 1] === c) { v += c; i++; continue; }
          i++;
          break;
        }
        v += src[i];
      }
      out.push({ t: 'str', v, at });
      continue;
    }
    const num = /^-?(?:0x[0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(src.slice(i));
    if (num && (c !== '-' || /\d/.test(src[i + 1] ?? ''))) {
      out.push({ t: 'num', v: Number(num[0]), at });
      i += num[0].length;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(src.slice(i));
    if (name) {
      out.push({ t: 'name', v: name[0], at });
      i += name[0].length;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (!op) {
      const hint = c === '=' ? ' (did you mean "=="?)' : c === '&' ? ' (did you mean "&&"?)' : c === '|' ? ' (did you mean "||"?)' : '';
      throw new ExprSyntaxError(`unexpected character "${c}"${hint}`, at);
    }
    out.push({ t: 'op', v: op, at });
    i += op.length;
  }
  out.push({ t: 'end', at: src.length });
  return out;
}

export function parseExpr(src: string): Expr {
  const toks = tokenize(src);
  let p = 0;
  const peek = (): Token => toks[p]!;
  const isOp = (v: string): boolean => { const t = peek(); return t.t === 'op' && t.v === v; };
  const describe = (t: Token): string => (t.t === 'end' ? 'the end of the expression' : t.t === 'str' ? `'${t.v}'` : `"${String(t.v)}"`);
  const expect = (v: string, what: string): void => {
    if (!isOp(v)) throw new ExprSyntaxError(`expected ${what}, found ${describe(peek())}`, peek().at);
    p++;
  };
  const binary = (ops: readonly BinaryOp[], next: () => Expr) => (): Expr => {
    let left = next();
    for (let t = peek(); t.t === 'op' && (ops as readonly string[]).includes(t.v); t = peek()) {
      p++;
      left = { type: 'binary', op: t.v as BinaryOp, left, right: next(), at: t.at };
    }
    return left;
  };
  const primary = (): Expr => {
    const t = peek();
    p++;
    if (t.t === 'num' || t.t === 'str') return { type: 'literal', value: t.v, at: t.at };
    if (t.t === 'op' && t.v === '(') {
      const e = or();
      expect(')', 'a closing ")"');
      return e;
    }
    if (t.t === 'name') {
      if (t.v === 'true' || t.v === 'false') return { type: 'literal', value: t.v === 'true', at: t.at };
      if (t.v === 'null') return { type: 'literal', value: null, at: t.at };
      if (isOp('(')) {
        if (!(FUNCTIONS as readonly string[]).includes(t.v)) {
          throw new ExprSyntaxError(`unknown function "${t.v}()" (expected one of ${FUNCTIONS.map((f) => `${f}()`).join(', ')}${didYouMean(t.v, FUNCTIONS)})`, t.at);
        }
        p++;
        expect(')', `")" (${t.v}() takes no arguments)`);
        return { type: 'call', name: t.v as FunctionName, at: t.at };
      }
      if (!(CONTEXTS as readonly string[]).includes(t.v)) {
        throw new ExprSyntaxError(`unknown name "${t.v}" (expected ${CONTEXTS.join(', ')}, a literal or a function${didYouMean(t.v, [...CONTEXTS, ...FUNCTIONS])})`, t.at);
      }
      return { type: 'context', name: t.v as ContextName, at: t.at };
    }
    p--;
    throw new ExprSyntaxError(`expected a value, found ${describe(t)}`, t.at);
  };
  const postfix = (): Expr => {
    let e = primary();
    for (;;) {
      if (isOp('.')) {
        p++;
        const n = peek();
        if (n.t !== 'name') throw new ExprSyntaxError(`expected a property name after ".", found ${describe(n)}`, n.at);
        p++;
        e = { type: 'member', object: e, key: n.v, at: n.at };
      } else if (isOp('[')) {
        const at = peek().at;
        p++;
        const index = or();
        expect(']', 'a closing "]"');
        e = { type: 'index', object: e, index, at };
      } else return e;
    }
  };
  const unary = (): Expr => {
    const t = peek();
    if (t.t === 'op' && t.v === '!') {
      p++;
      return { type: 'not', arg: unary(), at: t.at };
    }
    return postfix();
  };
  const cmp = binary(['<', '<=', '>', '>='], unary);
  const eq = binary(['==', '!='], cmp);
  const and = binary(['&&'], eq);
  const or = binary(['||'], and);
  if (peek().t === 'end') throw new ExprSyntaxError('empty expression', 0);
  const e = or();
  if (peek().t !== 'end') throw new ExprSyntaxError(`unexpected ${describe(peek())} (expected an operator or the end of the expression)`, peek().at);
  return e;
}

// ---- templates: strings with ${{ }} parts ----------------------------------------------------

export interface TemplatePart {
  readonly expr: Expr;
  /** The text between `${{` and `}}`. */
  readonly source: string;
  /** Offset of the text after `${{` in the template. */
  readonly at: number;
}
export interface Template {
  readonly source: string;
  /** Literal strings and expressions, alternating. */
  readonly parts: readonly (string | TemplatePart)[];
}

export function hasExpression(s: string): boolean {
  return s.includes('${{');
}

export function parseTemplate(src: string): Template {
  const parts: (string | TemplatePart)[] = [];
  let i = 0;
  for (;;) {
    const open = src.indexOf('${{', i);
    if (open < 0) {
      if (i < src.length) parts.push(src.slice(i));
      return { source: src, parts };
    }
    if (open > i) parts.push(src.slice(i, open));
    const close = findClose(src, open + 3);
    if (close < 0) throw new ExprSyntaxError('unterminated "${{" (expected "}}")', open);
    const inner = src.slice(open + 3, close);
    try {
      parts.push({ expr: parseExpr(inner), source: inner.trim(), at: open + 3 });
    } catch (e) {
      if (e instanceof ExprSyntaxError) throw new ExprSyntaxError(e.message, open + 3 + e.at);
      throw e;
    }
    i = close + 2;
  }
}

function findClose(src: string, from: number): number {
  let quote: string | undefined;
  for (let i = from; i < src.length; i++) {
    const c = src[i];
    if (quote) { if (c === quote) quote = undefined; }
    else if (c === "'" || c === '"') quote = c;
    else if (c === '}' && src[i + 1] === '}') return i;
  }
  return -1;
}

/** `if:` takes a bare expression or one wrapped in `${{ }}`. */
export function parseCondition(src: string): { expr: Expr; at: number } {
  const m = /^\s*\$\{\{([\s\S]*)\}\}\s*$/.exec(src);
  if (m && findClose(src, src.indexOf('${{') + 3) === src.lastIndexOf('}}')) {
    const at = src.indexOf('${{') + 3;
    try {
      return { expr: parseExpr(m[1]!), at };
    } catch (e) {
      if (e instanceof ExprSyntaxError) throw new ExprSyntaxError(e.message, at + e.at);
      throw e;
    }
  }
  return { expr: parseExpr(src), at: 0 };
}

// ---- evaluation ------------------------------------------------------------------------------

export interface StepState {
  readonly outputs: { readonly [k: string]: Value };
  /** Before continue-on-error: success | failure | cancelled | skipped. */
  readonly outcome: string;
  /** After continue-on-error. */
  readonly conclusion: string;
}

export interface EvalContext {
  readonly inputs: { readonly [k: string]: Value };
  readonly vars: { readonly [k: string]: Value };
  readonly env: { readonly [k: string]: Value };
  readonly steps: { readonly [id: string]: StepState };
  /** Whether an earlier step failed (and was not continue-on-error). */
  readonly failed: boolean;
  readonly cancelled: boolean;
}

export function evaluate(e: Expr, ctx: EvalContext): Value {
  switch (e.type) {
    case 'literal':
      return e.value;
    case 'context':
      return ctx[e.name] as Value;
    case 'member':
      return member(evaluate(e.object, ctx), e.key);
    case 'index': {
      const k = evaluate(e.index, ctx);
      return typeof k === 'string' || typeof k === 'number' ? member(evaluate(e.object, ctx), k) : undefined;
    }
    case 'call':
      switch (e.name) {
        case 'success': return !ctx.failed && !ctx.cancelled;
        case 'failure': return ctx.failed;
        case 'always': return true;
        case 'cancelled': return ctx.cancelled;
      }
      break;
    case 'not':
      return !truthy(evaluate(e.arg, ctx));
    case 'binary': {
      const l = evaluate(e.left, ctx);
      if (e.op === '&&') return truthy(l) ? evaluate(e.right, ctx) : l;
      if (e.op === '||') return truthy(l) ? l : evaluate(e.right, ctx);
      const r = evaluate(e.right, ctx);
      if (e.op === '==') return looseEquals(l, r);
      if (e.op === '!=') return !looseEquals(l, r);
      const [a, b] = comparable(l, r);
      if (a === undefined || b === undefined) return false;
      return e.op === '<' ? a < b : e.op === '<=' ? a <= b : e.op === '>' ? a > b : a >= b;
    }
  }
  throw new Error('unreachable');
}

// Own properties only: no path from an expression to prototypes or functions.
function member(obj: Value, key: string | number): Value {
  if (obj === null || typeof obj !== 'object') return undefined;
  if (Array.isArray(obj)) return typeof key === 'number' ? obj[key] : undefined;
  return Object.hasOwn(obj, key) ? (obj as Record<string, Value>)[key] : undefined;
}

export function truthy(v: Value): boolean {
  return !(v === false || v === 0 || v === '' || v === null || v === undefined || Number.isNaN(v));
}

// Like GitHub: a number and a numeric string compare as numbers; strings case-sensitively.
function looseEquals(l: Value, r: Value): boolean {
  if ((l === null || l === undefined) && (r === null || r === undefined)) return true;
  if (typeof l === 'number' && typeof r === 'string') return r.trim() !== '' && l === Number(r);
  if (typeof l === 'string' && typeof r === 'number') return l.trim() !== '' && Number(l) === r;
  if (typeof l === 'boolean' && typeof r === 'string') return String(l) === r;
  if (typeof l === 'string' && typeof r === 'boolean') return l === String(r);
  return l === r;
}

function comparable(l: Value, r: Value): [number | string | undefined, number | string | undefined] {
  if (typeof l === 'string' && typeof r === 'string') return [l, r];
  const n = (v: Value): number | undefined => (typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v)) ? Number(v) : undefined);
  return [n(l), n(r)];
}

/** Text form of a value inside a larger string. */
export function stringify(v: Value): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** A template that is exactly one expression keeps the value's type; otherwise it is a string. */
export function renderTemplate(t: Template, ctx: EvalContext): Value {
  const [only] = t.parts;
  if (t.parts.length === 1 && typeof only === 'object') return evaluate(only.expr, ctx);
  return t.parts.map((p) => (typeof p === 'string' ? p : stringify(evaluate(p.expr, ctx)))).join('');
}

/** Every `context.a.b…` chain in an expression, for reference checks. */
export function references(e: Expr): { readonly path: readonly string[]; readonly at: number }[] {
  const out: { path: string[]; at: number }[] = [];
  const chain = (x: Expr): { path: string[]; at: number } | undefined => {
    if (x.type === 'context') return { path: [x.name], at: x.at };
    if (x.type === 'member') {
      const c = chain(x.object);
      return c && { path: [...c.path, x.key], at: c.at };
    }
    if (x.type === 'index' && x.index.type === 'literal' && typeof x.index.value === 'string') {
      const c = chain(x.object);
      return c && { path: [...c.path, x.index.value], at: c.at };
    }
    return undefined;
  };
  const walk = (x: Expr): void => {
    const c = chain(x);
    if (c) { out.push(c); if (x.type === 'index') walk(x.index); return; }
    if (x.type === 'member') walk(x.object);
    else if (x.type === 'index') { walk(x.object); walk(x.index); }
    else if (x.type === 'not') walk(x.arg);
    else if (x.type === 'binary') { walk(x.left); walk(x.right); }
  };
  walk(e);
  return out;
}

export function usesStatusFunction(e: Expr): boolean {
  if (e.type === 'call') return true;
  if (e.type === 'not') return usesStatusFunction(e.arg);
  if (e.type === 'binary') return usesStatusFunction(e.left) || usesStatusFunction(e.right);
  if (e.type === 'member') return usesStatusFunction(e.object);
  if (e.type === 'index') return usesStatusFunction(e.object) || usesStatusFunction(e.index);
  return false;
}

// ---- did you mean ----------------------------------------------------------------------------

export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) { best = c; bestD = d; }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

export function didYouMean(word: string, candidates: readonly string[]): string {
  const c = closest(word, candidates);
  return c === undefined ? '' : `; did you mean "${c}"?`;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}
