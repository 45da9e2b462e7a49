import { configDefaults, defineConfig } from 'vitest/config';

export const config = defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/extension/ runs inside a real VS Code (npm run test:vscode), not in vitest.
    exclude: [...configDefaults.exclude, 'test/extension/**'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
// vitest reads the default export of its config file; this is the one default export the project allows.
export default config;
