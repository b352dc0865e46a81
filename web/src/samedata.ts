// Whether two plain JSON values (arrays, objects, numbers, strings,
// booleans, null) are equal, whatever the order of their objects' keys.
// Used where an answer equal to the last changes nothing (a chart panel's
// refetch, web/src/ui/Panel.tsx) and to match a tool call's input to an
// approval's (events.ts).
export function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameData(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (!Object.prototype.hasOwnProperty.call(b, k) || !sameData((a as any)[k], (b as any)[k])) return false;
  return true;
}
