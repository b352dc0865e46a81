// Vite builds the dashboard into ../build/web/dist (hashed names under
// assets/), which the C build embeds. JSX goes through esbuild's automatic
// runtime pointed at Preact, so no React plugin is needed.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: '../build/web/dist',
    emptyOutDir: true,
    target: 'es2020',
    assetsDir: 'assets',
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: {
    proxy: {
      '/api': 'http://127.0.0.1:8765',
      '/ws': { target: 'ws://127.0.0.1:8765', ws: true },
    },
  },
  test: {
    environment: 'node',
    include: ['test/**/*.test.ts'],
    // One thread pool, the files sharing it: a worker and a module graph
    // per file made the run 46 s of which 2 s were the tests (35 files,
    // 34 CPU-seconds; this way 8 s and 5). No test keeps global state
    // (socket.test.ts's fake timers are put back after each), and the
    // files pass in any order (--sequence.shuffle).
    pool: 'threads',
    isolate: false,
  },
});
