// SPDX-License-Identifier: MIT
// Debian's Chromium as the browser benches launch it (bench/browser.mjs,
// bench/heap.mjs): headless with no sandbox or GPU, nothing fetched in the
// background, /dev/shm not used (small in containers).
'use strict';

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'];

module.exports = { CHROMIUM, CHROMIUM_ARGS };
