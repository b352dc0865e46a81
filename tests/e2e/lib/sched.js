// SPDX-License-Identifier: MIT
// A thread as the kernel's scheduler counts it (/proc/PID/task/TID/schedstat):
// {cpu, wait} in ms, cpu the time it ran and wait the time it was ready to
// run but waited for a CPU; null once it is gone. Tests that bound a delay
// take the machine's share (the wait) off it. tid defaults to pid: a
// process's main thread, agentd's loop.
'use strict';

const fs = require('node:fs');

function threadSched(pid, tid = pid) {
  try {
    const [cpu, wait] = fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
    return { cpu: cpu / 1e6, wait: wait / 1e6 };
  } catch (_) {
    return null;
  }
}

module.exports = { threadSched };
