// Prometheus metrics, one registry per hub (tests run several hubs in one process).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface HubMetrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  changeSets: Counter<'status'>;
  projectionLag: Gauge<'partition'>;
}

export function createMetrics(): HubMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'keney_process_' });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'keney_http_request_duration_seconds',
      help: 'HTTP request duration by method, route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    changeSets: new Counter({
      name: 'keney_change_sets_applied_total',
      help: 'Change sets applied to the projection, by status (applied, rejected)',
      labelNames: ['status'],
      registers: [registry],
    }),
    projectionLag: new Gauge({
      name: 'keney_projection_lag_records',
      help: 'Records in the change log not yet applied to the projection, per partition',
      labelNames: ['partition'],
      registers: [registry],
    }),
  };
}
