// `cryo validate FILE…`: every problem of every file at once (file:line:col, expected/found,
// code frame); exit 2 when any file is invalid.
import type { CommandModule } from 'yargs';

interface Args {
  readonly files: string[];
}

export const validateCommand: CommandModule<object, Args> = {
  command: 'validate <files..>',
  describe: 'Check workflow files against the schema and rules, reporting every problem',
  builder: (y) => y.positional('files', { type: 'string', array: true, demandOption: true, describe: 'workflow files' }) as never,
  handler: async (argv) => {
    const { WorkflowInvalidError, validateFiles } = await import('../../runner/index.ts');
    const results = await validateFiles(argv.files);
    for (const r of results) if (!r.issues.length) process.stdout.write(`${r.file}: ok (${r.steps} step${r.steps === 1 ? '' : 's'})\n`);
    const issues = results.flatMap((r) => r.issues);
    if (issues.length) throw new WorkflowInvalidError(issues);
  },
};
