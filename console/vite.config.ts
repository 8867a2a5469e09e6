// The web console: a React app built into static files (scripts/build.mjs puts them in dist/console),
// which the service itself serves at /console. No dev server is needed to use it.
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/console/',
  oxc: { jsx: { runtime: 'automatic' } },
  build: { outDir: '../dist/console', emptyOutDir: true, chunkSizeWarningLimit: 1024 },
});
