/** This process's peak resident memory so far, MiB (every thread, model session and buffer included). */
export function peakRssMiB(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}
