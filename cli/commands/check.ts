// `cryo check [--json]`: like `criu check`, probes the kernel features dump and restore need.
import type { CommandModule } from 'yargs';

interface Args {
  readonly json?: boolean;
}

export const checkCommand: CommandModule<object, Args> = {
  command: 'check',
  describe: 'Check that this kernel supports what cryo needs; prints "Looks good." when it does',
  builder: (y) => y.option('json', { type: 'boolean', describe: 'print every probe as JSON' }) as never,
  handler: async (argv) => {
    const { checkKernel } = await import('../../engine/index.ts');
    const results = checkKernel();
    const requiredOk = results.filter((r) => r.level === 'required').every((r) => r.ok);
    const allOk = results.every((r) => r.ok);
    if (argv.json) {
      process.stdout.write(`${JSON.stringify({ ok: requiredOk, features: results }, null, 2)}\n`);
    } else {
      for (const r of results) if (!r.ok) process.stdout.write(`${r.level === 'required' ? 'Error' : 'Warn '}: ${r.name}: ${r.detail}\n`);
      if (!requiredOk) process.stdout.write('Does not look good.\n');
      else if (!allOk) process.stdout.write('Looks good but some kernel features are missing\nwhich, depending on your process tree, may cause\ndump or restore failure.\n');
      else process.stdout.write('Looks good.\n');
    }
    if (!requiredOk) process.exitCode = 1;
  },
};
