// Editing a run's identity (issue #35): its display name, colour, tags,
// notes and group, saved with PATCH /api/runs/:id (only what changed; an
// emptied name, colour or group goes back to its default). The run_update
// event the save publishes renames it in every list and chart. A refusal
// (422) is shown under the field it names.
import { useSignal } from '@preact/signals';
import { api, ApiError } from '../api';
import { parseTags, type RunTableRow } from '../runlist';
import { FormFooter, Modal } from './common';

export function RunEdit({ run, onClose, onSaved }: { run: RunTableRow; onClose: () => void; onSaved?: (r: RunTableRow) => void }) {
  const f = useSignal({
    name: run.name || '',
    color: /^#[0-9a-fA-F]{6}$/.test(run.color) ? run.color : '#4f9cff',
    tags: (run.tags || []).join(', '),
    notes: run.notes || '',
    group: run.group || '',
  });
  const busy = useSignal(false);
  const err = useSignal<{ field?: string; message: string } | null>(null);
  const set = (k: keyof typeof f.value) => (e: Event) => (f.value = { ...f.value, [k]: (e.target as HTMLInputElement).value });

  const save = async (e: Event) => {
    e.preventDefault();
    const v = f.value;
    const body: Record<string, unknown> = {};
    const tags = parseTags(v.tags);
    if (v.name.trim() !== (run.name || '')) body.name = v.name.trim() || null;
    if (v.color.toLowerCase() !== (run.color || '').toLowerCase()) body.color = v.color;
    if (tags.join('\n') !== (run.tags || []).join('\n')) body.tags = tags;
    if (v.notes !== (run.notes || '')) body.notes = v.notes || null;
    if (v.group.trim() !== (run.group || '')) body.group = v.group.trim() || null;
    if (Object.keys(body).length === 0) return onClose();
    busy.value = true;
    err.value = null;
    try {
      const r = (await api.patchRun(run.id, body)) as RunTableRow;
      onSaved?.(r);
      onClose();
    } catch (x) {
      const field = x instanceof ApiError ? x.details?.field : undefined;
      err.value = { field, message: x instanceof Error ? x.message : String(x) };
    } finally {
      busy.value = false;
    }
  };
  const FIELDS = ['name', 'color', 'tags', 'notes', 'group'];
  const mine = (field: string | undefined, k: string) => !!field && (field === k || field.startsWith(k + '['));
  const fieldErr = (k: string) =>
    mine(err.value?.field, k) && (
      <span class="field-error" role="alert">
        {err.value?.message}
      </span>
    );
  return (
    <Modal title={`Edit run ${run.name || run.id}`} onClose={onClose}>
      <form class="form run-edit" onSubmit={save}>
        <label>
          Name
          <input aria-label="run name" value={f.value.name} maxLength={200} onInput={set('name')} placeholder="the default name" />
          {fieldErr('name')}
        </label>
        <label>
          Colour
          <input aria-label="run colour" type="color" value={f.value.color} onInput={set('color')} />
          {fieldErr('color')}
        </label>
        <label>
          Tags
          <input aria-label="run tags" value={f.value.tags} onInput={set('tags')} placeholder="baseline, lr-sweep" />
          {fieldErr('tags')}
        </label>
        <label>
          Group
          <input aria-label="run group" value={f.value.group} maxLength={200} onInput={set('group')} placeholder="seeds of one config" />
          {fieldErr('group')}
        </label>
        <label>
          Notes
          <textarea aria-label="run notes" rows={4} value={f.value.notes} onInput={set('notes')} />
          {fieldErr('notes')}
        </label>
        <FormFooter
          err={err.value && !FIELDS.some((k) => mine(err.value!.field, k)) ? err.value.message : null}
          busy={busy.value}
          label="Save"
          busyLabel="Saving…"
          onCancel={onClose}
        />
      </form>
    </Modal>
  );
}
