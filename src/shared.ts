/**
 * Entry of dist/shared.js: what the entry and the bundles it loads later all use, in one module of
 * its own that each of them imports statically (esbuild.config.mjs maps `./errors.js` and
 * `./timeout.js` to it). A module is evaluated once per page however many bundles import it, so the
 * error classes a shop imports are the ones the delivery module throws (`instanceof` holds), their
 * bytes are paid once, and no bundle depends on another having run first: a bundler that inlines
 * everything into one file (Rollup's or Vite's `inlineDynamicImports`) orders them by these imports.
 */
export * from './errors.js'
export { withTimeout } from './timeout.js'
