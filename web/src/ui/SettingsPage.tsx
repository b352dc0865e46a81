// Settings of the Store issue, validated like the server validates them
// (types and ranges); the server's own refusal is shown too. In the
// training seed's sections (SettingsSections.tsx): General, Services
// (the seed's Synthetic Eye: services and their thresholds), Discovery (jobs), Training
// (hyper-parameter configs) and Advanced (keys, tokens, health thresholds,
// the system and its requirements).
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api, type Health } from '../api';
import { normalizeSettings, SETTINGS, validate } from '../settings';
import { playChime, setSoundEnabled, soundEnabled } from '../attention';
import { browserPermission, notificationsBlocked, notificationsOn, switchNotifications, type Permission } from '../notify';
import { applyTheme, auth, setSettings, settings, settingsLoaded, toast } from '../store';
import { errText, ErrorState, Spinner } from './common';
import { Credentials } from './Credentials';
import { ForgeHosts } from './ForgeHosts';
import { RequirementsPanel } from './Requirements';
import { TokensPanel } from './Tokens';
import { PushSetting } from './PushSetting';
import { ConfigEditor } from './ConfigEditor';
import { JobsPanel } from './Jobs';
import { ServicesPanel } from './Services';
import { EnvironmentPicker, SECTION_OF, SectionNav, SECTIONS, sectionOf } from './SettingsSections';

export function SettingsPage({ section }: { section?: string }) {
  const sec = sectionOf(section);
  const form = useSignal<Record<string, unknown>>({ ...settings.value });
  const errors = useSignal<Record<string, string>>({});
  const serverErr = useSignal<string | null>(null);
  const loadErr = useSignal<string | null>(null);
  const saving = useSignal(false);
  const edited = useSignal(false);
  const sound = useSignal(soundEnabled());

  const load = () => {
    loadErr.value = null;
    api
      .settings()
      .then((d) => {
        setSettings(normalizeSettings(d));
        if (!edited.value) form.value = { ...settings.value }; // a field typed in while it loaded stays
      })
      .catch((e) => (loadErr.value = errText(e)));
  };
  useEffect(load, []);
  const health = useSignal<Health | null>(null);
  useEffect(() => {
    api
      .health()
      .then((h) => (health.value = h))
      .catch(() => (health.value = null));
  }, []);

  if (loadErr.value && !settingsLoaded.value) return <ErrorState message={loadErr.value} onRetry={load} />;
  if (!settingsLoaded.value) return <Spinner label="Loading settings…" />;

  const set = (k: string, v: unknown) => {
    edited.value = true;
    form.value = { ...form.value, [k]: v };
    const { errors: e } = validate(settings.value, { [k]: v });
    const next = { ...errors.value };
    if (e[k]) next[k] = e[k];
    else delete next[k];
    errors.value = next;
  };
  const save = async (e: Event) => {
    e.preventDefault();
    const { values, errors: errs } = validate(settings.value, form.value);
    errors.value = errs;
    serverErr.value = null;
    if (Object.keys(errs).length) return;
    if (!Object.keys(values).length) {
      toast('info', 'Nothing to save');
      return;
    }
    saving.value = true;
    try {
      const d = await api.patchSettings(values);
      void d;
      setSettings(values, true);
      form.value = { ...settings.value };
      edited.value = false;
      applyTheme();
      toast('success', 'Settings saved');
    } catch (e2) {
      serverErr.value = errText(e2);
    } finally {
      saving.value = false;
    }
  };

  return (
    <div class="page settings">
      <h1 class="page-title">Settings</h1>
      <div class="settings-layout">
        <SectionNav current={sec} />
        <div class="settings-body" data-section={sec}>
          <h2 class="settings-section-title">{SECTIONS.find((x) => x.id === sec)!.label}</h2>
          {sec === 'general' && <EnvironmentPicker />}
          {sec === 'services' && <ServicesPanel t={health.value?.thresholds || {}} />}
          {sec === 'discovery' && <JobsPanel discovery />}
          {sec === 'training' && <ConfigEditor />}
          {SETTINGS.some((s) => SECTION_OF(s.key) === sec) && (
            <form class="panel glass form settings-form" onSubmit={save} noValidate>
              {SETTINGS.filter((s) => s.key !== 'notifications' && SECTION_OF(s.key) === sec).map((s) => (
                <div class={`setting${errors.value[s.key] ? ' invalid' : ''}`} key={s.key}>
                  <label for={`set-${s.key}`}>
                    <span class="setting-label">{s.label}</span>
                    <span class="setting-help">{s.help}</span>
                  </label>
                  {s.type === 'boolean' && (
                    <input
                      id={`set-${s.key}`}
                      name={s.key}
                      type="checkbox"
                      class="switch"
                      checked={!!form.value[s.key]}
                      onChange={(e) => set(s.key, e.currentTarget.checked)}
                    />
                  )}
                  {s.type === 'enum' && (
                    <select id={`set-${s.key}`} name={s.key} value={String(form.value[s.key])} onChange={(e) => set(s.key, e.currentTarget.value)}>
                      {s.options!.map((o) => (
                        <option key={o} value={o}>
                          {o}
                        </option>
                      ))}
                    </select>
                  )}
                  {s.type === 'number' && (
                    <input
                      id={`set-${s.key}`}
                      name={s.key}
                      type="number"
                      inputMode="numeric"
                      min={s.min}
                      max={s.max}
                      value={String(form.value[s.key] ?? '')}
                      onInput={(e) => set(s.key, e.currentTarget.value)}
                      aria-invalid={!!errors.value[s.key]}
                      aria-describedby={errors.value[s.key] ? `err-${s.key}` : undefined}
                    />
                  )}
                  {s.type === 'text' && (
                    <input
                      id={`set-${s.key}`}
                      name={s.key}
                      type="text"
                      spellcheck={false}
                      placeholder="off"
                      value={String(form.value[s.key] ?? '')}
                      onInput={(e) => set(s.key, e.currentTarget.value)}
                      aria-invalid={!!errors.value[s.key]}
                      aria-describedby={errors.value[s.key] ? `err-${s.key}` : undefined}
                    />
                  )}
                  {errors.value[s.key] && (
                    <div class="field-error" id={`err-${s.key}`} role="alert">
                      {errors.value[s.key]}
                    </div>
                  )}
                </div>
              ))}
              {sec === 'general' && <NotificationsSetting />}
              {sec === 'general' && <PushSetting />}
              {sec === 'general' && (
                <div class="setting">
                  <label for="set-sound">
                    <span class="setting-label">Sound when an agent waits</span>
                    <span class="setting-help">A short chime as an agent starts waiting for input. This browser only; applies at once.</span>
                  </label>
                  <input
                    id="set-sound"
                    type="checkbox"
                    class="switch"
                    checked={sound.value}
                    onChange={(e) => {
                      sound.value = e.currentTarget.checked;
                      setSoundEnabled(sound.value);
                      if (sound.value) playChime(); // what it sounds like (and audio unlocked by this click)
                    }}
                  />
                </div>
              )}
              {serverErr.value && (
                <div class="form-error" role="alert">
                  agentd refused: {serverErr.value}
                </div>
              )}
              <div class="form-actions">
                <button type="button" class="btn" onClick={() => ((form.value = { ...settings.value }), (errors.value = {}))}>
                  Reset
                </button>
                <button type="submit" class="btn btn-primary" disabled={saving.value || Object.keys(errors.value).length > 0}>
                  {saving.value ? 'Saving…' : 'Save settings'}
                </button>
              </div>
            </form>
          )}
          {sec === 'advanced' && (
            <>
              <Credentials provider="anthropic" />
              <Credentials provider="openai" />
              {auth.value.who?.scope === 'admin' && auth.value.who.authRequired && <TokensPanel />}
              {auth.value.who?.scope === 'admin' || !auth.value.who?.authRequired ? <ForgeHosts /> : null}
              {health.value && <SystemPanel h={health.value} />}
              {auth.value.who?.scope === 'admin' || !auth.value.who?.authRequired ? <RequirementsPanel /> : null}
            </>
          )}
        </div>
      </div>
    </div>
  );
}

