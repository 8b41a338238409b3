/** Median and percentiles of a sample, for benchmark reports. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export interface Summary {
  runs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** Runs that never completed (nothing delivered within the wait, or the run failed), left out of the figures. */
  timedOut?: number;
}

export function summarize(samplesMs: readonly number[], timedOut = 0): Summary {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return {
    runs: sorted.length,
    medianMs: Math.round(quantile(sorted, 0.5)),
    minMs: Math.round(sorted[0] ?? NaN),
    maxMs: Math.round(sorted[sorted.length - 1] ?? NaN),
    ...(timedOut ? { timedOut } : {}),
  };
}

export async function timeRuns(runs: number, work: (i: number) => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await work(i);
    samples.push(performance.now() - start);
  }
  return samples;
}
