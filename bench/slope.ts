/** Least-squares slope of y over t: how fast a sampled figure grows (soak scripts: MB per hour). */
export function slope(points: Array<[number, number]>): number {
  const n = points.length;
  const mt = points.reduce((s, [t]) => s + t, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const num = points.reduce((s, [t, y]) => s + (t - mt) * (y - my), 0);
  const den = points.reduce((s, [t]) => s + (t - mt) ** 2, 0);
  return den ? num / den : 0;
}
