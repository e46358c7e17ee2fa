// Registers `keney demo` (hub/cli.ts calls this). The command's code loads only when it runs.
import type { Command } from '../hub/cli.js';

export const demoCommand: Command = {
  summary:
    'Create the demo data set (synthetic French patients, test INS only) through the real channels; without --url, start a demo hub in ./data/demo.',
  usage: 'keney demo [--url URL --token TOKEN] [--data-dir DIR] [--reload]',
  run: async (args) => (await import('./cli.js')).runDemo(args),
};

export function registerDemoCommand(register: (name: string, command: Command) => void): void {
  register('demo', demoCommand);
}
