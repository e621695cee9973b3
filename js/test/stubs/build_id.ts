/** Stands in for the build id build.mjs puts into chat_loader.ts (vitest aliases "ai-sessions:build" here). */
export const id = "test-build";
