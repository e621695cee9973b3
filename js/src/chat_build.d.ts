/** The chat's build id, put in by build.mjs when it bundles chat_loader.ts. */
declare module "ai-sessions:build" {
  /** A hash of the chat's code and styles (chat-impl.js ends with the same `buildId`). */
  export const id: string;
}
