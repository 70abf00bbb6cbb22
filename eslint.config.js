// ESLint flat config: typescript-eslint everywhere, plus the import flow DEVELOPERS.md fixes:
// quant/ imports nothing from main/ or renderer/ (and no Node or native modules: it is pure TS);
// renderer/ imports only types, only from main/api/; main/ never imports renderer/.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';

const restricted = (patterns) => ({ '@typescript-eslint/no-restricted-imports': ['error', { patterns }] });

export default tseslint.config(
  { ignores: ['node_modules/', 'out/', 'dist/', 'test-output/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['quant/**/*.ts'],
    rules: restricted([
      { group: ['**/main/**', '**/renderer/**'], message: 'quant/ is standalone: it imports nothing from main/ or renderer/.' },
      { group: ['node:*', 'electron', 'onnxruntime-node', 'fs', 'path'], message: 'quant/ is pure TypeScript: do I/O in main/.' },
    ]),
  },
  {
    files: ['renderer/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      ...restricted([
        { group: ['**/main/api', '**/main/api/**'], allowTypeImports: true, message: 'renderer/ may import only types from main/api/.' },
        { group: ['**/main/**', '!**/main/api', '!**/main/api/**'], message: 'renderer/ may import only main/api/ (the API contract).' },
        { group: ['**/quant/**', 'electron', 'onnxruntime-node', 'node:*'], message: 'renderer/ talks to the engine only through the bridge.' },
      ]),
    },
  },
  {
    files: ['main/**/*.ts'],
    rules: restricted([{ group: ['**/renderer/**'], message: 'main/ never imports renderer/.' }]),
  },
);
