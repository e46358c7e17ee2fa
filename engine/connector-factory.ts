// Builds connectors from channel settings. Tests (and future plugins) can pass their own factory.
import type { Logger } from 'pino';
import { FhirDestination } from '../connectors/fhir-rest/fhir-destination.js';
import { FileDestination } from '../connectors/file/file-destination.js';
import { FileSource } from '../connectors/file/file-source.js';
import { HttpDestination } from '../connectors/http/http-destination.js';
import { HttpSource } from '../connectors/http/http-source.js';
import { KafkaDestination } from '../connectors/kafka/kafka-destination.js';
import { MllpDestination } from '../connectors/mllp/mllp-destination.js';
import { MllpSource } from '../connectors/mllp/mllp-source.js';
import type { QueuedDestinationConfig, SourceConfig } from './channel-config.js';
import type { DestinationConnector, SourceConnector } from './connector.js';

export interface ConnectorFactory {
  /** The connector of an inbound source (subscription sources are built by the engine itself). */
  source(config: Exclude<SourceConfig, { type: 'subscription' }>, logger: Logger): SourceConnector;
  destination(config: QueuedDestinationConfig, logger: Logger): DestinationConnector;
}

export const defaultConnectors: ConnectorFactory = {
  source(config, logger) {
    switch (config.type) {
      case 'mllp':
        return new MllpSource(config, logger);
      case 'file':
        return new FileSource(config, logger);
      case 'http':
        return new HttpSource(config, logger);
      default:
        return config satisfies never;
    }
  },
  destination(config) {
    switch (config.type) {
      case 'mllp':
        return new MllpDestination(config);
      case 'file':
        return new FileDestination(config);
      case 'fhir':
        return new FhirDestination(config);
      case 'http':
        return new HttpDestination(config);
      case 'kafka':
        return new KafkaDestination(config);
      default:
        return config satisfies never;
    }
  },
};
