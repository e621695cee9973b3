/**
 * Markdown to safe HTML: marked (GFM) for the structure, highlight.js for code, KaTeX for math, and
 * DOMPurify over everything the model wrote. DOM-free apart from the `window` passed in, so vitest can
 * run it under jsdom.
 *
 * Safety rules (W8): no script, no event handler, no `javascript:` (or any non-http/mailto) link, no
 * style or class from the model, no forms or embedded content. Links open in a new tab with
 * `rel="noopener noreferrer"`. Remote images keep their address in `data-ais-src` and get a
 * "Load image" button: nothing is fetched until the user clicks it.
 *
 * Code blocks and math are rendered by us (not by the model's HTML) and put in place after the
 * model's HTML is sanitised, through text markers carrying a per-render random nonce. KaTeX's output is
 * sanitised too, with exactly the SVG it draws allowed (radicals, wide accents, stretchy arrows, cancel
 * lines): `svg`, `path` and `line` with their geometry attributes, nothing else (no `use`, `image`,
 * `foreignObject`, script, event handler or external reference).
 */

import DOMPurify from "dompurify";
import type { Config, DOMPurify as Purifier } from "dompurify";
import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import cpp from "highlight.js/lib/languages/cpp";
import css from "highlight.js/lib/languages/css";
import go from "highlight.js/lib/languages/go";
import java from "highlight.js/lib/languages/java";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import markdownLang from "highlight.js/lib/languages/markdown";
import plaintext from "highlight.js/lib/languages/plaintext";
import python from "highlight.js/lib/languages/python";
import r from "highlight.js/lib/languages/r";
import rust from "highlight.js/lib/languages/rust";
import shell from "highlight.js/lib/languages/shell";
import sql from "highlight.js/lib/languages/sql";
import typescript from "highlight.js/lib/languages/typescript";
import xml from "highlight.js/lib/languages/xml";
import yaml from "highlight.js/lib/languages/yaml";
import katex from "katex";
import { Marked } from "marked";
import type { Tokens, TokenizerAndRendererExtension } from "marked";

const LANGUAGES = {
  bash, cpp, css, go, java, javascript, json, markdown: markdownLang, plaintext, python, r, rust, shell, sql,
  typescript, xml, yaml,
};
for (const [name, lang] of Object.entries(LANGUAGES)) hljs.registerLanguage(name, lang);

const MARK_OPEN = "\uE000";
const MARK_CLOSE = "\uE001";

