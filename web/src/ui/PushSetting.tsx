// The "Push to this device" switch of Settings > General (issue #76):
// on, this browser subscribes to Web Push (push.ts) so approvals and
// agents that need you reach its lock screen, the dashboard closed.
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { currentSubscription, pushSupported, subscribePush, unsubscribePush } from '../push';
import { toast } from '../store';
import { errText } from './common';

export function PushSetting() {
  const on = useSignal(false);
  const busy = useSignal(false);
  const supported = pushSupported();
  useEffect(() => {
    if (!supported) return;
    currentSubscription()
      .then((s) => (on.value = !!s))
      .catch(() => {});
  }, []);
  const flip = async (want: boolean) => {
    busy.value = true;
    on.value = want; // shown at once; put back if it fails
    try {
      if (want) await subscribePush();
      else await unsubscribePush();
      if (want) toast('success', 'Push on', 'Approvals and agents that need you reach this device, the dashboard closed.');
    } catch (e) {
      on.value = !want;
      toast('error', 'Push to this device', errText(e));
    } finally {
      busy.value = false;
    }
  };
  return (
    <div class="setting">
      <label for="set-push">
        <span class="setting-label">Push to this device</span>
        <span class="setting-help">
          Approvals (with Allow and Deny), agents waiting for you, failed runs and goals met, on this device's lock screen even with the dashboard closed.
          Install the dashboard as an app first on a phone.
        </span>
        {!supported && <span class="setting-help notify-blocked">This browser cannot take pushes here (it needs HTTPS, or the app installed).</span>}
      </label>
      <input
        id="set-push"
        type="checkbox"
        class="switch"
        checked={on.value}
        disabled={busy.value || !supported}
        onChange={(e) => void flip(e.currentTarget.checked)}
      />
    </div>
  );
}
