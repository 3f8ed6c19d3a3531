/** Decimal units, as disks and S3 bills count: 8.5 MB, 1.2 GB. */
export function formatBytes(b: number): string {
  const units = ["B", "kB", "MB", "GB", "TB", "PB"];
  let v = b;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

/** Hours with sensible precision: 0.0042, 3.7, 1520. */
export function formatHours(h: number): string {
  return h >= 100 ? h.toFixed(0) : h >= 1 ? h.toFixed(1) : h.toPrecision(2);
}

/** 45s, 12m05s, 3h20m, 2d04h. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 86_400)}d${String(Math.floor((s % 86_400) / 3600)).padStart(2, "0")}h`;
}

/** US dollars: $0.0031 below a cent, else $12.34. */
export function formatUsd(usd: number): string {
  return usd > 0 && usd < 0.01 ? `$${usd.toPrecision(2)}` : `$${usd.toFixed(2)}`;
}
