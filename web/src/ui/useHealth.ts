// The Health page's state, apart from its views: figures polled while a
// panel is mounted (the health sample, its history for a range, services,
// jobs), each with its last error; a poll that answers after the panel is
// gone is dropped.
import { useSignal, type Signal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api, type Health, type HealthHistory, type Job, type Service } from '../api';
import { errText } from './common';

export interface Polled<T> {
  data: Signal<T | null>;
  err: Signal<string | null>;
  reload: () => void;
}

/** load() now and every ms while mounted (and while deps stay). */
export function usePolled<T>(load: () => Promise<T>, ms: number, deps: unknown[] = [], keepOnError = true): Polled<T> {
  const data = useSignal<T | null>(null);
  const err = useSignal<string | null>(null);
  const gen = useSignal(0);
  const run = (mine: () => boolean) =>
    load()
      .then((x) => {
        if (!mine()) return;
        data.value = x;
        err.value = null;
      })
      .catch((e) => {
        if (!mine()) return;
        err.value = errText(e);
        if (!keepOnError) data.value = null;
      });
  useEffect(() => {
    let live = true;
    const mine = () => live;
    void run(mine);
    const t = setInterval(() => void run(mine), ms);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, [...deps, gen.value]);
  return { data, err, reload: () => (gen.value = gen.value + 1) };
}

export const useHealth = () => usePolled<Health>(() => api.health(), 2000);
export const useHealthHistory = (range: string) => usePolled<HealthHistory>(() => api.healthHistory(range), 5000, [range], false);
export const useServices = () => usePolled<Service[]>(() => api.services(), 2000);
export const useJobs = () => usePolled<Job[]>(() => api.jobs(20), 2000);
/** One service's read, with its log, while its log is open. */
export const useServiceLog = (id: string) => usePolled<Service>(() => api.service(id), 2000, [id]);
