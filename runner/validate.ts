// Shape validation: ajv (draft-07, allErrors) against schemas/workflow.schema.json, every error
// turned into an Issue that points into the YAML and says what was expected and what was found.
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { WorkflowInvalidError } from './errors.ts';
import type { Issue } from './errors.ts';
import { closest, didYouMean } from './expr.ts';
import { positionOf } from './load.ts';
import type { Source } from './load.ts';
import { schemaPath } from './paths.ts';
import type { RawWorkflow } from './types.ts';

type Schema = Readonly<Record<string, unknown>>;

// Compiled once per process: compiling the schema costs more than validating a file.
const compiled = new Map<string, { schema: Schema; validate: ValidateFunction }>();

export function workflowSchema(): Schema {
  return compiledSchema().schema;
}

function compiledSchema(): { schema: Schema; validate: ValidateFunction } {
  const path = schemaPath();
  const hit = compiled.get(path);
  if (hit) return hit;
  const schema = JSON.parse(readFileSync(path, 'utf8')) as Schema;
  const ajv = new Ajv({ allErrors: true, verbose: true, allowUnionTypes: true });
  const entry = { schema, validate: ajv.compile(schema) };
  compiled.set(path, entry);
  return entry;
}

/** Throws WorkflowInvalidError with every shape error of the file. */
export function validateShape(source: Source): RawWorkflow {
  const issues = shapeIssues(source);
  if (issues.length) throw new WorkflowInvalidError(issues);
  return source.data as RawWorkflow;
}

export function shapeIssues(source: Source): Issue[] {
  const { schema, validate } = compiledSchema();
  if (validate(source.data)) return [];
  const errors = [...(validate.errors ?? [])];
  const issues: Issue[] = [];
  const dropped = new Set<ErrorObject>();
  const issue = (pointer: string, which: 'key' | 'value', message: string): void => {
    issues.push({ file: source.file, pos: positionOf(source, pointer, which), message, text: source.text });
  };

  // anyOf/oneOf: ajv reports every branch's failure; say it once, unless the value had the right
  // type for one branch, in which case that branch's deeper errors are the useful ones.
  errors.forEach((e, i) => {
    if (e.keyword !== 'anyOf' && e.keyword !== 'oneOf') return;
    const under = (x: ErrorObject): boolean => x.instancePath === e.instancePath || x.instancePath.startsWith(`${e.instancePath}/`);
    const subs: ErrorObject[] = [];
    for (let j = i - 1; j >= 0 && under(errors[j]!) && errors[j]!.keyword !== 'additionalProperties'; j--) subs.push(errors[j]!);
    const branches = (e.schema as Schema[]).map((b) => resolve(schema, b));
    const requiredOnly = branches.every((b) => Array.isArray(b.required) && b.properties === undefined && b.type === undefined);
    dropped.add(e);
    subs.forEach((s) => dropped.add(s));
    if (requiredOnly) {
      const keys = branches.map((b) => (b.required as string[])[0]!);
      const where = describePath(e.instancePath);
      const passing = (e.params as { passingSchemas?: number[] | null }).passingSchemas;
      if (passing) {
        issue(e.instancePath, 'key', `${where}: more than one of ${list(keys)} (expected exactly one, found ${list(passing.map((k) => keys[k]!))})`);
      } else if (!errors.some((x) => x.keyword === 'additionalProperties' && x.instancePath === e.instancePath)) {
        // With an unknown key in the same object, that key is almost certainly the misspelt one.
        issue(e.instancePath, 'key', `${where}: missing one of ${list(keys)} (expected exactly one, found none)`);
      }
      return;
    }
    const deep = subs.filter((s) => s.instancePath !== e.instancePath);
    if (deep.length) {
      deep.forEach((s) => dropped.delete(s));
      return;
    }
    const titles = branches.map((b) => title(b)).filter((t, k, a) => a.indexOf(t) === k);
    issue(e.instancePath, 'value', `${describePath(e.instancePath)}: wrong value (expected ${titles.join(' or ')}, found ${found(e.data)})`);
  });

  for (const e of errors) {
    if (dropped.has(e)) continue;
    const where = describePath(e.instancePath);
    const parent = (e.parentSchema ?? {}) as Schema;
    const p = e.params as Record<string, unknown>;
    switch (e.keyword) {
      case 'additionalProperties': {
        const key = String(p.additionalProperty);
        const allowed = Object.keys((parent.properties ?? {}) as Schema);
        const suggestion = closest(key, allowed);
        const expected = allowed.length ? `expected one of: ${allowed.join(', ')}` : 'expected no keys here';
        issue(`${e.instancePath}/${escape(key)}`, 'key', `${where}: unknown key "${key}" (${expected}${suggestion ? `; did you mean "${suggestion}"?` : ''})`);
        break;
      }
      case 'required':
        issue(e.instancePath, 'key', `${where}: missing key "${String(p.missingProperty)}"${describeProperty(parent, String(p.missingProperty))}`);
        break;
      case 'type':
        issue(e.instancePath, 'value', `${where}: wrong type (expected ${title(parent, String(p.type))}, found ${found(e.data)})`);
        break;
      case 'pattern':
      case 'format':
        // The name check of propertyNames: reported by the propertyNames error itself.
        if (e.propertyName !== undefined) break;
        issue(e.instancePath, 'value', `${where}: invalid value (expected ${title(parent, `a string matching ${String(p.pattern)}`)}, found ${found(e.data)})`);
        break;
      case 'enum': {
        const allowed = (p.allowedValues as unknown[]).map((v) => JSON.stringify(v));
        const dym = typeof e.data === 'string' ? didYouMean(e.data, (p.allowedValues as unknown[]).map(String)) : '';
        issue(e.instancePath, 'value', `${where}: invalid value (expected ${allowed.length === 1 ? allowed[0] : `one of ${allowed.join(', ')}`}, found ${found(e.data)}${dym})`);
        break;
      }
      case 'propertyNames':
        issue(`${e.instancePath}/${escape(String(p.propertyName))}`, 'key', `${where}: invalid name "${String(p.propertyName)}" (expected letters, digits, "_"${e.instancePath.endsWith('/env') || e.instancePath === '/env' ? '' : ' or "-"'}, not starting with a digit)`);
        break;
      case 'minItems':
        issue(e.instancePath, 'value', `${where}: too few items (expected at least ${String(p.limit)}, found ${Array.isArray(e.data) ? e.data.length : 0})`);
        break;
      case 'minLength':
        issue(e.instancePath, 'value', `${where}: empty string (expected ${title(parent, 'a non-empty string')})`);
        break;
      case 'minimum':
      case 'maximum':
        issue(e.instancePath, 'value', `${where}: out of range (expected a number ${String(p.comparison)} ${String(p.limit)}, found ${found(e.data)})`);
        break;
      default:
        issue(e.instancePath, 'value', `${where}: ${e.message ?? e.keyword}`);
    }
  }
  return dedupe(issues).sort((a, b) => a.pos.offset - b.pos.offset);
}

