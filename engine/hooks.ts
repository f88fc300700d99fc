// Action hooks: CRIU's action-script moments. One mechanism drives both `--action-script` on the
// CLI and `hooks:` in workflows: the engine calls an ActionHook at each moment; a hook that
// fails throws HookError, and the engine applies CRIU's failure semantics for that action.
import { HookError } from '../errors.ts';
import { childProcess } from './lazy-builtins.ts';

export const HOOK_NAMES = [
  'pre-dump',
  'post-dump',
  'network-lock',
  'network-unlock',
  'pre-restore',
  'setup-namespaces',
  'post-setup-namespaces',
  'post-restore',
  'pre-resume',
  'post-resume',
] as const;
export type HookName = (typeof HOOK_NAMES)[number];

export interface HookEvent {
  readonly action: HookName;
  /** The images directory of the dump or restore. */
  readonly imagesDir: string;
  /** Real pid of the root task, once known (CRIU: not for pre-restore). */
  readonly initPid?: number | undefined;
}

/** Called at each action moment; throws HookError to veto. */
export type ActionHook = (event: HookEvent) => Promise<void>;

/** The environment CRIU gives action scripts. */
export function hookEnv(event: HookEvent): Record<string, string> {
  const env: Record<string, string> = {
    CRTOOLS_SCRIPT_ACTION: event.action,
    CRTOOLS_IMAGE_DIR: event.imagesDir,
  };
  if (event.initPid !== undefined) env.CRTOOLS_INIT_PID = String(event.initPid);
  return env;
}

/**
 * `--action-script PATH` (repeatable): like CRIU, each script is exec'd without a shell or
 * arguments, stdin closed, output to the log; scripts run in reverse order of registration
 * (CRIU keeps them in a list built by prepending); all run, and any failure fails the action.
 */
export function actionScripts(paths: readonly string[], logFd: number | 'inherit' = 'inherit'): ActionHook {
  const ordered = [...paths].reverse();
  return async (event) => {
    const failed: string[] = [];
    for (const path of ordered) {
      const r = childProcess().spawnSync(path, [], {
        stdio: ['ignore', logFd, logFd],
        env: { ...process.env, ...hookEnv(event) },
      });
      if (r.error || r.status !== 0) failed.push(`${path} (${r.error ? r.error.message : r.signal ?? `exit ${r.status}`})`);
    }
    if (failed.length) throw new HookError(`${event.action} action script failed: ${failed.join(', ')}`);
  };
}

/** Runs several hooks in order for each event; all run, the first failure is rethrown. */
export function combineHooks(...hooks: readonly (ActionHook | undefined)[]): ActionHook | undefined {
  const list = hooks.filter((h): h is ActionHook => h !== undefined);
  if (list.length === 0) return undefined;
  if (list.length === 1) return list[0];
  return async (event) => {
    let first: unknown;
    for (const h of list) {
      try {
        await h(event);
      } catch (e) {
        first ??= e;
      }
    }
    if (first !== undefined) throw first;
  };
}
