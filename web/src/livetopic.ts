// A small WebSocket of its own for a page that wants a few bus topics
// (e.g. `definitions`), apart from the dashboard's one socket: subscribes on
// open, calls onEvent(type, payload) for every event, reconnects after a
// second when the connection drops. Returns the function that closes it.
export function liveTopic(topics: string[], onEvent: (type: string, payload: any) => void): () => void {
  let ws: WebSocket | null = null;
  let closed = false;
  let timer: any = null;
  const open = () => {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(`${proto}//${location.host}/ws`);
    ws.onopen = () => ws?.send(JSON.stringify({ type: 'subscribe', payload: { topics } }));
    ws.onmessage = (e) => {
      let m: any;
      try {
        m = JSON.parse(String(e.data));
      } catch {
        return;
      }
      if (typeof m.seq === 'number' && typeof m.type === 'string') onEvent(m.type, m.payload);
    };
    ws.onclose = () => {
      if (!closed) timer = setTimeout(open, 1000);
    };
  };
  open();
  return () => {
    closed = true;
    clearTimeout(timer);
    ws?.close();
  };
}

// Calls reload when the definitions agentd reads change (definitions_changed).
export function onDefinitionsChanged(reload: () => void): () => void {
  return liveTopic(['definitions'], (type) => {
    if (type === 'definitions_changed') reload();
  });
}
