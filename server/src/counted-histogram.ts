// A Prometheus histogram for a per-frame measurement: counted in a typed array, handed to
// prom-client's registry at scrape time.
//
// prom-client's Histogram.observe() builds a label object, hashes it and looks the series up
// on every call: ~5 % of the daemon's CPU when it was called once per events frame. A histogram
// without labels needs none of that: find the bucket, add one. The registry asks for the series
// on a scrape (get()), in the shape prom-client's own histograms give (cumulative `_bucket`
// series with `le`, then `_sum` and `_count`), so the exposition is the same text.
import type { Metric, Registry } from 'prom-client';

interface Series {
  labels: { le?: number | string };
  value: number;
  metricName: string;
}

export class CountedHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly upperBounds: readonly number[],
    registry: Registry,
  ) {
    this.counts = new Float64Array(upperBounds.length + 1);
    // the registry takes any object with prom-client's metric shape (name, help, type, get)
    registry.registerMetric(this as unknown as Metric);
  }

  observe(value: number): void {
    const b = this.upperBounds;
    let i = 0;
    while (i < b.length && value > (b[i] as number)) i++;
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.sum += value;
    this.count++;
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: Series[] } {
    const values: Series[] = [];
    let cumulative = 0;
    for (let i = 0; i < this.upperBounds.length; i++) {
      cumulative += this.counts[i] as number;
      values.push({ labels: { le: this.upperBounds[i] as number }, value: cumulative, metricName: `${this.name}_bucket` });
    }
    values.push({ labels: { le: '+Inf' }, value: this.count, metricName: `${this.name}_bucket` });
    values.push({ labels: {}, value: this.sum, metricName: `${this.name}_sum` });
    values.push({ labels: {}, value: this.count, metricName: `${this.name}_count` });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
