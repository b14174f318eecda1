import type { MiddlewareHandler } from 'hono';
import { Counter, Gauge, Histogram, Registry as MetricsRegistry } from 'prom-client';
import type { Registry } from '../../store/database.js';
import { countEsms } from '../../store/esms.js';
import { countJobsByState, JOB_STATES } from '../../store/jobs.js';

/** Request latencies from 5 ms (a cached lookup) to 2 min (a large synchronous ranking). */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/**
 * The service's Prometheus metrics, in a registry of its own (not prom-client's global one) so
 * that several apps in one process, as in the tests, count separately.
 */
export class ServiceMetrics {
  readonly registry = new MetricsRegistry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly latency: Histogram<'method' | 'route' | 'status'>;
  private readonly scored: Counter;

  constructor(store: Registry) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'esmselect_http_requests_total',
      help: 'HTTP requests answered, by route and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.latency = new Histogram({
      name: 'esmselect_http_request_duration_seconds',
      help: 'Time to answer an HTTP request (to the start of the body for streams), by route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.scored = new Counter({ name: 'esmselect_esms_scored_total', help: 'ESMs scored against a target by ranking jobs', registers });
    for (const [kind, noun] of [
      ['ranking', 'Ranking'],
      ['finetune', 'Fine-tune'],
      ['pull', 'Pull'],
    ] as const) {
      new Gauge({
        name: `esmselect_${kind}_jobs`,
        help: `${noun} jobs in the registry, by state`,
        labelNames: ['state'],
        registers,
        collect() {
          const counts = countJobsByState(store, kind);
          for (const state of JOB_STATES) this.set({ state }, counts[state]);
        },
      });
    }
    new Gauge({
      name: 'esmselect_registry_esms',
      help: 'ESMs in the registry',
      registers,
      collect() {
        this.set(countEsms(store));
      },
    });
  }

  countScored(count: number): void {
    this.scored.inc(count);
  }

  /** Counts and times every request by its route pattern (not its URL, which would make a series per job id). */
  middleware(): MiddlewareHandler {
    return async (c, next) => {
      const started = performance.now();
      await next();
      const route = c.req.routePath === '/*' || c.req.routePath === '*' ? 'unmatched' : c.req.routePath;
      const labels = { method: c.req.method, route, status: String(c.res.status) };
      this.requests.inc(labels);
      this.latency.observe(labels, (performance.now() - started) / 1000);
    };
  }

  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
