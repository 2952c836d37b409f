"""Fidelity on pages the rules were not written from: new blog themes, new framing, other cables.

Builds a set of synthetic mirror pages in the corpus layout (pages/, truth/) from the cablegate
dev cables (their true texts), pasted into fourteen blog, forum and site-builder themes that are
not in the dev corpus (`robustness_themes.py` holds six of them), in the five styles bloggers
used, with framing sentences the rules do not list, widgets inside the post body (share bars,
"Share this video" blocks, related posts, newsletter boxes), several cables per post, mojibake
and markup variants; then cleans them with `cablearchive clean --out` and scores them with the
corpus scorer.

    python benchmarks/robustness.py [--pages N] [--seed S] [--keep DIR]
"""

from __future__ import annotations

import argparse
import html
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
sys.path.insert(0, str(Path(__file__).resolve().parent))

import robustness_themes as more  # noqa: E402  (beside this script)

BEFORE = [
    "From the cablegate release:",
    "I found this one worth a look.",
    "Full text below.",
    "Original cable text follows:",
    "Der folgende Text stammt aus den veröffentlichten Depeschen.",
    "Another cable, posted without comment.",
    *more.BEFORE,
]
AFTER = [
    "Thoughts? Drop a comment below.",
    "More cables soon.",
    "Quelle: WikiLeaks.",
    "Originally published by WikiLeaks in 2010.",
    "I will post the follow-up cable tomorrow.",
    *more.AFTER,
]

