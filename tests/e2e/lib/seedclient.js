// SPDX-License-Identifier: MIT
// The training seed's WebSocketManager and System Health panel, from
// tests/fixtures/seed-clients/seed000.js (the one copy, also run in
// Chromium), for the node tests: WebSocket is the `ws` package, which
// offers the browser's API (onopen, onmessage with event.data, onclose).
'use strict';

globalThis.WebSocket ??= require('./ws');
const { WebSocketManager, renderSystemHealth } = require('../../fixtures/seed-clients/seed000');

module.exports = { SeedWebSocketManager: WebSocketManager, renderSystemHealth };
