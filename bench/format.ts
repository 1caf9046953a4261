// Units for the bench's output, one convention throughout: wire bytes and throughput in decimal
// units (kB, MB/s, as the peer figures are), memory and file sizes in binary ones (MiB).

const KiB = 1024
const MiB = 1024 * KiB

export function seconds (s: number): string {
  return `${s.toFixed(s < 10 ? 2 : 1)} s`
}

/** Decimal bytes: 940 B, 81.9 kB, 12.3 MB, 1.07 GB. */
export function wireBytes (n: number): string {
  if (n < 1000) return `${n} B`
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`
  return `${(n / 1e9).toFixed(2)} GB`
}

export function rate (bytesPerSecond: number): string {
  const mb = bytesPerSecond / 1e6
  return `${mb.toFixed(mb < 10 ? 1 : 0)} MB/s`
}

/** Binary bytes for memory and file sizes: 512 KiB, 148 MiB, 1.00 GiB. */
export function memory (n: number): string {
  if (n < MiB) return `${(n / KiB).toFixed(0)} KiB`
  if (n < 1024 * MiB) return `${(n / MiB).toFixed(0)} MiB`
  return `${(n / 1024 / MiB).toFixed(2)} GiB`
}

export function ratio (a: number, b: number): string {
  if (b === 0) return a === 0 ? '1.00×' : '∞'
  return `${(a / b).toFixed(2)}×`
}

export function count (n: number): string {
  return n.toLocaleString('en-US')
}