function dedupe(issues: Issue[]): Issue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${i.pos.offset}\0${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function resolve(root: Schema, s: Schema): Schema {
  let cur = s;
  for (let n = 0; typeof cur.$ref === 'string' && n < 10; n++) {
    cur = (cur.$ref as string).slice(2).split('/').reduce<Schema>((o, k) => (o[k] ?? {}) as Schema, root);
  }
  if (Array.isArray(cur.allOf) && cur.allOf.length === 1 && cur.title === undefined) return resolve(root, cur.allOf[0] as Schema);
  return cur;
}

function title(s: Schema, fallback?: string): string {
  if (typeof s.title === 'string') return s.title;
  if (fallback !== undefined) return fallback.split(',').map((t) => (t === 'integer' ? 'an integer' : t === 'object' ? 'a mapping' : t === 'array' ? 'a list' : `a ${t}`)).join(' or ');
  return typeof s.type === 'string' ? title({}, s.type) : 'a valid value';
}

function describeProperty(parent: Schema, key: string): string {
  const prop = ((parent.properties ?? {}) as Record<string, Schema>)[key];
  return prop && typeof prop.description === 'string' ? ` (${prop.description.split('. ')[0]!.replace(/\.$/, '')})` : '';
}

/** `/steps/0/dump/pid` → `steps[0].dump.pid`. */
export function describePath(pointer: string): string {
  if (pointer === '') return '(top level)';
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, s) => (/^\d+$/.test(s) ? `${acc}[${s}]` : acc ? `${acc}.${s}` : s), '');
}

function escape(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

export function found(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v)}`;
  return `${typeof v} ${String(v)}`;
}

function list(keys: readonly string[]): string {
  return keys.map((k) => `"${k}"`).join(', ');
}
