// A few bus topics for one part of a page (e.g. `definitions`), on the
// dashboard's one socket (store.socket): onEvent(type, payload) for every
// event of the connection, onResync when events may have been missed (the
// part reloads). Returns the function that lets the topics go.
import { socket } from './store';

export function liveTopic(topics: string[], onEvent: (type: string, payload: any) => void, onResync?: () => void): () => void {
  return socket.subscribe(topics, { onEvent: (ev) => onEvent(ev.type, ev.payload), onResync });
}

// Calls reload when the definitions agentd reads change (definitions_changed).
export function onDefinitionsChanged(reload: () => void): () => void {
  return liveTopic(
    ['definitions'],
    (type) => {
      if (type === 'definitions_changed') reload();
    },
    reload,
  );
}
