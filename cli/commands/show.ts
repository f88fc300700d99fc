// `cryo show FILE|DIR`: images decoded to JSON in crit's shape, 64-bit values exact.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandModule } from 'yargs';

interface Args {
  readonly path: string;
  readonly pretty?: boolean;
}

const RAW = /^pages-\d+\.img$/;

export const showCommand: CommandModule<object, Args> = {
  command: 'show <path>',
  describe: 'Decode an image file (or every image of a directory) to JSON, like crit decode',
  builder: (y) =>
    y.positional('path', { type: 'string', demandOption: true, describe: 'image file or images directory' }).option('pretty', { type: 'boolean', describe: 'indent, hex addresses' }) as never,
  handler: async (argv) => {
    const { decodeImageFile, toCritJson } = await import('../../engine/index.ts');
    const pretty = argv.pretty === true;
    if (!statSync(argv.path).isDirectory()) {
      process.stdout.write(`${toCritJson(decodeImageFile(argv.path), { pretty })}\n`);
      return;
    }
    const names = readdirSync(argv.path)
      .filter((n) => (n.endsWith('.img') && !RAW.test(n)) || n === 'stats-dump' || n === 'stats-restore')
      .sort();
    const parts = names.map((n) => `${JSON.stringify(n)}: ${toCritJson(decodeImageFile(join(argv.path, n)), { pretty })}`);
    process.stdout.write(`{${pretty ? '\n' : ''}${parts.join(pretty ? ',\n' : ', ')}${pretty ? '\n' : ''}}\n`);
  },
};