// Desktop notifications apply at once: on asks this browser's permission
// first and is stored only when granted (notify.ts).
function NotificationsSetting() {
  const perm = useSignal<Permission>(browserPermission());
  const busy = useSignal(false);
  const on = notificationsOn(settings.value.notifications, perm.value);
  const blocked = notificationsBlocked(settings.value.notifications, perm.value);
  const flip = async (want: boolean) => {
    busy.value = true;
    try {
      perm.value = await switchNotifications(
        want,
        perm.value,
        () => Notification.requestPermission(),
        async (v) => {
          await api.patchSettings({ notifications: v });
          setSettings({ notifications: v }, true);
        },
      );
      if (want && perm.value !== 'granted') toast('warn', 'Notifications not allowed', 'The browser did not allow them; the switch stays off.');
    } catch (e) {
      toast('error', 'Notifications', errText(e));
    } finally {
      busy.value = false;
    }
  };
  return (
    <div class="setting">
      <label for="set-notifications">
        <span class="setting-label">Desktop notifications</span>
        <span class="setting-help">When an agent needs you (an approval, a question) and this tab is in the background. Applies at once.</span>
        {blocked && <span class="setting-help notify-blocked">{blocked}</span>}
      </label>
      <input
        id="set-notifications"
        type="checkbox"
        class="switch"
        checked={on}
        disabled={busy.value || perm.value === 'unsupported'}
        onChange={(e) => void flip(e.currentTarget.checked)}
      />
    </div>
  );
}

// How agentd keeps agents' process trees in check, so a user knows whether
// stop reaches a daemonized grandchild and whether limits can be set.
function SystemPanel({ h }: { h: Health }) {
  const c = h.processes.containment;
  const limits = [c.memoryLimits && 'memory', c.cpuLimits && 'CPU'].filter(Boolean).join(' and ');
  return (
    <section class="panel glass system-panel" aria-label="System">
      <h2>System</h2>
      <dl>
        <dt>agentd</dt>
        <dd>
          {h.version}, up {Math.floor(h.uptimeSec / 60)} min, {h.processes.live} live processes
        </dd>
        <dt>Process containment</dt>
        <dd data-mode={c.mode}>
          {c.mode === 'cgroup' ? 'a cgroup per run' : 'process groups and subreaper'}
          <span class="setting-help"> {c.detail}</span>
        </dd>
        <dt>Per-agent limits</dt>
        <dd>{limits ? `${limits} limits available` : 'not available here'}</dd>
      </dl>
    </section>
  );
}
