// `cryo plan FILE [--input k=v]…`: the resolved steps and hooks; nothing is executed.
import type { CommandModule } from 'yargs';

interface Args {
  readonly file: string;
  readonly input?: string[];
  readonly json?: boolean;
}

export const planCommand: CommandModule<object, Args> = {
  command: 'plan <file>',
  describe: 'Print what a workflow would do, with inputs and vars resolved; runs nothing',
  builder: (y) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'workflow file' })
      .option('input', { alias: 'i', type: 'string', array: true, describe: 'NAME=VALUE for an input (repeatable)' })
      .option('json', { type: 'boolean', describe: 'print the plan as JSON' }) as never,
  handler: async (argv) => {
    const { formatPlan, parseInputFlags, planFile, planToJSON } = await import('../../runner/index.ts');
    const plan = await planFile(argv.file, { inputs: parseInputFlags(argv.input) });
    process.stdout.write(argv.json ? `${JSON.stringify(planToJSON(plan), null, 2)}\n` : `${formatPlan(plan)}\n`);
  },
};
