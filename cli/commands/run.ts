// `cryo run FILE [--input k=v]… [--json]`: live progress, a summary, non-zero exit naming the
// failed step. Ctrl-C stops the running step and the main steps (finally steps still run);
// a second Ctrl-C stops the finally steps too; a third exits at once.
import type { CommandModule } from 'yargs';

interface Args {
  readonly file: string;
  readonly input?: string[];
  readonly json?: boolean;
  readonly 'action-script'?: string[];
}

export const runCommand: CommandModule<object, Args> = {
  command: 'run <file>',
  describe: 'Run a workflow: its steps in order, then its finally steps',
  builder: (y) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'workflow file' })
      .option('input', { alias: 'i', type: 'string', array: true, describe: 'NAME=VALUE for an input (repeatable)' })
      .option('json', { type: 'boolean', describe: 'NDJSON events on stdout instead of progress' })
      .option('action-script', { type: 'string', array: true, describe: 'CRIU action script run at every hook moment (repeatable)' }) as never,
  handler: async (argv) => {
    const { actionScripts, running } = await import('../../engine/index.ts');
    const { WorkflowCancelledError, WorkflowFailedError, formatSummary, jsonReporter, parseInputFlags, runWorkflow, textReporter } = await import('../../runner/index.ts');
    const main = new AbortController();
    const fin = new AbortController();
    const sigints = { n: 0 };
    const onSigint = (): void => {
      sigints.n++;
      if (sigints.n === 1) {
        process.stderr.write('\nstopping (Ctrl-C again to stop the finally steps too)\n');
        main.abort();
      } else if (sigints.n === 2) fin.abort();
      else process.exit(130);
    };
    process.on('SIGINT', onSigint);
    const reporter = argv.json ? jsonReporter(process.stdout) : textReporter(process.stdout, { tty: process.stdout.isTTY === true });
    const scripts = argv['action-script'];
    try {
      const result = await runWorkflow(argv.file, {
        inputs: parseInputFlags(argv.input),
        signal: main.signal,
        finallySignal: fin.signal,
        actionHooks: scripts?.length ? actionScripts(scripts) : undefined,
        onEvent: (e) => reporter.onEvent(e),
      });
      reporter.close();
      if (!argv.json) process.stdout.write(`\n${formatSummary(argv.file, result)}\n`);
      if (result.cancelled) {
        const left = result.steps.filter((s) => s.kind === 'restore' && typeof s.outputs.pid === 'number' && running(s.outputs.pid as number));
        throw new WorkflowCancelledError(result.failedStep ?? '?', {
          hint: left.length ? `restored and left running: ${left.map((s) => `pid ${String(s.outputs.pid)}`).join(', ')}` : undefined,
        });
      }
      if (!result.ok) throw new WorkflowFailedError(result.failedStep ?? '?', result.error ?? 'failed');
    } finally {
      reporter.close();
      process.off('SIGINT', onSigint);
    }
  },
};
