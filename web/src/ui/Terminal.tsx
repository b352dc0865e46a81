// A terminal attached to /ws/agents/:id/terminal: raw bytes both ways as
// binary frames, window size as {"type":"resize","cols","rows"} text
// messages. This module and xterm.js are loaded only when a terminal opens.
// An agent that is not running yet (or whose run ended) closes the socket
// with 4404 or 1000; `live` (the agent's status says it runs) turning true
// attaches again, so the tab follows a start without being switched.
import '@xterm/xterm/css/xterm.css';
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import { backoffDelay } from '../backoff';

export default function TerminalView({ agentId, live = true }: { agentId: string; live?: boolean }) {
  const host = useRef<HTMLDivElement>(null);
  // Attaches again (fresh screen) when the socket is closed; set by the effect.
  const reattach = useRef<(() => void) | null>(null);
  const liveRef = useRef(live);
  liveRef.current = live;
  const status = useSignal<'connecting' | 'attached' | 'closed'>('connecting');
  const note = useSignal('');

  useEffect(() => {
    const light = document.documentElement.dataset.theme === 'light';
    const term = new Terminal({
      cursorBlink: true,
      fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace',
      fontSize: 13,
      convertEol: false,
      scrollback: 5000,
      theme: light ? { background: '#f8f9fc', foreground: '#1d2333', cursor: '#4656d8' } : { background: '#0b0e17', foreground: '#d8deef', cursor: '#8c9bff' },
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(host.current!);
    (window as any).__agentdTerm = term;
    let ws: WebSocket | null = null;
    let disposed = false;
    let attempt = 0;
    let retry: any = null;
    const enc = new TextEncoder();

    const sendResize = () => {
      if (ws && ws.readyState === 1)
        ws.send(JSON.stringify({ type: 'resize', cols: term.cols, rows: term.rows, payload: { cols: term.cols, rows: term.rows } }));
    };
    const connect = () => {
      const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
      const sock = new WebSocket(`${proto}//${location.host}/ws/agents/${encodeURIComponent(agentId)}/terminal`);
      sock.binaryType = 'arraybuffer';
      ws = sock;
      status.value = 'connecting';
      sock.onopen = () => {
        attempt = 0;
        status.value = 'attached';
        note.value = '';
        sendResize();
      };
      sock.onmessage = (e) => {
        if (e.data instanceof ArrayBuffer) term.write(new Uint8Array(e.data));
        else if (typeof e.data === 'string') {
          try {
            const m = JSON.parse(e.data);
            if (m && m.type === 'error') note.value = String(m.payload?.message || m.message || 'error');
            else if (m && m.type === 'exit') note.value = 'The process exited.';
          } catch {
            term.write(e.data);
          }
        }
      };
      sock.onclose = (e) => {
        if (ws !== sock || disposed) return;
        ws = null;
        status.value = 'closed';
        // Said running but not attachable yet (the run is being set up): try again shortly.
        if (e.code === 4404 && liveRef.current && attempt < 8) {
          retry = setTimeout(connect, backoffDelay(attempt++, { cap: 2000 }));
          return;
        }
        if (e.code === 1000 || e.code === 4404 || e.code === 1008) {
          note.value = e.reason || 'The terminal closed.';
          return;
        }
        const d = backoffDelay(attempt++, { cap: 10000 });
        note.value = `Disconnected; retrying in ${Math.ceil(d / 1000)} s`;
        retry = setTimeout(connect, d);
      };
    };
    const data = term.onData((d) => {
      if (ws && ws.readyState === 1) ws.send(enc.encode(d));
    });
    const binary = term.onBinary((d) => {
      if (!ws || ws.readyState !== 1) return;
      const b = new Uint8Array(d.length);
      for (let i = 0; i < d.length; i++) b[i] = d.charCodeAt(i) & 0xff;
      ws.send(b);
    });
    const resized = term.onResize(sendResize);
    reattach.current = () => {
      if (disposed || ws) return;
      clearTimeout(retry);
      attempt = 0;
      term.reset(); // the server sends the recent output first
      connect();
    };
    const doFit = () => {
      try {
        fit.fit();
      } catch {
        /* not laid out yet */
      }
    };
    doFit();
    const ro = new ResizeObserver(doFit);
    ro.observe(host.current!);
    connect();
    term.focus();
    return () => {
      disposed = true;
      clearTimeout(retry);
      ro.disconnect();
      data.dispose();
      binary.dispose();
      resized.dispose();
      ws?.close(1000);
      term.dispose();
      reattach.current = null;
    };
  }, [agentId]);

  useEffect(() => {
    if (live) reattach.current?.();
  }, [live, agentId]);

  return (
    <div class="term-wrap panel glass">
      <div class="term-bar">
        <span class={`term-status term-${status.value}`}>
          {status.value === 'attached' ? 'Attached' : status.value === 'connecting' ? 'Connecting…' : 'Detached'}
        </span>
        {note.value && <span class="muted small">{note.value}</span>}
      </div>
      <div class="term" ref={host} aria-label="Agent terminal" />
    </div>
  );
}
