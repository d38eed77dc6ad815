"""The dashboard's markdown renderer and JSON helpers (static/markdown.js, jsontree.js),
case by case, run in Chromium on a dashboard page (so under its CSP)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.dashboard.conftest import CHROMIUM_ARGS, Seeded

pytestmark = pytest.mark.browser

RENDER = """async (text) => {
  const md = await import("/static/markdown.js");
  const root = md.renderMarkdown(text);
  root.querySelectorAll(".copy-btn").forEach((b) => b.remove());
  return root.innerHTML;
}"""


@pytest.fixture(scope="module")
def lab(seeded: Seeded, browser: Any) -> Iterator[Any]:
    """One page of the dashboard, to import its modules into."""
    assert "--disable-background-networking" in CHROMIUM_ARGS
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(seeded.server.url + "/sessions")
    try:
        yield page
    finally:
        context.close()
    assert errors == []


def render(lab: Any, text: str) -> str:
    html: str = lab.evaluate(RENDER, text)
    return html


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "**bold** *it* ***both*** ~~gone~~",
            "<p><strong>bold</strong> <em>it</em> <strong><em>both</em></strong> <del>gone</del></p>",
        ),
        ("__strong__ and _it_", "<p><strong>strong</strong> and <em>it</em></p>"),
        ("snake_case_name stays, 2 * 3 * 4 too", "<p>snake_case_name stays, 2 * 3 * 4 too</p>"),
        ("*a **b** c*", "<p><em>a <strong>b</strong> c</em></p>"),
        ("**never closed", "<p>**never closed</p>"),
        (
            "# One\n## Two\n###### Six\n#hashtag",
            '<h1 class="md-h md-h1">One</h1><h2 class="md-h md-h2">Two</h2><h6 class="md-h md-h6">Six</h6><p>#hashtag</p>',
        ),
        ("line one\nline two", "<p>line one<br>line two</p>"),
        ("a \\*not em\\* \\_x\\_", "<p>a *not em* _x_</p>"),
        (
            "`a <b> c` and ``x ` y``",
            '<p><code class="md-inline-code">a &lt;b&gt; c</code> and <code class="md-inline-code">x ` y</code></p>',
        ),
        (
            "- a\n  - b\n    - c\n- d",
            "<ul><li><p>a</p><ul><li><p>b</p><ul><li><p>c</p></li></ul></li></ul></li><li><p>d</p></li></ul>",
        ),
        (
            "1. one\n    - four spaces\n2. two",
            "<ol><li><p>one</p><ul><li><p>four spaces</p></li></ul></li><li><p>two</p></li></ol>",
        ),
        ("3. three\n4. four", '<ol start="3"><li><p>three</p></li><li><p>four</p></li></ol>'),
        ("- a\n\n- b\n\nafter", "<ul><li><p>a</p></li><li><p>b</p></li></ul><p>after</p>"),
        (
            "- [ ] todo\n- [x] done",
            '<ul><li class="md-task"><span class="md-check">☐ </span><p>todo</p></li><li class="md-task"><span class="md-check">☑ </span><p>done</p></li></ul>',
        ),
        (
            "> quoted\n> > deeper",
            "<blockquote><p>quoted</p><blockquote><p>deeper</p></blockquote></blockquote>",
        ),
        ("---\n***", "<hr><hr>"),
        (
            '```js\nlet a = 1 < 2; // "x"\n```',
            '<div class="md-code"><div class="md-code-head"><span class="md-lang">js</span></div><pre><code data-lang="js">let a = 1 &lt; 2; // "x"</code></pre></div>',
        ),
        ("```\nno end\n\nstill code", "<code>no end\n\nstill code</code>"),
        ("~~~\n```\ninner\n```\n~~~", "<code>```\ninner\n```</code>"),
        (
            "| a | b |\n|:-:|--:|\n| 1 | 2 |\n| x \\| y |",
            '<table><thead><tr><th class="align-center">a</th><th class="align-right">b</th></tr></thead><tbody><tr><td class="align-center">1</td><td class="align-right">2</td></tr><tr><td class="align-center">x | y</td><td class="align-right"></td></tr></tbody></table>',
        ),
        (
            '[site](https://e.example/a?b=1&c=2 "t")',
            '<a class="md-link" href="https://e.example/a?b=1&amp;c=2" title="https://e.example/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer nofollow">site</a>',
        ),
        (
            "see https://e.example/wiki/A_(b). Next",
            '<a class="md-link" href="https://e.example/wiki/A_(b)"',
        ),
        (
            "(at https://e.example/x)",
            'href="https://e.example/x" title="https://e.example/x" target="_blank" rel="noopener noreferrer nofollow">https://e.example/x</a>)',
        ),
        ("<https://e.example/auto>", 'href="https://e.example/auto"'),
        (
            "[**bold** link](http://e.example)",
            '<a class="md-link" href="http://e.example/" title="http://e.example/" target="_blank" rel="noopener noreferrer nofollow"><strong>bold</strong> link</a>',
        ),
    ],
)
def test_markdown_renders(lab: Any, text: str, expected: str) -> None:
    assert expected in render(lab, text)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            "[x](javascript:alert(1))",
            '<span class="md-link-unsafe">x<span class="md-url"> (javascript:alert(1))</span></span>',
        ),
        ("[x](JavaScript:alert(1))", "(JavaScript:alert(1))"),
        ("[x]( java\tscript:alert(1))", "script:alert(1))"),
        ("[x](data:text/html;base64,PHNjcmlwdD4=)", "(data:text/html;base64,PHNjcmlwdD4=)"),
        ("[x](//evil.example/a)", "(//evil.example/a)"),
        ("[x](/sessions)", "(/sessions)"),
        ("[x](vbscript:msgbox)", "(vbscript:msgbox)"),
        ("<javascript:alert(1)>", "&lt;javascript:alert(1)&gt;"),
        ("javascript:alert(1)", "<p>javascript:alert(1)</p>"),
        (
            "![a](https://tracker.example/p.png)",
            '<a class="md-link md-image" href="https://tracker.example/p.png"',
        ),
        ("![a](javascript:alert(1))", '<span class="md-link-unsafe md-image">image: a'),
        ('<img src=x onerror="alert(1)">', '<p>&lt;img src=x onerror="alert(1)"&gt;</p>'),
        ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
        (
            "```\n</code></pre><script>alert(1)</script>\n```",
            "<code>&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;</code>",
        ),
        (
            '[a](https://e.example/"onmouseover="alert(1))',
            'href="https://e.example/%22onmouseover=%22alert(1)"',
        ),
    ],
)
def test_hostile_markdown_is_inert(lab: Any, text: str, shown: str) -> None:
    html = render(lab, text)
    assert shown in html
    assert "<script" not in html
    assert "<img" not in html
    assert (
        "javascript:"
        not in "".join(
            lab.evaluate(
                """async (text) => {
              const md = await import("/static/markdown.js");
              return Array.from(md.renderMarkdown(text).querySelectorAll("[href], [src]"),
                (n) => (n.getAttribute("href") || "") + (n.getAttribute("src") || ""));
            }""",
                text,
            )
        ).lower()
    )


def test_hostile_sizes_finish(lab: Any) -> None:
    """Deep nesting and openers without closers: drawn, not a stack overflow or a hang."""
    counts = lab.evaluate(
        """async () => {
          const md = await import("/static/markdown.js");
          const deep = md.renderMarkdown("> ".repeat(5000) + "end");
          const list = md.renderMarkdown(Array.from({length: 300}, (_, i) => " ".repeat(i * 2) + "- x").join("\\n"));
          const open = md.renderMarkdown("_a *b [c ".repeat(20000));
          const brackets = md.renderMarkdown("[".repeat(50000) + "](x)");
          return [deep.textContent.includes("end"),
                  [list.querySelectorAll("li").length, list.textContent.split("x").length - 1],
                  open.textContent.length, brackets.textContent.length];
        }"""
    )
    assert counts[0] is True
    assert counts[1] == [12, 300]  # past 12 levels the rest is text: all 300 items still shown
    assert counts[2] == len("_a *b [c " * 20000)  # every character, as text
    assert counts[3] == 49999 + len(" (x)")  # the last [ opens the link [](x); x is no URL


def test_json_text_helpers(lab: Any) -> None:
    got = lab.evaluate(
        """async () => {
          const jt = await import("/static/jsontree.js");
          return {
            object: jt.parseJsonText(' {"a": 1} '),
            array: jt.parseJsonText("[1, 2]"),
            number: jt.parseJsonText("42") === undefined,
            quoted: jt.parseJsonText('"text"') === undefined,
            broken: jt.parseJsonText('{"a": ') === undefined,
            prose: jt.parseJsonText("{not json}") === undefined,
            copied: jt.asJson({a: [1]}),
            text: jt.asJson("as is\\n"),
          };
        }"""
    )
    assert got["object"] == {"a": 1}
    assert got["array"] == [1, 2]
    assert [got["number"], got["quoted"], got["broken"], got["prose"]] == [True] * 4
    assert got["copied"] == '{\n  "a": [\n    1\n  ]\n}'
    assert got["text"] == "as is\n"


def test_long_text_is_cut_until_asked(lab: Any) -> None:
    got = lab.evaluate(
        """async () => {
          const content = await import("/static/content.js");
          const text = "word ".repeat(5000) + "END";
          const node = content.richText(text);
          document.body.appendChild(node);
          const before = node.textContent.includes("END");
          node.querySelector("button.show-all").click();
          return [before, node.querySelector(".md").textContent.trim().length,
                  node.querySelector("button.show-all") === null, text.length];
        }"""
    )
    before, shown, button_gone, length = got
    assert before is False
    assert shown == length  # all of it, once asked
    assert button_gone is True


def test_huge_containers_draw_a_page_at_a_time(lab: Any) -> None:
    got = lab.evaluate(
        """async () => {
          const jt = await import("/static/jsontree.js");
          const tree = jt.jsonTree(Array.from({length: 1203}, (_, i) => i));
          document.body.appendChild(tree);
          const rows = () => tree.querySelectorAll(".jt-leaf").length;
          const counts = [rows()];
          while (tree.querySelector(".jt-more-items")) {
            counts.push(tree.querySelector(".jt-more-items").textContent);
            tree.querySelector(".jt-more-items").click();
            counts.push(rows());
          }
          return counts;
        }"""
    )
    assert got == [500, "Show 500 more of 703", 1000, "Show 203 more of 203", 1203]
