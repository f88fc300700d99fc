// `cryo schema`: prints schemas/workflow.schema.json (for editors and SchemaStore).
import { readFileSync } from 'node:fs';
import type { CommandModule } from 'yargs';

export const schemaCommand: CommandModule<object, object> = {
  command: 'schema',
  describe: 'Print the JSON Schema (draft-07) of workflow files',
  handler: async () => {
    const { schemaPath } = await import('../../runner/index.ts');
    process.stdout.write(readFileSync(schemaPath(), 'utf8'));
  },
};
