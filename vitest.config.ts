import { defineConfig } from "vitest/config";

/** Resolve `@tradeguard/gate` (packages/gate) to its TypeScript source, as tsconfig.json's customConditions does: the
 *  tests never depend on a stale packages/gate/dist. Vite's default server conditions without "module": with it the
 *  AWS SDK resolves to its dist-es build, which Node cannot load (missing file extensions). */
const conditions = ["@tradeguard/source", "node", "development|production"];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: "forks",
    reporters: ["default"],
  },
});
