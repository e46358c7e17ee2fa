// Stays and movements as IHE PAM France describes them: a stay (venue, identified by its NDA) is an Encounter;
// each movement (ZBE: admission, transfer, leave, return, discharge…) is an Encounter partOf the stay, with its
// medical UF (serviceProvider), its care UF (extension), its nature and its action (INSERT/UPDATE/CANCEL).
import type { Encounter, Reference } from '@medplum/fhirtypes';

const EXT = 'https://keney.health/fhir/StructureDefinition/';

export interface MovementView {
  id: string;
  identifier?: string;
  /** The HL7 trigger event (A01, A02, A21…). */
  event?: string;
  start?: string;
  end?: string;
  status: Encounter['status'];
  cancelled: boolean;
  /** Medical UF (ZBE-7) and care UF (ZBE-8): references to Organizations. */
  medicalUnit?: string;
  careUnit?: string;
  /** ZBE-9: S (soins), H (hébergement), D (départ/absence)… */
  nature?: string;
  action?: string;
  location?: string;
}

export interface StayView {
  id: string;
  /** The NDA (visit number). */
  identifier?: string;
  start?: string;
  end?: string;
  status: Encounter['status'];
  classCode?: string;
  serviceType?: string;
  location?: string;
  medicalUnit?: string;
  entryMode?: string;
  exitMode?: string;
  /** Movements, oldest first. */
  movements: MovementView[];
}

function ref(reference: Reference | undefined): string | undefined {
  return reference?.reference;
}

function extensionValue(encounter: Encounter, name: string): unknown {
  const e = encounter.extension?.find((x) => x.url === EXT + name);
  return e?.valueCode ?? e?.valueString ?? e?.valueReference;
}

function pmsiMode(encounter: Encounter, mode: 'entryMode' | 'exitMode'): string | undefined {
  return encounter.extension?.find((x) => x.url === `${EXT}pmsi-modes`)?.extension?.find((x) => x.url === mode)
    ?.valueCode;
}

function movementView(encounter: Encounter): MovementView {
  const careUnit = extensionValue(encounter, 'care-unit') as Reference | undefined;
  const event = encounter.type
    ?.flatMap((t) => t.coding ?? [])
    .find((c) => c.system === 'http://terminology.hl7.org/CodeSystem/v2-0003')?.code;
  const nature = extensionValue(encounter, 'movement-nature') as string | undefined;
  const action = extensionValue(encounter, 'movement-action') as string | undefined;
  return {
    id: encounter.id ?? '',
    ...(encounter.identifier?.[0]?.value ? { identifier: encounter.identifier[0].value } : {}),
    ...(event ? { event } : {}),
    ...(encounter.period?.start ? { start: encounter.period.start } : {}),
    ...(encounter.period?.end ? { end: encounter.period.end } : {}),
    status: encounter.status,
    cancelled: encounter.status === 'entered-in-error' || action === 'CANCEL',
    ...(ref(encounter.serviceProvider) ? { medicalUnit: ref(encounter.serviceProvider)! } : {}),
    ...(careUnit?.reference ? { careUnit: careUnit.reference } : {}),
    ...(nature ? { nature } : {}),
    ...(action ? { action } : {}),
    ...(ref(encounter.location?.[0]?.location) ? { location: ref(encounter.location![0]!.location)! } : {}),
  };
}

function byStart(a: { start?: string }, b: { start?: string }): number {
  return (Date.parse(a.start ?? '') || 0) - (Date.parse(b.start ?? '') || 0);
}

/**
 * Stays with their movements, most recent stay first. Encounters that are neither a stay with an identifier
 * nor a movement (a visit an order or a result created without an NDA) are returned apart.
 */
export function staysOf(encounters: Encounter[]): { stays: StayView[]; unidentified: Encounter[] } {
  const movementsByStay = new Map<string, MovementView[]>();
  const stays: Encounter[] = [];
  const unidentified: Encounter[] = [];
  for (const encounter of encounters) {
    const parent = encounter.partOf?.reference;
    if (parent?.startsWith('Encounter/')) {
      const id = parent.slice('Encounter/'.length);
      movementsByStay.set(id, [...(movementsByStay.get(id) ?? []), movementView(encounter)]);
    } else if (encounter.identifier?.some((i) => i.value)) stays.push(encounter);
    else unidentified.push(encounter);
  }
  const views = stays.map((stay): StayView => {
    const movements = (movementsByStay.get(stay.id ?? '') ?? []).sort(byStart);
    movementsByStay.delete(stay.id ?? '');
    const start = stay.period?.start ?? movements[0]?.start;
    const entry = pmsiMode(stay, 'entryMode');
    const exit = pmsiMode(stay, 'exitMode');
    const medicalUnit = [...movements].reverse().find((m) => !m.cancelled && m.medicalUnit)?.medicalUnit;
    return {
      id: stay.id ?? '',
      ...(stay.identifier?.find((i) => i.value)?.value
        ? { identifier: stay.identifier.find((i) => i.value)!.value! }
        : {}),
      ...(start ? { start } : {}),
      ...(stay.period?.end ? { end: stay.period.end } : {}),
      status: stay.status,
      ...(stay.class?.code ? { classCode: stay.class.code } : {}),
      ...(stay.serviceType?.coding?.[0]
        ? { serviceType: stay.serviceType.coding.find((c) => c.display)?.display ?? stay.serviceType.coding[0].code! }
        : {}),
      ...(ref(stay.location?.[0]?.location) ? { location: ref(stay.location![0]!.location)! } : {}),
      ...(medicalUnit ? { medicalUnit } : {}),
      ...(entry ? { entryMode: entry } : {}),
      ...(exit ? { exitMode: exit } : {}),
      movements,
    };
  });
  // Movements whose stay is not in the list (not loaded): shown as their own stays.
  for (const [id, movements] of movementsByStay) {
    movements.sort(byStart);
    views.push({ id, status: 'unknown', ...(movements[0]?.start ? { start: movements[0].start } : {}), movements });
  }
  views.sort((a, b) => byStart(b, a));
  return { stays: views, unidentified };
}
