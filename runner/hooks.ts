// The workflow's `hooks:` block as an engine ActionHook: CRIU's action names and moments, CRIU's
// environment, and CRIU's veto (a command that fails throws HookError; the engine decides what
// that means for the action: a failing post-dump resumes the tree, a failing post-restore kills it).
import { HOOK_NAMES, hookEnv } from '../engine/index.ts';
import type { ActionHook, HookEvent, HookName } from '../engine/index.ts';
import { HookError } from '../errors.ts';
import type { EvalContext } from './expr.ts';
import { resolvePlanned } from './planned.ts';
import { describeExit, runProcess } from './proc.ts';
import type { Planned } from './types.ts';

export { HOOK_NAMES };
export type { HookName };

export interface HookRunEvent {
  readonly action: HookName;
  readonly command: string;
  readonly ok: boolean;
  readonly durationMs: number;
}

export interface WorkflowHookOptions {
  readonly cwd: string;
  /** The environment at the moment the hook fires (workflow env + the running step's). */
  env(): Readonly<Record<string, string>>;
  /** For `${{ }}` in hook commands. */
  context(): EvalContext;
  readonly signal?: AbortSignal | undefined;
  onLine?(action: HookName, stream: 'stdout' | 'stderr', line: string): void;
  onHook?(e: HookRunEvent): void;
}

/** Commands of one action run in order with `sh -c`; the first failure vetoes. */
export function workflowHook(hooks: Readonly<Partial<Record<HookName, readonly Planned[]>>>, opts: WorkflowHookOptions): ActionHook | undefined {
  if (!Object.values(hooks).some((cmds) => cmds && cmds.length)) return undefined;
  return async (event: HookEvent) => {
    for (const planned of hooks[event.action] ?? []) {
      const command = String(resolvePlanned(planned, opts.context()) ?? '');
      const t0 = performance.now();
      const r = await runProcess(['sh', '-c', command], {
        cwd: opts.cwd,
        env: { ...opts.env(), ...hookEnv(event) },
        signal: opts.signal,
        onLine: (s, l) => opts.onLine?.(event.action, s, l),
      });
      const ok = r.code === 0;
      opts.onHook?.({ action: event.action, command, ok, durationMs: performance.now() - t0 });
      if (!ok) throw new HookError(`${event.action} hook failed: \`${command}\` (${r.aborted ? 'aborted' : describeExit(r)})`);
    }
  };
}
