// `keney terminology load cim10|ccam FILE …`: loads a user-supplied CIM-10 or CCAM file (they cannot be shipped).
// Registered from hub/cli.ts; the loader's code loads only when the command runs.
import type { Command } from '../hub/cli.js';

export function registerTerminologyCommands(register: (name: string, command: Command) => void): void {
  register('terminology load', {
    summary: 'Load a CIM-10 or CCAM file you obtained from ATIH/ANS into the hub (stop an embedded hub first).',
    usage: 'keney terminology load cim10|ccam FILE [--code-column N] [--display-column M] [--separator ";"] [--version V] [--encoding latin1]',
    run: async (args) => (await import('./load-cli.js')).runLoad(args),
  });
}
