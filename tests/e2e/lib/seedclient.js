// SPDX-License-Identifier: MIT
// The seed dashboard's WebSocketManager as its text has it (its stores
// replaced by what they were given; errors the server sent kept), for the
// tests that hold agentd to the seed's own client. WebSocket is the browser
// API the `ws` package also offers (onopen, onmessage with event.data,
// onclose); send() is the seed's {type, payload}.
'use strict';

const WebSocket = require('ws');

class SeedWebSocketManager {
  constructor() {
    this.ws = null;
    this.listeners = new Map();
    // what the seed hands to its stores
    this.agents = new Map();
    this.metrics = [];
    this.health = [];
    this.discovery = [];
    this.closeCode = null;
    this.errors = [];
    this.on('error', (p) => { if (!p.error) this.errors.push(p); });
  }

  connect(url = 'ws://localhost:8765') {
    this.ws = new WebSocket(url);
    this.ws.onopen = () => this.emit('connection', { status: 'connected' });
    this.ws.onmessage = (event) => {
      try {
        this.handleMessage(JSON.parse(event.data));
      } catch (error) {
        this.emit('error', { error });
      }
    };
    this.ws.onclose = (event) => {
      this.closeCode = event.code;
      this.emit('connection', { status: 'disconnected' });
    };
    this.ws.onerror = (error) => this.emit('error', { error });
    return new Promise((resolve) => this.on('connection', resolve));
  }

  handleMessage(data) {
    const { type, payload } = data;
    switch (type) {
      case 'agent_update': // useAgentStore.getState().updateAgent(payload.id, payload)
        this.agents.set(payload.id, { ...(this.agents.get(payload.id) || {}), ...payload });
        break;
      case 'discovery_progress': // useDiscoveryStore.getState().updateProgress(payload)
        this.discovery.push(payload);
        break;
      case 'metrics_update': // useMetricsStore.getState().updateMetrics(payload)
        this.metrics.push(payload);
        break;
      case 'system_health':
        this.health.push(payload);
        break;
      default:
        this.emit(type, payload);
    }
  }

  on(event, callback) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event).add(callback);
  }

  emit(event, data) {
    this.listeners.get(event)?.forEach((callback) => callback(data));
  }

  disconnect() { this.ws?.close(); }

  send(type, payload) {
    if (this.ws?.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify({ type, payload }));
    }
  }
}

module.exports = { SeedWebSocketManager };
