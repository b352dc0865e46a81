// SPDX-License-Identifier: MIT
// How the benchmarks drive agentd features that have no peer equivalent:
// publishing events for fan-out (W2) and running an agent whose stdout
// lines reach WebSocket subscribers (W4). Each probe starts the binary
// once and throws a one-line reason when this build lacks the feature.
'use strict';

async function probePublish(agentd) {
  throw new Error('event bus /ws not merged yet');
}

async function probeRun(agentd) {
  throw new Error('agent runs (proc/agent branches) not merged yet');
}

module.exports = { probePublish, probeRun };
