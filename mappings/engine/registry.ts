// Builds the mappers from the template folders: one Mapper per message map, plus `hl7v2/default` that picks the
// map by MSH-9. Templates and ConceptMaps are loaded and checked once, when the registry is created.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Hl7Message } from '../../adapters/hl7v2/index.js';
import { TerminologyService, type TerminologyOptions } from '../../terminology-maps/terminology.js';
import type { Mapper, MappingContext, MappingResult } from '../mapper.js';
import { MappingRun, TemplateCompiler, type CompiledMessageMap, type InterpreterOptions } from './interpreter.js';
import { loadTemplates } from './load.js';

export const MAPPINGS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface MapperRegistryOptions {
  /** Template folders; default mappings/hl7v2. A site folder given after it overrides maps of the same name. */
  templateDirs?: string[];
  terminology?: TerminologyService;
  terminologyOptions?: TerminologyOptions;
  /** IANA time zone of senders that give times without an offset (default Europe/Paris). */
  timeZone?: string;
}

export interface MapperRegistry {
  get(id: string): Mapper<Hl7Message> | undefined;
  ids(): string[];
  /** The message map that handles an MSH-9 (`ADT^A01`), if any. */
  forMessageType(code: string, trigger: string): Mapper<Hl7Message> | undefined;
  readonly terminology: TerminologyService;
}

function matches(pattern: string, code: string, trigger: string): boolean {
  const [c, t] = pattern.split('^');
  return c === code && (t === '*' || t === trigger);
}

class TemplateMapper implements Mapper<Hl7Message> {
  constructor(
    readonly id: string,
    readonly compiled: CompiledMessageMap,
    private readonly options: InterpreterOptions,
  ) {}
  map(message: Hl7Message, context: MappingContext): MappingResult {
    return new MappingRun(message, context, this.compiled, this.options).run();
  }
}

export function createTemplateRegistry(options: MapperRegistryOptions = {}): MapperRegistry {
  const terminology = options.terminology ?? new TerminologyService(options.terminologyOptions);
  const templates = loadTemplates(options.templateDirs ?? [join(MAPPINGS_DIR, 'hl7v2')]);
  const compiler = new TemplateCompiler(templates, terminology);
  const interpreterOptions: InterpreterOptions = {
    terminology,
    ...(options.timeZone ? { timeZone: options.timeZone } : {}),
  };
  const mappers = new Map<string, TemplateMapper>();
  for (const map of templates.messages)
    mappers.set(map.id, new TemplateMapper(map.id, compiler.message(map), interpreterOptions));
  // The NLM UCUM library loads its tables on first use (≈ 0.1 s): do it now rather than in the first message.
  terminology.toUcum('mmol/L');
  const forMessageType = (code: string, trigger: string) => {
    // An exact event beats a wildcard.
    const all = [...mappers.values()];
    return (
      all.find((m) => m.compiled.map.events.some((e) => e === `${code}^${trigger}`)) ??
      all.find((m) => m.compiled.map.events.some((e) => matches(e, code, trigger)))
    );
  };
  const dispatcher: Mapper<Hl7Message> = {
    id: 'hl7v2/default',
    map(message, context) {
      const code = message.get('MSH-9.1') ?? '';
      const trigger = message.get('MSH-9.2') ?? '';
      const mapper = forMessageType(code, trigger);
      if (!mapper) {
        return {
          bundle: { resourceType: 'Bundle', type: 'transaction', entry: [] },
          issues: [
            {
              severity: 'error',
              code: 'UNSUPPORTED_MESSAGE_TYPE',
              message: `No mapping handles ${code || '(empty)'}^${trigger || '(empty)'} (MSH-9). Supported: ${[...mappers.values()].flatMap((m) => m.compiled.map.events).join(', ')}. Route this message to a channel without mapping, or add a message map.`,
              location: 'MSH-9',
            },
          ],
        };
      }
      return mapper.map(message, context);
    },
  };
  return {
    terminology,
    get: (id) => (id === 'hl7v2/default' ? dispatcher : mappers.get(id)),
    ids: () => ['hl7v2/default', ...mappers.keys()],
    forMessageType,
  };
}
