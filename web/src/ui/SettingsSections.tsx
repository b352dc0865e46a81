// The sections of Settings, as the training seed's Settings tab has them:
// General, Services (the seed's "Synthetic Eye", its address
// #/settings/synthetic-eye kept as another name: its game's words are no
// default for every user, issue #74), Discovery, Training and Advanced,
// each at #/settings/<id> so a link or a reload opens the same one. Which setting
// key shows in which section is SECTION_OF; the panels each section adds
// are SettingsPage's.
import { useSignal } from '@preact/signals';
import { environment, environments, envNameError, setEnvironment } from '../environment';

export const SECTIONS = [
  { id: 'general', label: 'General', icon: '⚙' },
  { id: 'services', label: 'Services', icon: '◉' },
  { id: 'discovery', label: 'Discovery', icon: '⌕' },
  { id: 'training', label: 'Training', icon: '▲' },
  { id: 'advanced', label: 'Advanced', icon: '⚒' },
] as const;
export type SectionId = (typeof SECTIONS)[number]['id'];

export function sectionOf(id: string | undefined): SectionId {
  if (id === 'synthetic-eye') return 'services'; // the seed's name of it
  return SECTIONS.find((s) => s.id === id)?.id ?? 'general';
}

/** The section a setting key is shown in. */
export function SECTION_OF(key: string): SectionId {
  if (key === 'health_service_fps_min' || key === 'health_service_latency_ms') return 'services';
  if (key.startsWith('health_') || key.startsWith('summary_')) return 'advanced';
  return 'general';
}

export function SectionNav({ current }: { current: SectionId }) {
  return (
    <nav class="settings-nav" aria-label="Settings sections">
      {SECTIONS.map((s) => (
        <a
          key={s.id}
          href={`#/settings/${s.id}`}
          class={`settings-nav-item${current === s.id ? ' active' : ''}`}
          aria-current={current === s.id ? 'page' : undefined}
        >
          <span aria-hidden="true">{s.icon}</span> {s.label}
        </a>
      ))}
    </nav>
  );
}

/** The environment discovery and training are for (environment.ts). */
export function EnvironmentPicker() {
  const adding = useSignal('');
  const err = useSignal<string | null>(null);
  const add = (e: Event) => {
    e.preventDefault();
    const why = envNameError(adding.value.trim());
    err.value = why;
    if (!why && setEnvironment(adding.value)) adding.value = '';
  };
  return (
    <section class="panel glass environment" aria-label="Environment">
      <h2>Environment</h2>
      <p class="setting-help">What discovery and training are for (a game, a simulator). Discovery jobs started here are named after it. This browser only.</p>
      <div class="setting">
        <label for="env-pick">
          <span class="setting-label">Current environment</span>
        </label>
        <select id="env-pick" name="environment" value={environment.value} onChange={(e) => setEnvironment(e.currentTarget.value)}>
          {environment.value === '' && (
            <option value="" disabled>
              None yet: add one below
            </option>
          )}
          {environments.value.map((n) => (
            <option key={n} value={n}>
              {n}
            </option>
          ))}
        </select>
      </div>
      <form class="row-form" onSubmit={add} noValidate>
        <label class="field">
          <span>Add an environment</span>
          <input name="new-environment" value={adding.value} maxLength={64} onInput={(e) => (adding.value = e.currentTarget.value)} />
        </label>
        <button class="btn btn-sm" type="submit">
          Add and use
        </button>
        {err.value && (
          <div class="field-error" role="alert">
            {err.value}
          </div>
        )}
      </form>
    </section>
  );
}
