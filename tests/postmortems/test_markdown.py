from postmortems.documents import render_markdown


def test_markdown_renders_formatting():
    html = render_markdown(
        "# Title\n\n**bold** and [a link](https://example.test)\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    )
    assert "<h1>Title</h1>" in html and "<strong>bold</strong>" in html
    assert 'href="https://example.test"' in html and "<table>" in html


def test_script_tags_are_not_executable():
    html = render_markdown("Hello <script>alert(1)</script>\n\n<script>steal()</script>")
    assert "<script" not in html.lower()


def test_javascript_links_are_stripped():
    for text in [
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](  javascript:alert(1))",
        "<javascript:alert(1)>",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
    ]:
        html = render_markdown(text).lower()
        assert "javascript:" not in html.replace("&amp;", "&") or "href" not in html, text
        assert 'href="javascript' not in html and 'href="data:' not in html, text


def test_on_attributes_and_raw_html_are_stripped():
    html = render_markdown(
        '<img src=x onerror="alert(1)"> <a href="https://x.test" onclick="evil()">x</a>'
    )
    assert "onerror=" not in html.replace("&lt;", "<") or "<img" not in html
    assert "<img" not in html and "<a href" not in html  # raw HTML is escaped, not rendered
    assert "onclick" not in render_markdown('[x](https://x.test "t" onclick=evil())').split(">")[0]


def test_links_get_rel_and_unknown_tags_go():
    html = render_markdown("[a](https://example.test)")
    assert 'rel="noopener noreferrer nofollow"' in html


def test_the_sanitiser_itself_strips_scripts_handlers_and_javascript_urls():
    from postmortems.documents import sanitize_html

    dirty = (
        '<p onclick="evil()">hi<script>alert(1)</script></p>'
        '<a href="javascript:alert(1)" onmouseover="x()">link</a>'
        '<img src="x" onerror="alert(1)"><iframe src="https://x.test"></iframe>'
        '<a href="https://ok.test">ok</a>'
    )
    clean = sanitize_html(dirty)
    assert "<script" not in clean and "alert(1)" not in clean
    assert "onclick" not in clean and "onmouseover" not in clean and "onerror" not in clean
    assert "javascript:" not in clean and "<img" not in clean and "<iframe" not in clean
    assert '<a href="https://ok.test" rel="noopener noreferrer nofollow">ok</a>' in clean
