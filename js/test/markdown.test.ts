// @vitest-environment jsdom
import { beforeAll, describe, expect, it } from "vitest";
import { createMarkdown, createMathSanitizer, type MarkdownRenderer } from "../src/markdown";

let md: MarkdownRenderer;
beforeAll(() => {
  md = createMarkdown(window);
});

function dom(html: string): HTMLElement {
  const el = document.createElement("div");
  el.innerHTML = html;
  return el;
}

describe("markdown structure", () => {
  it("renders GFM: emphasis, lists, tables", () => {
    const el = dom(md.render("**bold** and *it*\n\n- a\n- b\n\n| x | y |\n|---|---|\n| 1 | 2 |"));
    expect(el.querySelector("strong")?.textContent).toBe("bold");
    expect(el.querySelectorAll("li")).toHaveLength(2);
    expect(el.querySelector("table td")?.textContent).toBe("1");
  });

  it("highlights fenced code and adds a copy button", () => {
    const el = dom(md.render("```python\ndef f(x):\n    return x\n```"));
    const code = el.querySelector(".ais-code pre code");
    expect(code?.className).toContain("language-python");
    expect(code?.querySelector(".hljs-keyword")?.textContent).toBe("def");
    expect(code?.textContent).toBe("def f(x):\n    return x");
    expect(el.querySelector("button[data-ais-action=copy-code]")).not.toBeNull();
  });

  it("keeps code text literal, even HTML in it", () => {
    const el = dom(md.render("```\n<script>alert(1)</script>\n```"));
    expect(el.querySelector("script")).toBeNull();
    expect(el.querySelector("code")?.textContent).toBe("<script>alert(1)</script>");
  });

  it("renders inline and display math with KaTeX", () => {
    const el = dom(md.render("Euler: $e^{i\\pi}+1=0$\n\n$$\n\\int_0^1 x\\,dx\n$$\n\nand \\(a^2\\)"));
    expect(el.querySelectorAll(".ais-math .katex").length).toBe(3);
    expect(el.querySelector(".ais-math-display .katex-display")).not.toBeNull();
    expect(el.querySelector("annotation")?.textContent).toContain("e^{i\\pi}+1=0");
  });

  it("keeps the SVG KaTeX draws: radicals, wide accents, stretchy arrows, cancel lines", () => {
    // KaTeX also writes hidden MathML: the drawing is in .katex-html
    const el = dom(md.render("$\\sigma\\sqrt{2\\pi}$, $\\widehat{abc}$, $\\overrightarrow{AB}$, $a \\xrightarrow{f} b$, $\\cancel{x}$"));
    const maths = Array.from(el.querySelectorAll(".ais-math"));
    expect(maths).toHaveLength(5);
    for (const math of maths) expect(math.querySelector(".katex-html svg"), math.textContent ?? "").not.toBeNull();
    const radical = maths[0].querySelector(".katex-html svg");
    expect(radical?.getAttribute("viewBox")).toMatch(/^0 0 \d+ \d+$/);
    expect(radical?.querySelector("path")?.getAttribute("d")).toMatch(/^M/);
    expect(maths[4].querySelector(".katex-html svg line")?.getAttribute("x2")).toBe("100%");
  });

  it("allows no other SVG in math: no script, foreignObject, handler or external reference", () => {
    const clean = createMathSanitizer(window)(
      "<span class=\"katex\"><svg onload=\"alert(1)\" width=\"1em\" viewBox=\"0 0 1 1\" style=\"background:url(https://evil.example/t)\">" +
      "<foreignObject><div onclick=\"alert(1)\">x</div></foreignObject><script>alert(1)</script>" +
      "<use href=\"https://evil.example/s.svg#a\"/><image href=\"https://evil.example/i.png\"/>" +
      "<a href=\"javascript:alert(1)\"><path d=\"M0 0\" fill=\"url(https://evil.example/#g)\" onclick=\"alert(1)\"/></a>" +
      "<line x1=\"0\" y1=\"0\" x2=\"1\" y2=\"1\" stroke-width=\"1\" marker-end=\"url(#m)\"/><circle r=\"9\"/></svg></span>");
    const el = dom(clean);
    expect(el.querySelector("foreignObject, foreignobject, script, use, image, a, circle")).toBeNull();
    expect(clean).not.toMatch(/evil|alert|javascript|url\(/i);
    expect(el.querySelector("svg")?.getAttribute("viewBox")).toBe("0 0 1 1");
    expect(el.querySelector("path")?.getAttributeNames()).toEqual(["d"]);
    expect(el.querySelector("line")?.getAttributeNames().sort()).toEqual(["stroke-width", "x1", "x2", "y1", "y2"]);
    // and the model's own HTML still gets no SVG at all
    expect(dom(md.render("<svg><path d=\"M0 0\"/></svg>")).querySelector("svg, path")).toBeNull();
  });

  it("gives code blocks a wrap toggle (they scroll sideways by default)", () => {
    const el = dom(md.render("```python\nx = 1\n```"));
    const wrap = el.querySelector("button[data-ais-action=wrap-code]");
    expect(wrap?.getAttribute("aria-pressed")).toBe("false");
    expect(wrap?.textContent).toBe("Wrap");
  });

  it("leaves dollar amounts alone", () => {
    const el = dom(md.render("It costs $5 and $10 today."));
    expect(el.querySelector(".katex")).toBeNull();
    expect(el.textContent).toContain("$5 and $10");
  });

  it("does not treat math inside code spans as math", () => {
    const el = dom(md.render("`$x$` stays"));
    expect(el.querySelector("code")?.textContent).toBe("$x$");
    expect(el.querySelector(".katex")).toBeNull();
  });

  it("shows task list items as text marks, not inputs", () => {
    const el = dom(md.render("- [x] done\n- [ ] todo"));
    expect(el.querySelector("input")).toBeNull();
    expect(el.textContent).toContain("☑ done");
  });
});

describe("sanitising model output", () => {
  const hostile = [
    "<script>window.pwned = 1</script>",
    "<img src=x onerror=\"window.pwned=1\">",
    "[click](javascript:alert(1))",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
    "<svg onload=alert(1)><circle/></svg>",
    "<iframe src=\"https://evil.example\"></iframe>",
    "<div style=\"position:fixed;top:0\" onclick=\"alert(1)\">over</div>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<form action=\"https://evil.example\"><input name=q></form>",
    "<object data=\"https://evil.example/x.swf\"></object>",
    "<a href=\"data:text/html,<script>alert(1)</script>\">d</a>",
    "<details open ontoggle=alert(1)>x</details>",
    "<base href=\"https://evil.example/\">",
    "<meta http-equiv=\"refresh\" content=\"0;url=https://evil.example\">",
  ];

  for (const input of hostile) {
    it(`neutralises ${input.slice(0, 40)}`, () => {
      const html = md.render(input);
      const el = dom(html);
      expect(el.querySelector("script, iframe, svg, form, input, object, base, meta, style")).toBeNull();
      for (const node of Array.from(el.querySelectorAll("*"))) {
        for (const attr of Array.from(node.attributes)) {
          expect(attr.name.startsWith("on")).toBe(false);
          expect(attr.name).not.toBe("style");
          expect(attr.value.toLowerCase()).not.toMatch(/^\s*(javascript|data:text)/);
        }
      }
    });
  }

  it("opens links in a new tab without opener or referrer", () => {
    const a = dom(md.render("[docs](https://example.org/x)")).querySelector("a");
    expect(a?.getAttribute("href")).toBe("https://example.org/x");
    expect(a?.getAttribute("target")).toBe("_blank");
    expect(a?.getAttribute("rel")).toBe("noopener noreferrer");
  });

  it("keeps no model class or id (no spoofing of our UI)", () => {
    const el = dom(md.render("<span class=\"ais-code jp-Button\" id=\"x\">s</span>"));
    expect(el.querySelector("span")?.getAttribute("class")).toBeNull();
    expect(el.querySelector("#x")).toBeNull();
  });

  it("does not load remote images until asked", () => {
    const el = dom(md.render("![chart](https://evil.example/track.png) <img src=\"http://evil.example/b.gif\" srcset=\"http://evil.example/c.gif 2x\">"));
    const imgs = Array.from(el.querySelectorAll("img"));
    expect(imgs).toHaveLength(2);
    for (const img of imgs) {
      expect(img.getAttribute("src")).toBeNull();
      expect(img.getAttribute("srcset")).toBeNull();
      expect(img.getAttribute("data-ais-src")).toMatch(/^https?:\/\/evil\.example\//);
    }
    const buttons = el.querySelectorAll("button[data-ais-action=load-image]");
    expect(buttons).toHaveLength(2);
    expect(buttons[0].textContent).toContain("evil.example");
  });

  it("keeps inline data images", () => {
    const el = dom(md.render("![dot](data:image/png;base64,iVBORw0KGgo=)"));
    expect(el.querySelector("img")?.getAttribute("src")).toBe("data:image/png;base64,iVBORw0KGgo=");
  });

  it("cannot forge the slot markers", () => {
    const el = dom(md.render("\uE000abc:0\uE001 text ```x```"));
    expect(el.textContent).not.toContain("\uE000");
  });
});
