// Lint: typescript-eslint's recommended rules, plus the two boundaries we keep by rule rather than by
// review: configuration is read only in src/config, and domain imports point one way
// (billing -> metering -> tiers -> src).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const domainRule = (forbidden) => ({
  'no-restricted-imports': [
    'error',
    {
      patterns: forbidden.map((folder) => ({
        group: [`**/${folder}/**`, `../${folder}/*`, `../../${folder}/*`],
        message: `Module dependencies point one way: billing -> metering -> tiers -> src. This folder may not import ${folder}/.`,
      })),
    },
  ],
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.tokenmeter/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', NodeJS: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Read configuration through AppConfig (src/config/config.ts).' },
      ],
    },
  },
  {
    // The CLI is not the service: its entry point hands the environment (TOKENMETER_URL, ...) to the commands.
    files: ['src/config/config.ts', 'src/main.ts', 'src/worker.ts', 'src/database/migrate.ts', 'cli/main.ts', 'test/**', '**/*.spec.ts', 'jest.config.js'],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    files: ['test/**', '**/*.spec.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  { files: ['src/**/*.ts'], ignores: ['src/app.module.ts'], rules: domainRule(['tiers', 'metering', 'billing']) },
  { files: ['tiers/**/*.ts'], rules: domainRule(['metering', 'billing']) },
  { files: ['metering/**/*.ts'], rules: domainRule(['billing']) },
);
