/** The chat's bundle, built first and handed to chat_loader.ts as text by build.mjs. */
declare module "ai-sessions:chat-impl" {
  /** The bundled ES module of chat.ts. */
  export const source: string;
  /** A hash of `source`. */
  export const id: string;
}