# Each theme: (name, page template with {title} {post} {url}, post-body wrapper with {body}).
THEMES = {
    "ghost": (
        """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title} – Field Notes</title>
<meta name="generator" content="Ghost 5.2"><link rel="stylesheet" href="/assets/built/screen.css"></head>
<body class="post-template"><div class="site-wrapper"><header class="site-header"><nav class="site-nav">
<a href="/">Home</a> <a href="/tag/cables/">Cables</a> <a href="/about/">About</a></nav></header>
<main id="site-main" class="site-main"><article class="article post"><header class="article-header">
<h1 class="article-title">{title}</h1><div class="article-byline">By Maren Holt · 4 min read</div></header>
<section class="gh-content gh-canvas">{post}</section></article>
<section class="article-comments gh-canvas"><h3>Join the conversation</h3><p>Sign in to leave a comment.</p></section>
<aside class="read-more-wrap"><h2>You might also like</h2><p>Notes on archiving the web, part two.</p>
<p>What the census records tell us.</p></aside></main>
<footer class="site-footer"><p>Field Notes © 2013 — Published with Ghost</p></footer></div></body></html>""",
    ),
    "medium": (
        """<!DOCTYPE html><html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<title>{title} | by Pat Kiernan | Medium</title></head><body><div id="root"><div class="a b c">
<nav><span>Open in app</span> <span>Sign up</span> <span>Sign in</span></nav>
<article><div class="l"><section><div class="ab"><h1 class="pw-post-title">{title}</h1>
<div class="pw-author">Pat Kiernan · Follow</div><div>Published in Open Records · 6 min read · Dec 3, 2010</div>
{post}</div></section></div></article>
<div class="responses"><h2>Responses (3)</h2><p>What are your thoughts?</p><p>Great find, thanks for sharing this.</p></div>
<footer><p>Help Status About Careers Press Blog Privacy Terms Text to speech</p></footer></div></div></body></html>""",
    ),
    "joomla": (
        """<!DOCTYPE html><html xml:lang="de-de" lang="de-de"><head><meta http-equiv="content-type" content="text/html; charset=utf-8" />
<meta name="generator" content="Joomla! - Open Source Content Management" /><title>{title}</title></head>
<body><div id="all"><div id="header"><h1>Bürgerinitiative Transparenz</h1><ul class="menu"><li>Startseite</li><li>Archiv</li><li>Kontakt</li></ul></div>
<div id="main"><div class="item-page"><h2><a href="{url}">{title}</a></h2><dl class="article-info"><dd class="create">Erstellt am Montag, 06. Dezember 2010 um 10:12</dd>
<dd class="createdby">Geschrieben von Redaktion</dd></dl>{post}<ul class="pagenav"><li class="pagenav-prev">&lt; Zurück</li><li class="pagenav-next">Weiter &gt;</li></ul></div></div>
<div id="right"><div class="moduletable"><h3>Neueste Beiträge</h3><ul><li>Jahresversammlung 2011</li><li>Spendenaufruf</li></ul></div></div>
<div id="footer"><p>Copyright © 2010 Bürgerinitiative. Alle Rechte vorbehalten.</p></div></div></body></html>""",
    ),
    "phpbb": (
        """<!DOCTYPE html><html dir="ltr" lang="en-gb"><head><meta charset="utf-8" /><title>{title} - Politics Forum</title></head>
<body id="phpbb" class="section-viewtopic"><div id="wrap"><div class="headerbar"><h1>Politics Forum</h1><p>Discussion of current affairs</p></div>
<div class="navbar"><a href="./index.php">Board index</a> ‹ <a href="./viewforum.php?f=4">World news</a></div>
<h2 class="topic-title"><a href="{url}">{title}</a></h2>
<div class="post bg2" id="p4411"><div class="inner"><div class="postbody"><h3 class="first">{title}</h3>
<p class="author">by <strong>spectator</strong> » Fri Dec 03, 2010 9:14 pm</p>
<div class="content">{post}</div><div class="signature">-- Sunlight is the best disinfectant.</div></div>
<dl class="postprofile"><dt>spectator</dt><dd><strong>Posts:</strong> 1287</dd><dd><strong>Joined:</strong> Tue Mar 04, 2008</dd></dl></div></div>
<div class="post bg1" id="p4412"><div class="inner"><div class="postbody"><h3>Re: {title}</h3><p class="author">by <strong>mkv</strong> » Fri Dec 03, 2010 10:02 pm</p>
<div class="content">Thanks for posting. The part about the ministry is telling.</div></div></div></div>
<div class="copyright">Powered by phpBB® Forum Software © phpBB Limited</div></div></body></html>""",
    ),
    "typepad": (
        """<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml"><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8" />
<meta name="generator" content="http://www.typepad.com/" /><title>The Long View: {title}</title></head>
<body class="layout-two-column-right post"><div id="container"><div id="banner"><h1 id="banner-header">The Long View</h1><h2 id="banner-description">Notes on diplomacy and history</h2></div>
<div id="pagebody"><div id="alpha"><div class="entry-category-cables entry" id="entry-6a00"><h3 class="entry-header">{title}</h3>
<div class="entry-content"><div class="entry-body">{post}</div></div>
<div class="entry-footer"><p class="entry-footer-info">Posted at 08:41 PM in Cables | Permalink | Comments (2)</p><p>Reblog (0)</p></div></div>
<div class="comments" id="comments"><h3>Comments</h3><div class="comment-content"><p>Fascinating, if depressing.</p></div><p class="comment-footer">Posted by: Lena | December 04, 2010 at 09:12 AM</p></div></div>
<div id="beta"><h2>Archives</h2><ul><li>December 2010</li><li>November 2010</li></ul><h2>Recent Comments</h2><p>Lena on Cables</p></div></div></div></body></html>""",
    ),
    "squarespace": (
        """<!doctype html><html lang="en-US"><head><meta charset="utf-8"><title>{title} — Parallel Archive</title>
<!-- This is Squarespace. --></head><body class="collection-type-blog view-item"><header id="header"><div class="header-title">Parallel Archive</div>
<nav class="header-nav"><a href="/blog">Blog</a><a href="/about">About</a><a href="/contact">Contact</a></nav></header>
<main id="page"><article class="blog-item"><div class="blog-item-title"><h1 class="entry-title">{title}</h1></div>
<div class="blog-item-meta"><time>December 4, 2010</time> · Ruth Alder</div>
<div class="blog-item-content e-content"><div class="sqs-layout"><div class="sqs-block html-block"><div class="sqs-block-content">{post}</div></div></div></div>
<div class="blog-item-share"><span>Share</span> <a>Facebook</a> <a>Twitter</a> <a>LinkedIn</a></div>
<section class="item-pagination"><a>Previous: On reading state papers</a> <a>Next: The year in review</a></section></article></main>
<footer class="footer"><p>Made with Squarespace</p></footer></body></html>""",
    ),
    "livejournal": (
        """<!DOCTYPE html><html><head><meta http-equiv="Content-Type" content="text/html; charset=UTF-8"><title>{title}: nightreader — LiveJournal</title></head>
<body class="s-schemius"><div class="s-header"><h1>nightreader</h1><ul class="s-nav"><li>Recent Entries</li><li>Archive</li><li>Friends</li><li>Profile</li></ul></div>
<div class="s-body"><div class="b-singlepost-wrapper"><h1 class="b-singlepost-title">{title}</h1><div class="b-singlepost-author">nightreader · December 5th, 2010</div>
<article class="b-singlepost-body entry-content">{post}</article>
<div class="b-singlepost-tags">Tags: cablegate, diplomacy</div><div class="b-xylem"><span>7 comments</span> <span>Reply</span> <span>Flag</span></div></div></div>
<div class="s-sidebar"><h3>Calendar</h3><p>December 2010</p><h3>Links</h3><p>Page Summary</p></div></body></html>""",
    ),
    "newsportal": (
        """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title} | The Daily Ledger</title></head>
<body><div class="topbar">Subscribe · Log in · Newsletters</div><header class="masthead"><div class="logo">The Daily Ledger</div>
<nav><ul><li>World</li><li>Politics</li><li>Business</li><li>Opinion</li></ul></nav></header>
<div class="content-wrap"><main><div class="story"><h1 class="headline">{title}</h1><p class="byline">By Staff · December 2, 2010</p>
<div class="story-body" itemprop="articleBody">{post}</div>
<div class="story-tools"><span>Print</span> <span>Email</span> <span>Share</span></div></div>
<div class="related"><h2>Related coverage</h2><ul><li>Diplomats scramble after leak</li><li>What the cables reveal about trade</li></ul></div></main>
<aside class="rail"><h2>Most read</h2><ol><li>Storm closes airport</li><li>Markets fall on rate fears</li></ol></aside></div>
<footer><p>© 2010 The Daily Ledger. All rights reserved. Terms of use · Privacy policy</p></footer></body></html>""",
    ),
}

