// SPDX-License-Identifier: MIT
// The `ws` package's client, with permessage-deflate off unless a test
// asks for it (perMessageDeflate: true, or the package's object form).
// The package offers the extension by default, and agentd answers every
// offer with no context takeover: the client then inflates each message
// on its own, through zlib's thread pool. In bus-replay that was 24 of the
// file's 26 CPU-seconds, all in the test's process, none in agentd. The
// compressed path keeps its own tests (seed-003-deflate, bus-replay's
// reconnect, and every browser test: Chromium offers it).
'use strict';

const Base = require('ws');

function withDefaults(options) {
  return { perMessageDeflate: false, ...(options || {}) };
}

class WebSocket extends Base {
  // ws's signature: (address, [protocols], [options]), where an object in
  // the protocols' place is the options
  constructor(address, protocols, options) {
    if (protocols !== null && typeof protocols === 'object' && !Array.isArray(protocols) && options === undefined) {
      super(address, withDefaults(protocols));
    } else {
      super(address, protocols, withDefaults(options));
    }
  }
}

module.exports = WebSocket;
