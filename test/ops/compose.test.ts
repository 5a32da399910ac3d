import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { DEV_SERVER_DYNAMIC_CONFIG } from '../../temporal/dev-server';

// docker-compose is not installed on the development machines (no `docker-compose config` to run),
// so the structure of docker-compose.yml and of the Prometheus and Grafana provisioning is checked
// here: valid YAML, the services and their wiring, every mounted file present, every `${VAR}` of the
// compose file well formed.

const ROOT = path.resolve(__dirname, '../..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

type Service = {
  image?: string;
  build?: unknown;
  command?: unknown;
  environment?: Record<string, unknown>;
  volumes?: string[];
  ports?: string[];
  expose?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
};

describe('docker-compose with Prometheus and Grafana', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as {
    services: Record<string, Service>;
    volumes: Record<string, unknown>;
  };

  it('is valid YAML with the platform, Prometheus and Grafana services', () => {
    expect(Object.keys(compose.services)).toEqual(
      expect.arrayContaining([
        'postgres',
        'temporal',
        'temporal-ui',
        'api',
        'worker',
        'prometheus',
        'grafana',
      ]),
    );
    for (const [name, service] of Object.entries(compose.services)) {
      expect({ name, runnable: Boolean(service.image || service.build) }).toEqual({ name, runnable: true });
      const deps = Array.isArray(service.depends_on)
        ? service.depends_on
        : Object.keys(service.depends_on ?? {});
      for (const dep of deps) expect(Object.keys(compose.services)).toContain(dep);
      for (const volume of service.volumes ?? []) {
        const [source] = volume.split(':');
        if (source!.startsWith('./'))
          expect({ volume, exists: existsSync(path.join(ROOT, source!)) }).toEqual({ volume, exists: true });
        else expect(Object.keys(compose.volumes)).toContain(source);
      }
    }
  });

  it('has every ${VAR} well formed (what `docker-compose config` would interpolate)', () => {
    const text = read('docker-compose.yml');
    for (const match of text.matchAll(/\$\{([^}]*)\}/g))
      expect(match[1]).toMatch(/^[A-Z_][A-Z0-9_]*(:?[-?][^}]*)?$/);
  });

  it('gives the workers a metrics port Prometheus scrapes, and the API /metrics', () => {
    const worker = compose.services.worker!;
    expect(worker.environment).toMatchObject({ WORKER_METRICS_PORT: '9464', WORKER_METRICS_HOST: '0.0.0.0' });
    const prometheus = parse(read('ops/prometheus/prometheus.yml')) as {
      scrape_configs: Array<{
        job_name: string;
        metrics_path?: string;
        static_configs?: Array<{ targets: string[] }>;
        dns_sd_configs?: Array<{ names: string[]; port: number }>;
      }>;
    };
    const jobs = Object.fromEntries(prometheus.scrape_configs.map((c) => [c.job_name, c]));
    expect(jobs.api!.static_configs![0]!.targets).toEqual(['api:3000']);
    expect(jobs.api!.metrics_path).toBe('/metrics');
    expect(jobs.worker!.dns_sd_configs![0]).toMatchObject({ names: ['worker'], port: 9464 });
    expect(compose.services.prometheus!.volumes).toContain(
      './ops/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro',
    );
  });

  it('provisions Grafana with Prometheus and the platform dashboard', () => {
    const grafana = compose.services.grafana!;
    expect(grafana.volumes).toEqual(
      expect.arrayContaining([
        './ops/grafana/provisioning:/etc/grafana/provisioning:ro',
        './ops/grafana/dashboards:/var/lib/grafana/dashboards:ro',
      ]),
    );
    const datasources = parse(read('ops/grafana/provisioning/datasources/prometheus.yml')) as {
      datasources: Array<{ uid: string; type: string; url: string }>;
    };
    expect(datasources.datasources[0]).toMatchObject({
      uid: 'prometheus',
      type: 'prometheus',
      url: 'http://prometheus:9090',
    });
    const providers = parse(read('ops/grafana/provisioning/dashboards/platform.yml')) as {
      providers: Array<{ options: { path: string } }>;
    };
    expect(providers.providers[0]!.options.path).toBe('/var/lib/grafana/dashboards');
    const dashboard = JSON.parse(read('ops/grafana/dashboards/platform.json')) as {
      uid: string;
      panels: Array<{ datasource?: { uid: string }; targets?: unknown[] }>;
    };
    expect(dashboard.uid).toBe('airtable-ops-platform');
    for (const panel of dashboard.panels.filter((p) => p.targets))
      expect(panel.datasource?.uid).toBe('prometheus');
  });

  it('points the Web UI at the codec server and lets its origin in', () => {
    expect(compose.services['temporal-ui']!.environment!.TEMPORAL_CODEC_ENDPOINT).toMatch(
      /^http:\/\/localhost:3000\/codec\/t\/\$\{CODEC_TOKEN:\?/,
    );
    expect(compose.services.api!.environment).toMatchObject({ CODEC_CORS_ORIGINS: 'http://localhost:8080' });
  });

  it("runs Temporal with the dev server's dynamic config", () => {
    const temporal = compose.services.temporal!;
    const file = temporal.environment!.DYNAMIC_CONFIG_FILE_PATH as string;
    const mount = temporal.volumes!.find((v) => v.endsWith(`:/etc/temporal/${file}:ro`));
    expect(mount).toBeDefined();
    const config = parse(read(mount!.split(':')[0]!.replace(/^\.\//, ''))) as Record<
      string,
      Array<{ value: unknown }>
    >;
    expect(Object.fromEntries(Object.entries(config).map(([key, [entry]]) => [key, entry!.value]))).toEqual(
      DEV_SERVER_DYNAMIC_CONFIG,
    );
  });
});
