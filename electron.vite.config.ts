// electron-vite: builds the main process, the sandboxed preload and the React renderer into out/.
import { defineConfig } from 'electron-vite';
import react from '@vitejs/plugin-react';
import { resolve } from 'node:path';
import { contentSecurityPolicy, devContentSecurityPolicy } from './main/content-security-policy.js';

export default defineConfig(({ command }) => ({
  main: {
    build: {
      outDir: 'out/main',
      // The backend worker and the workers it starts (calibration, import) are their own entries (worker threads).
      lib: {
        entry: {
          main: resolve('main/electron/main.ts'),
          'backend-worker': resolve('main/backend/worker.ts'),
          'calibration-worker': resolve('main/backend/calibration-worker.ts'),
          'import-worker': resolve('main/library/import-worker.ts'),
        },
        formats: ['es'],
      },
      // Native addon: loaded from node_modules (unpacked from asar by electron-builder).
      externalizeDeps: true,
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      lib: { entry: resolve('main/preload/index.ts'), formats: ['cjs'] },
      // Sandboxed preloads cannot require node_modules: bundle everything into one CommonJS file.
      externalizeDeps: false,
      rollupOptions: { output: { entryFileNames: '[name].cjs' } },
    },
  },
  renderer: {
    root: 'renderer',
    base: './',
    plugins: [
      react(),
      {
        // One CSP, defined in main/content-security-policy.ts, injected into the page at build time.
        name: 'reskv-csp',
        transformIndexHtml: (html: string) =>
          html.replace('%RESKV_CSP%', command === 'serve' ? devContentSecurityPolicy : contentSecurityPolicy),
      },
    ],
    build: {
      outDir: resolve('out/renderer'),
      emptyOutDir: true,
      minify: true,
      // One bundle loaded from disk (or loopback): no network round trips to save by splitting.
      chunkSizeWarningLimit: 2048,
      rollupOptions: { input: resolve('renderer/index.html') },
    },
  },
}));
