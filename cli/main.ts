// cryo's command line: parse, call the engine or the runner, print. The one place that turns an
// error into an exit code: a CryoError prints its message and hint; anything else is a bug.
import yargs from 'yargs';
import { CryoError, EXIT, InternalError } from '../errors.ts';
import { checkCommand } from './commands/check.ts';
import { dumpCommand } from './commands/dump.ts';
import { planCommand } from './commands/plan.ts';
import { restoreCommand } from './commands/restore.ts';
import { runCommand } from './commands/run.ts';
import { schemaCommand } from './commands/schema.ts';
import { showCommand } from './commands/show.ts';
import { validateCommand } from './commands/validate.ts';

/** CRIU's `-vN`, `-v`, `-vv…` forms, as `--verbosity N` (default level 2, each v adds one). */
export function rewriteVerbosity(args: readonly string[]): string[] {
  const out: string[] = [];
  for (const [i, a] of args.entries()) {
    if (a === '--') return [...out, ...args.slice(i)];
    const n = /^-v(\d)$/.exec(a);
    if (n) out.push('--verbosity', n[1]!);
    else if (/^-v+$/.test(a)) out.push('--verbosity', String(Math.min(4, 2 + a.length - 1)));
    else out.push(a);
  }
  return out;
}

export async function main(argv: readonly string[]): Promise<void> {
  try {
    const cli = yargs(rewriteVerbosity(argv));
    skipHelpCache(cli);
    await cli
      .scriptName('cryo')
      .parserConfiguration({ 'populate--': true })
      .command(dumpCommand)
      .command(restoreCommand)
      .command(checkCommand)
      .command(showCommand)
      .command(validateCommand)
      .command(planCommand)
      .command(runCommand)
      .command(schemaCommand)
      .demandCommand(1, 'give a command: dump, restore, check, show, validate, plan, run, schema')
      .strict()
      .version(false)
      .help()
      .fail((msg, err) => {
        if (err) throw err;
        throw new UsageError(msg);
      })
      .parseAsync();
  } catch (e) {
    report(e);
  }
}

/**
 * yargs renders the full help text before it runs any command (~30 ms with string-width), only
 * so that a handler could show it later; cryo's handlers never do (`--help` and usage errors
 * render it afresh). An internal yargs method: if it is not there, nothing changes.
 */
function skipHelpCache(cli: object): void {
  const usage = (cli as { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } } }).getInternalMethods?.().getUsageInstance?.();
  if (usage && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => {};
}

class UsageError extends CryoError {
  readonly exitCode: number = EXIT.INVALID;
}

function report(e: unknown): void {
  if (e instanceof CryoError) {
    process.stderr.write(`Error: ${e.message}\n`);
    if (e.hint) process.stderr.write(`hint: ${e.hint}\n`);
    if (e instanceof UsageError) process.stderr.write('run `cryo --help` for the commands and options\n');
    process.exitCode = e.exitCode;
    return;
  }
  const bug = new InternalError(e instanceof Error ? e.message : String(e), { cause: e });
  process.stderr.write(`Internal error (a bug in cryo, please report it): ${bug.message}\n`);
  if (e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  process.exitCode = bug.exitCode;
}