THEMES.update(more.THEMES)

VIEWER_HELP = """<p><a href="http://wikileaks.org/cable/{y}/{m}/{ref}.html">WikiLeaks Link</a></p>
<p>To understand the justification used for the classification of each cable, please use this <a href="http://en.wikisource.org/wiki/Executive_Order_13526#Part_1">WikiSource</a> article as reference.</p>
<p><strong>Discussing cables</strong><br>
If you find meaningful or important information in a cable, please link directly to its unique reference number. Linking to a specific paragraph in the body of a cable is also possible by copying the appropriate link (to be found at theparagraph symbol).<br>
Please mark messages for social networking services like Twitter with the hash tags <strong>#cablegate</strong> and a hash containing the reference ID e.g. <strong>#{ref}</strong>.</p>
"""


def _paragraphs(text: str) -> list[list[str]]:
    """The cable's paragraphs as lists of lines (blank lines separate them)."""
    paras: list[list[str]] = []
    cur: list[str] = []
    for line in text.split("\n"):
        if line.strip():
            cur.append(line)
        elif cur:
            paras.append(cur)
            cur = []
    if cur:
        paras.append(cur)
    return paras


def render_cable(text: str, style: str, meta: dict, rng: random.Random, tag: str) -> str:
    """HTML for one cable pasted in a style; `tag` is the paragraph element (p or div)."""
    esc = html.escape
    if style == "pre_only":
        return f"<pre>{esc(text)}</pre>\n"
    if style == "viewer_paste":
        y, m = meta["created"][:4], meta["created"][5:7]
        head = VIEWER_HELP.format(y=y, m=m, ref=meta["reference_id"])
        row = " ".join(
            [meta["reference_id"], meta["created"], meta["released"], meta["classification"], meta["origin"]]
        )
        if rng.random() < 0.5:
            table = f"<{tag}>Reference ID Created Released Classification Origin<br>\n{esc(row)}</{tag}>\n"
        else:
            cells = "".join(
                f"<td>{esc(v)}</td>"
                for v in (
                    meta["reference_id"],
                    meta["created"],
                    meta["released"],
                    meta["classification"],
                    meta["origin"],
                )
            )
            table = (
                "<table><tr><th>Reference ID</th><th>Created</th><th>Released</th><th>Classification</th>"
                f"<th>Origin</th></tr><tr>{cells}</tr></table>\n"
            )
        return head + table + f"<pre>{esc(text)}</pre>\n"
    out = []
    for para in _paragraphs(text):
        if style == "br_paragraphs":
            body = "<br>\n".join(esc(line) for line in para)
        else:
            body = " ".join(line.strip() for line in para)
            body = esc(body)
            if style == "viewer_render":
                body = re.sub(r"^¶(\d+)\.", r"<strong>¶\1.</strong>", body)
        out.append(f"<{tag}>{body}</{tag}>")
    return "\n".join(out) + "\n"


def mojibake(s: str) -> str:
    """UTF-8 read as cp1252: what a misconfigured blog does to ¶ and curly quotes."""
    import ftfy.bad_codecs  # noqa: F401  (registers sloppy-windows-1252: undefined bytes kept, as browsers do)

    return s.encode("utf-8").decode("sloppy-windows-1252")


