// Durations as the schema writes them: 500ms, 30s, 5m, 1h, 1h30m.
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const satisfies Record<string, number>;

export function parseDuration(s: string): number {
  let total = 0;
  const re = /(\d+)(ms|s|m|h)/gy;
  let consumed = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
    consumed = re.lastIndex;
  }
  if (consumed !== s.length || s.length === 0) throw new Error(`not a duration: "${s}" (expected e.g. 500ms, 30s, 5m, 1h30m)`);
  return total;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m${Math.round((ms % 60_000) / 1000)}s`;
}
