/** Where the chat's code comes from (see chat_loader.ts): pure, so it is tested without a page. */

/** Where ai_sessions' Jupyter server extension serves ai_sessions/static, below the server's base URL. */
export const STATIC_PATH = "ai-sessions/static/";

export interface LoaderFacts {
  /** The module the Jupyter server served (null: no server, or it does not serve ai_sessions). */
  server: { buildId: string | null } | null;
  /** The build id this loader was made with. */
  expected: string;
  /** Whether the view reaches its kernel side. */
  live: boolean;
}

/**
 * `server` when the server has this very build, or has some build and no kernel can send ours;
 * `kernel` when a live kernel can send the build that matches it; `plain` when neither can.
 */
export function chooseSource(facts: LoaderFacts): "server" | "kernel" | "plain" {
  if (facts.server && (facts.server.buildId === facts.expected || !facts.live)) return "server";
  if (facts.live) return "kernel";
  return "plain";
}