/** What the model's HTML may not contain beyond DOMPurify's own rules. */
const MODEL_CONFIG: Config = {
  USE_PROFILES: { html: true },
  FORBID_TAGS: [
    "style", "form", "input", "button", "textarea", "select", "option", "iframe", "frame", "frameset",
    "object", "embed", "link", "meta", "base", "video", "audio", "source", "track", "picture", "canvas",
    "dialog", "template", "slot", "portal", "noscript",
  ],
  FORBID_ATTR: ["style", "class", "id", "name", "srcset", "sizes", "poster", "background", "action",
    "formaction", "ping", "target", "rel", "usemap", "longdesc"],
  ALLOW_DATA_ATTR: false,
};
const CODE_CONFIG: Config = { ALLOWED_TAGS: ["span"], ALLOWED_ATTR: ["class"] };
/** The SVG elements KaTeX emits and the attributes each may carry (katex/src/domTree.js). */
const KATEX_SVG: Record<string, readonly string[]> = {
  svg: ["width", "height", "viewbox", "preserveaspectratio", "style"],
  path: ["d"],
  line: ["x1", "y1", "x2", "y2", "stroke-width"],
};
const SVG_NS = "http://www.w3.org/2000/svg";
const MATH_CONFIG: Config = {
  USE_PROFILES: { html: true, mathMl: true },
  ADD_TAGS: ["semantics", "annotation", ...Object.keys(KATEX_SVG)],
  ADD_ATTR: ["style", "aria-hidden", "encoding", ...new Set(Object.values(KATEX_SVG).flat())],
  FORBID_TAGS: ["a", "img", "style", "form", "input", "button", "use", "image", "foreignobject", "script"],
};
/** A style that could fetch something or run an expression. */
const UNSAFE_STYLE = /url\s*\(|expression\s*\(|@import|\\|javascript:/i;

const SAFE_LINK = /^(https?:|mailto:)/i;
const SAFE_DATA_IMAGE = /^data:image\/(png|gif|jpeg|webp);base64,[a-z0-9+/=\s]+$/i;

type Slot = (doc: Document) => Node;

export interface MarkdownRenderer {
  /** Safe HTML for `src`. */
  render(src: string): string;
}

/** A renderer using the DOM of `win` (the page's window, or jsdom's in tests). */
export function createMarkdown(win: Window & typeof globalThis): MarkdownRenderer {
  const doc = win.document;
  // each instance keeps its config: passing one per call would parse it again on every render
  const purifyModel = DOMPurify(win);
  purifyModel.setConfig({ ...MODEL_CONFIG, RETURN_DOM_FRAGMENT: true });
  const purifyCode = DOMPurify(win);
  purifyCode.setConfig(CODE_CONFIG);
  const sanitizeMath = createMathSanitizer(win);
  purifyModel.addHook("afterSanitizeAttributes", (node) => secureElement(node as Element));

  // The slots of the render in progress (render is synchronous).
  let slots: Slot[] = [];
  let nonce = "";
  const slot = (make: Slot): string => {
    slots.push(make);
    return `${MARK_OPEN}${nonce}:${slots.length - 1}${MARK_CLOSE}`;
  };

  const mathExtensions: TokenizerAndRendererExtension[] = [
    {
      name: "blockMath",
      level: "block",
      start: (src: string) => {
        const i = src.search(/^ {0,3}(\$\$|\\\[)/m);
        return i < 0 ? undefined : i;
      },
      tokenizer: (src: string) => {
        const m = /^ {0,3}\$\$([\s\S]+?)\$\$[ \t]*(?:\n|$)/.exec(src) ?? /^ {0,3}\\\[([\s\S]+?)\\\][ \t]*(?:\n|$)/.exec(src);
        return m ? { type: "blockMath", raw: m[0], text: m[1].trim() } : undefined;
      },
      renderer: (token) => `<div>${slot((d) => mathNode(d, sanitizeMath, token.text as string, true))}</div>\n`,
    },
    {
      name: "inlineMath",
      level: "inline",
      start: (src: string) => {
        const i = src.search(/\$|\\\(/);
        return i < 0 ? undefined : i;
      },
      tokenizer: (src: string) => {
        const m =
          /^\$\$(?!\s)((?:\\.|[^\\$])+?)\$\$/.exec(src) ??
          /^\$(?![\s$])((?:\\.|[^\\$\n])+?)(?<!\s)\$(?!\d)/.exec(src) ??
          /^\\\(((?:\\.|[^\n])+?)\\\)/.exec(src);
        if (!m) return undefined;
        return { type: "inlineMath", raw: m[0], text: m[1].trim(), display: m[0].startsWith("$$") };
      },
      renderer: (token) => slot((d) => mathNode(d, sanitizeMath, token.text as string, Boolean(token.display))),
    },
  ];

  const marked = new Marked({ gfm: true, breaks: false, async: false });
  marked.use({
    extensions: mathExtensions,
    renderer: {
      code: (token: Tokens.Code) => `${slot((d) => codeNode(d, purifyCode, token.text, token.lang ?? ""))}\n`,
      checkbox: (token: Tokens.Checkbox) => (token.checked ? "☑ " : "☐ "),
    },
  });

  return {
    render(src: string): string {
      slots = [];
      nonce = Math.random().toString(36).slice(2, 10);
      const clean = src.replaceAll(MARK_OPEN, "").replaceAll(MARK_CLOSE, "");
      const html = marked.parse(clean, { async: false }) as string;
      const fragment = purifyModel.sanitize(html) as unknown as DocumentFragment;
      fillSlots(doc, fragment, nonce, slots);
      addImageButtons(doc, fragment);
      const holder = doc.createElement("div");
      holder.appendChild(fragment);
      slots = [];
      return holder.innerHTML;
    },
  };
}

/**
 * The sanitiser of KaTeX's HTML: HTML and MathML as DOMPurify allows them, plus exactly KaTeX's SVG
 * (`KATEX_SVG`); any other attribute of an SVG element, and any style that could load or run something,
 * is removed.
 */
export function createMathSanitizer(win: Window & typeof globalThis): (html: string) => string {
  const purify = DOMPurify(win);
  purify.setConfig(MATH_CONFIG);
  purify.addHook("uponSanitizeAttribute", (node, data) => {
    const el = node as Element;
    const allowed = el.namespaceURI === SVG_NS ? KATEX_SVG[el.localName] : undefined;
    if (el.namespaceURI === SVG_NS && !allowed?.includes(data.attrName.toLowerCase())) data.keepAttr = false;
    if (data.attrName === "style" && UNSAFE_STYLE.test(data.attrValue)) data.keepAttr = false;
  });
  return (html) => purify.sanitize(html) as unknown as string;
}

/** Links: http(s)/mailto only, new tab, no opener or referrer. Images: not fetched until clicked. */
function secureElement(el: Element): void {
  const tag = el.tagName;
  if (tag === "A" || tag === "AREA") {
    const href = el.getAttribute("href");
    if (href === null || !SAFE_LINK.test(href.trim())) {
      el.removeAttribute("href");
    } else {
      el.setAttribute("target", "_blank");
      el.setAttribute("rel", "noopener noreferrer");
    }
  } else if (tag === "IMG") {
    const src = (el.getAttribute("src") ?? "").trim();
    if (!SAFE_DATA_IMAGE.test(src)) {
      el.removeAttribute("src");
      if (/^https?:\/\//i.test(src)) el.setAttribute("data-ais-src", src);
    }
  }
}

function addImageButtons(doc: Document, root: DocumentFragment): void {
  for (const img of Array.from(root.querySelectorAll("img[data-ais-src]"))) {
    const src = img.getAttribute("data-ais-src") ?? "";
    let host = src;
    try {
      host = new URL(src).host;
    } catch {
      // keep the raw address
    }
    const wrapper = doc.createElement("span");
    wrapper.className = "ais-image-blocked";
    const button = doc.createElement("button");
    button.type = "button";
    button.className = "ais-button ais-load-image";
    button.dataset.aisAction = "load-image";
    const alt = img.getAttribute("alt");
    button.textContent = `Load image${alt ? ` “${alt}”` : ""} from ${host}`;
    button.title = src;
    img.replaceWith(wrapper);
    wrapper.append(button, img);
  }
}

function fillSlots(doc: Document, root: DocumentFragment, nonce: string, slots: Slot[]): void {
  const marker = new RegExp(`${MARK_OPEN}${nonce}:(\\d+)${MARK_CLOSE}`, "g");
  const walker = doc.createTreeWalker(root, 4 /* NodeFilter.SHOW_TEXT */);
  const texts: Text[] = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if ((n.nodeValue ?? "").includes(MARK_OPEN)) texts.push(n as Text);
  }
  for (const text of texts) {
    const value = text.nodeValue ?? "";
    const parts: Node[] = [];
    let last = 0;
    for (const m of value.matchAll(marker)) {
      const index = m.index ?? 0;
      if (index > last) parts.push(doc.createTextNode(value.slice(last, index)));
      const make = slots[Number(m[1])];
      if (make) parts.push(make(doc));
      last = index + m[0].length;
    }
    if (last < value.length) parts.push(doc.createTextNode(value.slice(last)));
    text.replaceWith(...parts);
  }
}

function codeNode(doc: Document, purify: Purifier, code: string, info: string): Node {
  const lang = (info.trim().split(/\s+/)[0] ?? "").toLowerCase().replace(/[^a-z0-9_+#-]/g, "");
  const wrapper = doc.createElement("div");
  wrapper.className = "ais-code";
  const bar = doc.createElement("div");
  bar.className = "ais-code-bar";
  const label = doc.createElement("span");
  label.className = "ais-code-lang";
  label.textContent = lang || "text";
  const copy = doc.createElement("button");
  copy.type = "button";
  copy.className = "ais-copy-code";
  copy.dataset.aisAction = "copy-code";
  copy.setAttribute("aria-label", `Copy ${lang || "code"}`);
  copy.textContent = "Copy";
  const wrap = doc.createElement("button");
  wrap.type = "button";
  wrap.className = "ais-wrap-code";
  wrap.dataset.aisAction = "wrap-code";
  wrap.setAttribute("aria-pressed", "false");
  wrap.setAttribute("aria-label", `Wrap ${lang || "code"} lines`);
  wrap.textContent = "Wrap";
  // shown only where the chat can reach its notebook (see notebook_cells.ts and chat.css)
  const insert = doc.createElement("button");
  insert.type = "button";
  insert.className = "ais-insert-code";
  insert.dataset.aisAction = "insert-code";
  insert.dataset.aisLang = lang;
  insert.setAttribute("aria-label", `Insert ${lang || "code"} below`);
  insert.textContent = "Insert below";
  const tools = doc.createElement("span");
  tools.className = "ais-code-tools";
  tools.append(wrap, copy, insert);
  bar.append(label, tools);
  const pre = doc.createElement("pre");
  const el = doc.createElement("code");
  if (lang && hljs.getLanguage(lang)) {
    el.className = `hljs language-${lang}`;
    el.innerHTML = purify.sanitize(hljs.highlight(code, { language: lang, ignoreIllegals: true }).value);
  } else {
    el.className = "hljs";
    el.textContent = code;
  }
  pre.appendChild(el);
  wrapper.append(bar, pre);
  return wrapper;
}

function mathNode(doc: Document, sanitize: (html: string) => string, tex: string, display: boolean): Node {
  const el = doc.createElement(display ? "div" : "span");
  el.className = display ? "ais-math ais-math-display" : "ais-math";
  const html = katex.renderToString(tex, {
    displayMode: display,
    throwOnError: false,
    trust: false,
    strict: "ignore",
    output: "htmlAndMathml",
    maxExpand: 500,
    maxSize: 50,
  });
  el.innerHTML = sanitize(html);
  return el;
}
