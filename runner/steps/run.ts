// `run`: a shell script in its own process group; `key=value` lines written to $CRYO_OUTPUT
// become outputs (GITHUB_OUTPUT's convention, heredoc form included).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StepError } from '../errors.ts';
import { planValue } from '../planned.ts';
import { describeExit, runProcess } from '../proc.ts';
import type { Planned } from '../types.ts';
import { asConfig, path, str } from './common.ts';
import type { Outputs, StepKind } from './types.ts';

export function shellArgv(shell: string, script: string): string[] {
  if (shell === 'sh' || shell === 'dash') return [shell, '-e', '-c', script];
  if (shell === 'bash') return [shell, '-e', '-o', 'pipefail', '-c', script];
  return [shell, '-c', script];
}

export function parseOutputFile(text: string): Outputs {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const body: string[] = [];
      for (i++; i < lines.length && lines[i] !== heredoc[2]; i++) body.push(lines[i]!);
      out[heredoc[1]!.trim()] = body.join('\n');
      continue;
    }
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq).trim()] = line.slice(eq + 1);
  }
  return out;
}

export const runStep = {
  outputs: undefined,
  // normalize.ts gathers `run`, `shell` and `working-directory` into one block.
  plan: (config: unknown): Planned => planValue(config),
  summary: (p: Planned): string => {
    const script = (p as { script?: Planned }).script;
    const text = typeof script === 'string' ? script : script && typeof script === 'object' && 'template' in script ? (script.template as { source: string }).source : '';
    const first = text.trim().split('\n')[0] ?? '';
    return first.length > 60 ? `${first.slice(0, 57)}...` : first;
  },
  async run(config, ctx) {
    const c = asConfig(config);
    const scratch = mkdtempSync(join(ctx.tmpDir, `${ctx.id.replace(/[^\w-]/g, '_')}-`));
    const outputFile = join(scratch, 'output');
    writeFileSync(outputFile, '');
    try {
      const r = await runProcess(shellArgv(str(c, 'shell') ?? 'sh', str(c, 'script') ?? ''), {
        cwd: path(ctx.workflowDir, str(c, 'working-directory') ?? '.'),
        env: { ...ctx.env, CRYO_OUTPUT: outputFile },
        signal: ctx.signal,
        onLine: (s, l) => ctx.log(s, l),
      });
      if (r.aborted) throw ctx.signal.reason ?? new StepError('aborted');
      if (r.code !== 0) throw new StepError(`script failed (${describeExit(r)})`);
      return parseOutputFile(readFileSync(outputFile, 'utf8'));
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  },
} as const satisfies StepKind;
