// Types of scripts/built-cli.mjs for the TypeScript that imports it (the benchmarks).

/** Why dist must be (re)built, or undefined when it is current. */
export function staleReason(): string | undefined;

/** Builds dist with `npm run build` when it is missing or stale; a current build is left alone. */
export function ensureBuilt(): void;
