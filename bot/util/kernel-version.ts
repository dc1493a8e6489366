// Kernel version strings as trees, builds and boot banners print them
// ("6.12.118", "6.12.117+"). Debian's linux-source-6.12 follows the stable point
// releases, so tests and reports compare the series and name the point release.

/** The stable series of a kernel version: "6.12.118+" and "6.12" -> "6.12"; null if none. */
export function kernelSeries(version: string | null | undefined): string | null {
  const m = /^(\d+)\.(\d+)(?:\.\d+)?(?:[^\d.].*)?$/.exec(version ?? '');
  return m ? `${m[1]}.${m[2]}` : null;
}

/** "6.12.117+" -> "6.12.117": the release without a local-version suffix. */
export function kernelRelease(version: string | null | undefined): string | null {
  return /^\d+\.\d+(?:\.\d+)?/.exec(version ?? '')?.[0] ?? null;
}
