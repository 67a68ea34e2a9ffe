/** Shared Jest transform: SWC with decorator metadata (NestJS DI needs it). */
const transform = {
  '^.+\\.(t|j|mj)sx?$': [
    '@swc/jest',
    {
      jsc: {
        parser: { syntax: 'typescript', decorators: true, tsx: true },
        transform: { legacyDecorator: true, decoratorMetadata: true, react: { runtime: 'automatic' } },
        target: 'es2022',
        keepClassNames: true,
      },
      module: { type: 'commonjs' },
      sourceMaps: 'inline',
    },
  ],
};
/**
 * NestJS 12 ships ESM only. Node 20.19+ loads it with require(esm) at run time, but Jest's module
 * system cannot (before Node 24.9), so Jest compiles those packages to CommonJS with SWC.
 */
const transformIgnorePatterns = ['/node_modules/\\.pnpm/(?!(@nestjs)[^/]*/)'];

module.exports = { transform, transformIgnorePatterns };
