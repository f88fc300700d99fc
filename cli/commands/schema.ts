// `cryo schema`: prints schemas/workflow.schema.json (for editors and SchemaStore).
import { readFileSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { schemaPath } from '../../runner/index.ts';

export const schemaCommand: CommandModule<object, object> = {
  command: 'schema',
  describe: 'Print the JSON Schema (draft-07) of workflow files',
  handler: () => {
    process.stdout.write(readFileSync(schemaPath(), 'utf8'));
  },
};
