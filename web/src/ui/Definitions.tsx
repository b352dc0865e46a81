// The Definitions page (issue #18), loaded lazily: the agent definitions
// agentd reads from its data dir and from each workspace's .claude/agents,
// searched (ranked, with the words that matched) and filtered by category;
// a file with bad front matter is listed with its error; one opens with its
// system prompt and can start a chat. The list follows the folders live
// (definitions_changed).
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api, type Definition } from '../api';
import { WorkbenchNav } from './WorkbenchNav';
import { go } from '../router';
import { onDefinitionsChanged } from '../livetopic';
import { Empty, errText, ErrorState, Spinner } from './common';

function Detail({ name }: { name: string }) {
  const def = useSignal<Definition | null>(null);
  const err = useSignal<string | null>(null);
  useEffect(() => {
    def.value = null;
    api
      .definition(name)
      .then((d) => (def.value = d))
      .catch((e) => (err.value = errText(e)));
  }, [name]);
  const start = async () => {
    try {
      const c = await api.createChat({ definition: name });
      go(`/chats/${c.id}`);
    } catch (e) {
      err.value = errText(e);
    }
  };
  if (err.value) return <ErrorState message={err.value} />;
  if (!def.value) return <Spinner label="Loading the definition…" />;
  const d = def.value;
  return (
    <section class="panel glass def-detail" aria-label={`Definition ${d.name}`}>
      <div class="page-head">
        <h2 class="panel-title">{d.name}</h2>
        <button class="btn btn-primary btn-sm" disabled={!!d.error} onClick={() => void start()}>
          Start a chat
        </button>
      </div>
      {d.error && <p class="error-text">{d.error}</p>}
      <p>{d.description}</p>
      <p class="muted small">{[d.category, d.model && `model ${d.model}`, d.tier && `tier ${d.tier}`, d.source, d.file].filter(Boolean).join(' · ')}</p>
      {d.tools && d.tools.length > 0 && <p class="small">Tools: {d.tools.join(', ')}</p>}
      <pre class="out def-prompt">{d.systemPrompt || ''}</pre>
    </section>
  );
}

export default function DefinitionsPage({ name }: { name?: string }) {
  const q = useSignal('');
  const cat = useSignal('');
  const list = useSignal<Definition[] | null>(null);
  const cats = useSignal<string[]>([]);
  const err = useSignal<string | null>(null);
  const load = async () => {
    const params = new URLSearchParams();
    if (q.value.trim()) params.set('q', q.value.trim());
    if (cat.value) params.set('category', cat.value);
    try {
      const r = await api.definitions(String(params));
      list.value = r.definitions;
      if (!cat.value && !q.value.trim()) cats.value = r.categories;
      err.value = null;
    } catch (e) {
      err.value = errText(e);
    }
  };
  useEffect(() => {
    const t = setTimeout(() => void load(), 150);
    return () => clearTimeout(t);
  }, [q.value, cat.value]);
  // a file written, changed or removed in a definitions folder
  useEffect(() => onDefinitionsChanged(() => void load()), []);
  return (
    <div class="page">
      <div class="page-head">
        <h1 class="page-title">Definitions</h1>
        <WorkbenchNav at="definitions" />
      </div>
      <div class="row-form">
        <label class="field">
          <span>Search</span>
          <input type="search" value={q.value} onInput={(e) => (q.value = e.currentTarget.value)} placeholder="what should the agent do?" />
        </label>
        <label class="field">
          <span>Category</span>
          <select value={cat.value} onChange={(e) => (cat.value = e.currentTarget.value)}>
            <option value="">all</option>
            {cats.value.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </label>
      </div>
      {err.value && <ErrorState message={err.value} onRetry={() => void load()} />}
      <div class="chats-grid">
        <ul class="chat-list" aria-label="Definitions">
          {list.value && list.value.length === 0 && (
            <Empty title="No definitions">Put markdown files in the data dir's definitions folder or a workspace's .claude/agents.</Empty>
          )}
          {(list.value || []).map((d) => (
            <li key={d.name + (d.file || '')} class={d.name === name ? 'active' : ''} data-error={d.error ? 'true' : 'false'}>
              <a href={`#/definitions/${encodeURIComponent(d.name)}`}>{d.name}</a>
              {d.category && <span class="muted small"> · {d.category}</span>}
              {typeof d.score === 'number' && (
                <span class="muted small">
                  {' '}
                  · score {d.score} ({(d.matched || []).join(', ')})
                </span>
              )}
              {d.error ? <div class="error-text small">{d.error}</div> : <div class="muted small">{d.description}</div>}
            </li>
          ))}
        </ul>
        <div>{name ? <Detail name={name} /> : <Empty title="Pick a definition" />}</div>
      </div>
    </div>
  );
}
