// A refetch that follows a counter of live events (metricsTick, distTick):
// fn runs at most once per ms after the counter moves (never for its first
// value, 0), and fn is read when the timer fires, so it sees the latest
// render's state. The timer ends with the component.
import { useEffect, useRef } from 'preact/hooks';

export function useThrottled(tick: number, ms: number, fn: () => void) {
  const f = useRef(fn);
  f.current = fn;
  const timer = useRef<number | null>(null);
  useEffect(() => {
    if (tick === 0 || timer.current !== null) return;
    timer.current = window.setTimeout(() => {
      timer.current = null;
      f.current();
    }, ms);
  }, [tick]);
  useEffect(
    () => () => {
      if (timer.current !== null) clearTimeout(timer.current);
    },
    [],
  );
}