def build(out: Path, n_pages: int, seed: int) -> None:
    """Write n_pages synthetic pages with truth into `out` (corpus layout)."""
    rng = random.Random(seed)
    truth_dir = CORPUS / "cablegate" / "truth"
    used_in_mirrors = {p.name.rsplit(".", 2)[-2] for p in (CORPUS / "mirrors" / "truth").glob("*.txt")}
    cables = []
    for j in sorted(truth_dir.glob("*.json")):
        page = json.loads(j.read_text())
        c = page["cables"][0]
        if c["reference_id"] in used_in_mirrors:
            continue
        text = (truth_dir / f"{page['id']}.{c['reference_id']}.txt").read_text()
        cables.append((c, text))
    (out / "pages").mkdir(parents=True)
    (out / "truth").mkdir()
    styles = ["viewer_paste", "br_paragraphs", "reflowed", "viewer_render", "pre_only"]
    themes = list(THEMES)
    for i in range(n_pages):
        theme = themes[i % len(themes)]
        style = styles[(i // len(themes)) % len(styles)]
        k = 1 if style == "viewer_paste" or rng.random() < 0.8 else rng.choice([2, 3])
        picked = rng.sample(cables, k)
        framed = rng.random() < 0.5
        moji = style != "viewer_paste" and rng.random() < 0.1
        tag = "div" if rng.random() < 0.25 else "p"
        # Widgets inside the post body; drawn from their own generator, so that the pages and
        # cables a seed draws stay those of the eight first themes.
        inside = more.widgets(random.Random(f"{seed}/{i}")) if theme in more.THEMES or i % 2 else {}
        parts = list(inside.get("top", []))
        if framed:
            parts.append(f"<p>{html.escape(rng.choice(BEFORE))}</p>\n")
        parts.extend(inside.get("intro", []))
        for n, (meta, text) in enumerate(picked):
            if n:
                parts.extend(inside.get("between", []))
            if k > 1:
                parts.append(f"<h3>Cable {meta['reference_id']}</h3>\n")
            parts.append(render_cable(text, style, meta, rng, tag))
        parts.extend(inside.get("after", []))
        if framed:
            parts.append(f"<p>{html.escape(rng.choice(AFTER))}</p>\n")
        post = "".join(parts)
        if moji:
            post = mojibake(post)
        ref0 = picked[0][0]["reference_id"]
        # Half the posts name no reference ID in their title or URL.
        if k == 1 and rng.random() < 0.5:
            title = f"US embassy cable – {ref0}"
            url = f"https://example-{theme}.org/2010/12/us-embassy-cable-{ref0.lower()}/"
        else:
            subj = re.search(r"SUBJECT:?\s*(.+)", picked[0][1])
            title = (
                (subj.group(1).strip() if subj else "A cable")[:60]
                if k == 1
                else f"{k} cables from the release"
            )
            url = f"https://example-{theme}.org/2010/12/post-{i}/"
        page_html = THEMES[theme][0].format(title=html.escape(title), post=post, url=url)
        pid = f"{i:03d}_{theme}.{style}"
        (out / "pages" / f"{pid}.html").write_text(page_html, encoding="utf-8")
        truth = {
            "id": pid,
            "url": url,
            "kind": "mirror",
            "style": style,
            "mojibake": moji,
            "framed": framed,
            "lines_preserved": style in ("pre_only", "viewer_paste"),
            "cables": [
                {
                    "reference_id": m["reference_id"],
                    "partial": m["partial"],
                    **(
                        {k2: m[k2] for k2 in ("created", "released", "classification", "origin")}
                        if style == "viewer_paste"
                        else {}
                    ),
                }
                for m, _ in picked
            ],
        }
        (out / "truth" / f"{pid}.json").write_text(json.dumps(truth, indent=1))
        for m, text in picked:
            (out / "truth" / f"{pid}.{m['reference_id']}.txt").write_text(text)


def main() -> int:
    """Build the set, clean it, score it."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=240)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep", help="keep the generated set and output in this folder")
    args = ap.parse_args()
    if not CORPUS.is_dir():
        print(f"corpus not found at {CORPUS}", file=sys.stderr)
        return 2
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="robust-"))
    if work.exists() and args.keep:
        shutil.rmtree(work)
    build(work / "set", args.pages, args.seed)
    sys.path.insert(0, str(ROOT))
    from crawler.cleanfiles import clean_paths

    with open(work / "clean.log", "w") as log:
        clean_paths([str(work / "set" / "pages")], out_dir=str(work / "out"), quiet=True, err=log)
    score = CORPUS.parent / "tools" / "score.py"
    subprocess.run(
        [sys.executable, str(score), str(work / "set"), str(work / "out"), "--worst", "10"], check=False
    )
    if not args.keep:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
