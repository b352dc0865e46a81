// Small pure helpers of the Health page: byte and number formatting and the
// SVG path of a sparkline (gaps where a reading is missing), kept here so
// Vitest can check them without a DOM.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function fmtBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  let v = Math.max(0, n);
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v.toFixed(0) : v.toFixed(1)} ${UNITS[u]}`;
}

export function fmtNum(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '–';
}

// A path over a 100 x 30 box: y is value/hi from the bottom; x is each
// point's time within [x0, x1] when times are given (a young history sits
// at the right edge, as it is), else the points spread evenly. A null
// ends the current segment (nothing is invented).
export function sparkPath(values: (number | null)[], hi: number, ts?: number[], x0?: number, x1?: number): string {
  const n = values.length;
  if (n === 0 || !(hi > 0)) return '';
  let d = '';
  let pen = false;
  values.forEach((v, i) => {
    if (v === null || !Number.isFinite(v)) {
      pen = false;
      return;
    }
    const timed = ts !== undefined && x0 !== undefined && x1 !== undefined && x1 > x0;
    const x = timed ? Math.min(100, Math.max(0, ((ts![i] - x0!) / (x1! - x0!)) * 100)) : n === 1 ? 100 : (i / (n - 1)) * 100;
    const y = 30 - Math.min(1, Math.max(0, v / hi)) * 30;
    d += `${pen ? 'L' : 'M'}${x.toFixed(2)} ${y.toFixed(2)}`;
    pen = true;
  });
  return d;
}

/** How long a service has been up: "42 s", "5 min", "3 h 12 min", "2 d 4 h". */
export function fmtUptime(startedAt: number | null | undefined, now = Date.now()): string {
  if (startedAt === null || startedAt === undefined || !Number.isFinite(startedAt)) return '–';
  const s = Math.max(0, Math.floor((now - startedAt) / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}
