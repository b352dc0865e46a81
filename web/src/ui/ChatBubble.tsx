// One message of a chat (Chats.tsx): markdown, its code blocks runnable, its
// tool calls, the tokens and cost of an answer, and the code blocks that
// name a file saved into a project.
import { useSignal } from '@preact/signals';
import { api } from '../api';
import { RunCode } from './RunCode';
import { renderMarkdown } from '../markdown';
import { type ChatMessage, namesFiles, toolCallText } from '../workbench';
import { costOrNoPrice, modelPrices } from '../prices';
import { errText, fmtCost, fmtInt } from './common';

function Usage({ m, model }: { m: ChatMessage; model: string }) {
  if (m.role !== 'assistant' || m.status === 'streaming') return null;
  return (
    <div class="chat-usage muted small" data-testid="answer-usage">
      {fmtInt(m.inputTokens || 0)} in · {fmtInt(m.outputTokens || 0)} out · {costOrNoPrice(m.costUsd, model, modelPrices.value, fmtCost)}
      {m.status !== 'complete' && <span class={`badge badge-sm status-${m.status}`}> {m.status}</span>}
    </div>
  );
}

// Saves the answer's named code blocks into a project (new or chosen).
function SaveFiles({ chatId, m }: { chatId: string; m: ChatMessage }) {
  const projects = useSignal<{ id: string; name: string }[] | null>(null);
  const target = useSignal('');
  const msg = useSignal<string | null>(null);
  const open = async () => {
    try {
      projects.value = (await api.projects()).projects;
      target.value = projects.value[0]?.id || 'new';
    } catch (e) {
      msg.value = errText(e);
    }
  };
  const save = async () => {
    try {
      let id = target.value;
      if (id === 'new') id = (await api.createProject({ name: 'From chat', chatId })).id;
      const r = await api.saveMessageFiles(id, chatId, m.id);
      msg.value = `Saved: the project has ${r.files.length} file${r.files.length === 1 ? '' : 's'}.`;
    } catch (e) {
      msg.value = errText(e);
    }
  };
  if (m.role !== 'assistant' || m.status === 'streaming' || !namesFiles(m.content || '')) return null;
  return (
    <div class="small save-files">
      {projects.value === null ? (
        <button class="btn btn-sm" onClick={() => void open()}>
          Save files to a project…
        </button>
      ) : (
        <span>
          <select aria-label="Project" value={target.value} onChange={(e) => (target.value = e.currentTarget.value)}>
            {projects.value.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
            <option value="new">a new project</option>
          </select>{' '}
          <button class="btn btn-sm btn-primary" onClick={() => void save()}>
            Save files
          </button>
        </span>
      )}
      {msg.value && <span class="muted"> {msg.value}</span>}
    </div>
  );
}

export function Bubble({ m, chatId, model }: { m: ChatMessage; chatId: string; model: string }) {
  return (
    <div class={`chat-msg chat-${m.role}`} data-status={m.status} data-testid={`msg-${m.role}`}>
      <div class="chat-role small muted">{m.role === 'user' ? 'You' : 'Claude'}</div>
      {m.role === 'assistant' ? (
        <div class="md" dangerouslySetInnerHTML={{ __html: renderMarkdown(m.content || (m.status === 'streaming' ? '…' : '')) }} />
      ) : (
        <div class="chat-text">{m.content}</div>
      )}
      {m.error && <div class="error-text small">{m.error}</div>}
      {m.toolCalls && m.toolCalls.length > 0 && (
        <ul class="small muted tool-calls" aria-label="Tool calls">
          {m.toolCalls.map((c) => (
            <li key={c.id || c.name}>
              Tool call: <code>{toolCallText(c)}</code>
            </li>
          ))}
        </ul>
      )}
      <Usage m={m} model={model} />
      <SaveFiles chatId={chatId} m={m} />
      {m.role === 'assistant' && m.status === 'complete' && <RunCode content={m.content || ''} />}
    </div>
  );
}
