// The capability modules the hub runs by default (channels, DICOM, documents…), in start order.
import type { HubConfig } from './config.js';
import type { HubModule } from './module.js';
import { channelsModule, engineSettingsFromEnv } from '../engine/module.js';
import { dicomModule, dicomSettingsFromEnv } from '../connectors/dicom/hub/dicom-module.js';
import { terminologyModule } from '../terminology-maps/module.js';
import { uiModule } from './ui-module.js';
import { documentsModule } from '../connectors/documents/documents-module.js';

export async function defaultModules(_config: HubConfig): Promise<HubModule[]> {
  const channels = channelsModule(engineSettingsFromEnv(process.env));
  return [channels, terminologyModule(), dicomModule({ ...dicomSettingsFromEnv(process.env), channels }), documentsModule({ channels }), uiModule()];
}
