// ESLint for the dashboard: the recommended JS and TypeScript rules and the
// rules of hooks (Preact's hooks follow React's: eslint-plugin-react-hooks
// checks them by name). Formatting is Prettier's (npm run format:check).
import js from '@eslint/js';
import reactHooks from 'eslint-plugin-react-hooks';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules', 'dist', 'public', 'placeholder'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { files: ['scripts/**/*.mjs', '*.js', '*.ts'], languageOptions: { globals: { process: 'readonly', console: 'readonly' } } },
  {
    files: ['src/**/*.{ts,tsx}', 'test/**/*.ts', 'scripts/**/*.mjs', '*.ts', '*.js'],
    plugins: { 'react-hooks': reactHooks },
    rules: {
      'react-hooks/rules-of-hooks': 'error',
      // Off: state here is @preact/signals (useSignal), stable objects the
      // rule would ask to list; an effect's deps are the props it re-runs on.
      'react-hooks/exhaustive-deps': 'off',
      // The code talks to JSON from the server and the DOM: `any` is used
      // where a type would only restate the wire format.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
);
