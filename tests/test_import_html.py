# ruff: noqa: E501
"""`import_release` on web pages: the release kept, the page around it dropped and reported."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from distrib.importing import ReleaseImportError, import_release
from distrib.release import read_release

TORONTO = ZoneInfo("America/Toronto")

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Winter Storefronts | AGAPC</title>
<script>window.dataLayer = [];</script><style>.x{color:red}</style></head>
<body onload="track()">
<div id="cookie-consent" class="banner"><p>We use cookies to improve your experience.
<a href="/privacy">Privacy</a> <button>Accept all</button></p></div>
<header><nav class="main-nav"><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li>
</ul></nav></header>
<main><article>
<h1 style="color:#123">Winter Storefronts: $485,000 for our streets</h1>
<div class="share-buttons"><a href="https://www.facebook.com/sharer/sharer.php?u=x">Share</a>
<a href="https://twitter.com/intent/tweet?url=x">Tweet</a></div>
<p>EMBARGOED UNTIL November 4, 2027, 9 a.m. ET</p>
<p style="font-family:Arial">MONTRÉAL, November 4, 2027 – The Pointe-aux-Cèdres Business
Association today unveiled <strong>Winter Storefronts</strong>, a program to keep its streets
lively.</em> /em> <strong>&lt;/strong&gt;</strong></p>
<p onclick="steal()">Seven merchants in ten report that foot traffic drops by a quarter
between January and March, according to <a href="javascript:alert(1)">a survey</a> of its
<a href="https://agapc.example/members" onmouseover="x()">members</a>.</p>
<h2>What the program includes</h2>
<ul><li><b>Six heated rest stops</b> at the main intersections;</li>
<li>The Cèdres Market, every Saturday.</li></ul>
<blockquote><p>“Winter should no longer be the season when our streets empty out,” said
Hélène Marchand-Dufour.</p></blockquote>
<img src="https://stats.example.net/p.gif" width="1" height="1" alt="">
<img src="https://agapc.example/photos/market.jpg" alt="The Cèdres Market">
<iframe src="https://video.example/embed/1"></iframe>
<form action="/subscribe"><input name="email"><button>Subscribe</button></form>
<h3>About the AGAPC</h3>
<p>Founded in 1987, the AGAPC brings together some 240 businesses in western Montréal.</p>
<p>-30-</p>
<p><strong>Media contact:</strong><br>Julien Ostiguy<br>
<a href="mailto:medias@agapc.example">medias@agapc.example</a></p>
</article>
<section id="comments"><h3>2 comments</h3><p>Great idea! — Bob</p></section>
</main>
<footer><p>© 2027 AGAPC · <a href="/legal">Legal</a></p></footer>
</body></html>
"""

EXPECTED = """---
title: 'Winter Storefronts: $485,000 for our streets'
subject: 'Winter Storefronts: $485,000 for our streets'
dateline: MONTRÉAL, November 4, 2027 –
embargo: '2027-11-04T09:00:00-04:00'
about: |-
  ### About the AGAPC

  Founded in 1987, the AGAPC brings together some 240 businesses in western Montréal.
media_contact: |-
  **Media contact:**\\
  Julien Ostiguy\\
  <medias@agapc.example>
---
The Pointe-aux-Cèdres Business Association today unveiled **Winter Storefronts**, a program to keep its streets lively.

Seven merchants in ten report that foot traffic drops by a quarter between January and March, according to a survey of its [members](https://agapc.example/members).

## What the program includes

- **Six heated rest stops** at the main intersections;
- The Cèdres Market, every Saturday.

> “Winter should no longer be the season when our streets empty out,” said Hélène Marchand-Dufour.

[The Cèdres Market](https://agapc.example/photos/market.jpg)
"""


def test_a_news_page_becomes_the_release_without_its_page(tmp_path: Path) -> None:
    source = tmp_path / "news.html"
    source.write_text(PAGE, encoding="utf-8")
    target = tmp_path / "release"
    report = import_release([source], target=target, timezone=TORONTO)
    text = (target / "en.md").read_text(encoding="utf-8")
    assert text == EXPECTED
    for never in ("cookie", "Accept all", "Home", "Share", "Tweet", "javascript", "onclick",
                  "style", "iframe", "Subscribe", "Bob", "Legal", "/em", "p.gif"):  # fmt: skip
        assert never not in text, never
    document = report.documents[0]
    assert [str(n) for n in document.dropped] == [
        "script: window.dataLayer = [];",
        "style sheet: .x{color:red}",
        "cookie banner: We use cookies to improve your experience. Privacy Accept…",
        "page header: Home News",
        "share links: Share Tweet",
        "tracking pixel: <img>",
        "iframe: <iframe>",
        "form: Subscribe",
        "comments: 2 comments Great idea! — Bob",
        "page footer: © 2027 AGAPC · Legal",
        "tag debris: /em>",
        "tag debris: </strong>",
        "embargo line (now the embargo key): EMBARGOED UNTIL November 4, 2027, 9 a.m. ET",
        "end mark (distrib adds the language's own): -30-",
    ]
    assert document.warnings == (
        "image not fetched (no network): https://agapc.example/photos/market.jpg",
    )
    understood = {n.what: n.detail for n in document.understood}
    assert understood["embargo"] == "2027-11-04T09:00:00-04:00 (America/Toronto, named in the line)"
    en = read_release(target).documents["en"]
    assert en.embargo is not None and en.embargo.isoformat() == "2027-11-04T09:00:00-04:00"


def test_a_page_with_no_main_content_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "menu.html"
    source.write_text(
        "<html><body><div class='cookie-banner'>We use cookies, lots of them, really many"
        " cookies on this site.</div><nav><a href='/'>Home</a> <a href='/a'>About</a></nav>"
        "<script>var a = 'a long script that is not content at all';</script></body></html>",
        encoding="utf-8",
    )
    with pytest.raises(ReleaseImportError) as info:
        import_release([source], target=tmp_path / "r", timezone=TORONTO, lang="en")
    assert str(info.value.problems[0]) == (
        f"{source}: no main content found in the page (only navigation, banners or scripts):"
        " save the article's own page, or copy its text into a .txt file"
    )
    assert not (tmp_path / "r").exists()


def test_a_french_page_in_windows_1252_with_its_charset(tmp_path: Path) -> None:
    page = (
        '<html lang="fr"><head><meta http-equiv="Content-Type" content="text/html;'
        ' charset=windows-1252"></head><body><h1>Hiver en vitrine</h1>'
        "<p>QUÉBEC, le 1er décembre 2027 – La Ville de Québec annonce aujourd’hui que le"
        " marché de Noël ouvrira ses portes dans le Vieux-Québec pour la saison.</p>"
        "<p>Renseignements : Marie Côté, 418 555-0100</p></body></html>"
    )
    source = tmp_path / "ville.htm"
    source.write_bytes(page.encode("cp1252"))
    report = import_release([source], target=tmp_path / "r", timezone=TORONTO)
    document = report.documents[0]
    assert document.language == "fr"
    assert dict(document.front_matter) == {
        "title": "Hiver en vitrine",
        "subject": "Hiver en vitrine",
        "dateline": "QUÉBEC, le 1er décembre 2027 –",
        "media_contact": "Renseignements : Marie Côté, 418 555-0100",
    }
    assert document.body == (
        "La Ville de Québec annonce aujourd’hui que le marché de Noël ouvrira ses portes dans"
        " le Vieux-Québec pour la saison.\n"
    )
