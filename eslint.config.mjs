// Layers: `vscode` only in src/extension/; no node built-ins in src/protocol/ or webview/.
import tseslint from 'typescript-eslint';

const nodeBuiltins = ['node:*', 'fs', 'path', 'crypto', 'child_process', 'net', 'tls', 'http', 'https', 'os'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'out/**', 'sample-services/**', '.vscode-test/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', { paths: [{ name: 'vscode', message: 'vscode may be imported only in src/extension/.' }] }],
    },
  },
  { files: ['src/extension/**/*.ts', 'test/extension/**/*.ts'], rules: { 'no-restricted-imports': 'off' } },
  {
    files: ['src/protocol/**/*.ts', 'webview/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: 'vscode', message: 'The page and the protocol never import vscode.' }],
        patterns: [{ group: nodeBuiltins, message: 'The page and the protocol run in a browser: no Node built-ins.' }],
      }],
    },
  },
);
