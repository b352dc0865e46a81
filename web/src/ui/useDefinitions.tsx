// The agent definitions a form offers (GET /api/definitions without the
// broken ones), kept current by definitions_changed and reloaded when the
// socket may have missed one; and their <option>s.
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api, type Definition } from '../api';
import { onDefinitionsChanged } from '../livetopic';

export function useDefinitions() {
  const defs = useSignal<Definition[]>([]);
  const reload = () =>
    api
      .definitions()
      .then((r) => (defs.value = (r.definitions || []).filter((d) => !d.error)))
      .catch(() => (defs.value = []));
  useEffect(() => {
    void reload();
    return onDefinitionsChanged(() => void reload());
  }, []);
  return { defs, reload };
}

// "none" and one option per definition (with its category).
export function DefinitionOptions({ defs }: { defs: Definition[] }) {
  return (
    <>
      <option value="">none</option>
      {defs.map((d) => (
        <option key={d.name} value={d.name}>
          {d.name}
          {d.category ? ` (${d.category})` : ''}
        </option>
      ))}
    </>
  );
}
