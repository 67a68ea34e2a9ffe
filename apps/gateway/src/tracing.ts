import type { NodeSDK } from '@opentelemetry/sdk-node';
import type { GatewayConfig } from './config';

/**
 * OpenTelemetry: when OTEL_EXPORTER_OTLP_ENDPOINT is set, traces of incoming MCP requests and
 * outgoing upstream calls (undici, with W3C traceparent propagation) are exported over OTLP/HTTP.
 * Must run before the HTTP and undici modules are loaded, so main.ts calls it first.
 */
export function startTracing(config: Pick<GatewayConfig, 'OTEL_EXPORTER_OTLP_ENDPOINT'>): NodeSDK | null {
  if (!config.OTEL_EXPORTER_OTLP_ENDPOINT) return null;
  const { NodeSDK } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  const { OTLPTraceExporter } =
    require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http');
  const { UndiciInstrumentation } =
    require('@opentelemetry/instrumentation-undici') as typeof import('@opentelemetry/instrumentation-undici');
  const { resourceFromAttributes } = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({ 'service.name': 'toolgate-gateway' }),
    traceExporter: new OTLPTraceExporter({ url: `${config.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/$/, '')}/v1/traces` }),
    instrumentations: [
      new HttpInstrumentation({ ignoreIncomingRequestHook: (req) => req.url === '/healthz' || req.url === '/metrics' }),
      new UndiciInstrumentation(),
    ],
  });
  sdk.start();
  return sdk;
}
