"""More unseen framing for `robustness.py`: blog engines not in the dev corpus, and the widgets themes
put inside a post body (share bars, "Share this video" blocks, related posts, newsletter boxes,
bylines, ad labels, links to the posts around it)."""

from __future__ import annotations

import random

# Each theme: (page template with {title} {post} {url},). Engines and markup that the dev
# corpus does not have.
THEMES = {
    "substack": (
        """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title} - by Dana Whitlock - Open Dispatch</title>
<meta property="og:site_name" content="Open Dispatch"></head><body><div id="main"><div class="topbar"><span>Open Dispatch</span> <span>Subscribe</span> <span>Sign in</span></div>
<article class="typography newsletter-post post"><div class="post-header"><h1 class="post-title">{title}</h1><h3 class="subtitle">Notes from the archive</h3>
<div class="post-meta">Dana Whitlock · Dec 6, 2010</div></div>
<div class="available-content"><div dir="auto" class="body markup">{post}</div></div>
<div class="subscription-widget-wrap"><p>Thanks for reading Open Dispatch! Subscribe for free to receive new posts and support my work.</p><p>Subscribe</p></div>
<div class="post-footer"><span>12 Likes</span> <span>3 Restacks</span> <span>Share</span></div></article>
<div class="comments-page"><h4>Discussion about this post</h4><p>Carl M. · Dec 7, 2010 · Remarkable how little changed.</p></div></div></body></html>""",
    ),
    "wix": (
        """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="generator" content="Wix.com Website Builder">
<title>{title} | Harbour Light Review</title></head><body><div id="SITE_CONTAINER"><header id="SITE_HEADER"><p>Harbour Light Review</p><nav><p>Home</p><p>Blog</p><p>About</p><p>Contact</p></nav></header>
<main id="PAGES_CONTAINER"><div data-hook="post-page"><article><div data-hook="post-title"><h1>{title}</h1></div><div data-hook="post-metadata">Admin · Dec 8, 2010 · 5 min read</div>
<div data-hook="post-description"><div class="post-content__body">{post}</div></div>
<div data-hook="post-footer"><p>Facebook</p><p>Twitter</p><p>LinkedIn</p><p>Link</p><p>32 views</p><p>0 comments</p><p>Post not marked as liked</p></div></article>
<section data-hook="recent-posts"><h2>Recent Posts</h2><p>See All</p><p>Letters from the consulate</p><p>Reading the diplomatic record</p></section></div></main>
<footer id="SITE_FOOTER"><p>© 2010 by Harbour Light Review. Proudly created with Wix.com</p></footer></div></body></html>""",
    ),
    "hubspot": (
        """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="generator" content="HubSpot"><title>{title}</title></head>
<body class="blog-post"><div class="header-container"><p>Policy Works</p><p>Services</p><p>Insights</p><p>Contact us</p></div>
<div class="body-container"><div class="blog-post-wrapper"><h1><span id="hs_cos_wrapper_name">{title}</span></h1><div class="blog-author">Posted by Imran Ashe on December 9, 2010</div>
<div class="post-body"><span id="hs_cos_wrapper_post_body" class="hs_cos_wrapper hs_cos_wrapper_meta_field hs_cos_wrapper_type_rich_text">{post}</span></div>
<p class="topic-links">Topics: Diplomacy, Archives</p></div>
<div class="blog-sidebar"><h3>Subscribe to Email Updates</h3><p>Email*</p><h3>Recent Posts</h3><p>Five questions about leaks</p></div></div>
<div class="footer-container"><p>© 2010 Policy Works, Inc. All rights reserved. Privacy policy</p></div></body></html>""",
    ),
    "discourse": (
        """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="generator" content="Discourse 2.9"><title>{title} - Archives - Open Forum</title></head>
<body><header class="d-header"><p>Open Forum</p><p>Log In</p></header><div id="main-outlet"><h1><a class="fancy-title" href="{url}">{title}</a></h1>
<div class="topic-post"><article id="post_1" class="boxed onscreen-post"><div class="topic-meta-data"><span class="username">archivist</span> <span class="relative-date">Dec '10</span></div>
<div class="topic-body"><div class="regular contents"><div class="cooked">{post}</div></div>
<section class="post-menu-area"><p>3 Likes</p><p>Reply</p></section></div></article></div>
<div class="topic-post"><article id="post_2"><div class="topic-body"><div class="cooked"><p>Does anyone have the follow-up from the same post?</p></div></div></article></div>
<div class="suggested-topics"><h3>Suggested Topics</h3><p>Cable reading group, week 3</p><p>Index of released cables by post</p></div></div></body></html>""",
    ),
    "jekyll": (
        """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="generator" content="Jekyll v3.9.0"><title>{title} | Slow Reading</title></head>
<body><header class="site-header"><a class="site-title" href="/">Slow Reading</a><nav class="site-nav"><a class="page-link" href="/about/">About</a></nav></header>
<main class="page-content"><div class="wrapper"><article class="post h-entry" itemscope itemtype="http://schema.org/BlogPosting">
<header class="post-header"><h1 class="post-title p-name">{title}</h1><p class="post-meta"><time>Dec 10, 2010</time></p></header>
<div class="post-content e-content" itemprop="articleBody">{post}</div><a class="u-url" href="{url}" hidden></a></article></div></main>
<footer class="site-footer h-card"><h2 class="footer-heading">Slow Reading</h2><p>Notes on documents, one page at a time.</p><p>Subscribe via RSS</p></footer></body></html>""",
    ),
    "weebly": (
        """<!DOCTYPE html><html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"><title>{title} - Kestrel Notes</title></head>
<body class="no-header-page"><div class="wsite-header"><p>Kestrel Notes</p><ul class="wsite-menu-default"><li>Home</li><li>Blog</li><li>Contact</li></ul></div>
<div id="wsite-content" class="wsite-elements wsite-not-footer"><div class="blog-post"><h2 class="blog-title">{title}</h2><p class="blog-date">12/11/2010</p>
<div class="blog-content">{post}</div><p class="blog-comments">0 Comments</p></div>
<div class="blog-sidebar"><h2>Archives</h2><p>December 2010</p><h2>Categories</h2><p>All</p><p>Cables</p><p>RSS Feed</p></div></div>
<div class="wsite-footer"><p>Powered by Weebly</p></div></body></html>""",
    ),
}

# Framing sentences of the kinds bloggers wrote, none of which the rules list.
BEFORE = [
    "Posted as received, typos and all:",
    "This came up in our reading group last night.",
    "A short one today.",
    "Il testo integrale del cablogramma:",
    "Texto completo del cable, tal como fue publicado:",
]
AFTER = [
    "If you have context on any of the names above, get in touch.",
    "Translation help welcome in the comments.",
    "That's all for today.",
    "Continua a leggere nel prossimo post.",
    "Fin del cable.",
]

# Widgets that themes and plugins put inside the post body.
SHARE_BARS = [
    '<div class="share-bar"><span>Share this:</span> <a href="#">Facebook</a> <a href="#">Twitter</a> <a href="#">Email</a></div>',
    '<ul class="social-share"><li><a href="#">Facebook</a></li><li><a href="#">Twitter</a></li><li><a href="#">WhatsApp</a></li><li><a href="#">Email</a></li></ul>',
    '<div class="addtoany_share"><a href="#">Share</a> <a href="#">Tweet</a> <a href="#">Pin it</a></div>',
    '<p class="share-links">Teilen: <a href="#">Facebook</a> | <a href="#">Twitter</a> | <a href="#">E-Mail</a></p>',
    '<div class="ssba"><p>Share this post</p><p><a href="#">Facebook</a><a href="#">LinkedIn</a><a href="#">Reddit</a><a href="#">Print</a></p></div>',
]
VIDEO_BLOCKS = [
    '<figure class="wp-block-embed is-type-video"><div class="wp-block-embed__wrapper"><iframe src="https://www.youtube.com/embed/abc123"></iframe></div><figcaption>Share this video</figcaption></figure>',
    '<div class="video-share"><p>Share this video</p><p><a href="#">Facebook</a> <a href="#">Twitter</a> <a href="#">Copy link</a></p></div>',
    '<div class="jw-wrapper"><p>Watch: what the cables revealed (3:12)</p><p>Share this video:</p><p><a href="#">Embed</a> <a href="#">Email</a></p></div>',
]
RELATED = [
    '<div class="related-posts"><h3>You may also like</h3><ul><li><a href="#">The oil deal nobody mentioned</a></li><li><a href="#">What the cables say about Yemen</a></li></ul></div>',
    '<section class="crp_related"><h4>Related Posts:</h4><ul><li><a href="#">Diplomats and the press</a></li><li><a href="#">A year of leaks</a></li><li><a href="#">Reading between the lines</a></li></ul></section>',
    '<div class="rp4wp-related-posts"><h3>Read more</h3><p><a href="#">Inside the embassy reports</a> – December 2, 2010</p></div>',
]
NEWSLETTER = [
    '<div class="newsletter-box"><h4>Get the newsletter</h4><p>Sign up to receive our weekly digest of declassified documents.</p><form><input type="email"></form><p>We respect your privacy. Unsubscribe at any time.</p></div>',
    '<div class="mc4wp-form"><p>Subscribe to our mailing list</p><p>* indicates required</p><form><input></form></div>',
    '<aside class="subscribe-inline"><p>Enjoying this? Subscribe for free to get new posts in your inbox.</p><p>Subscribe</p></aside>',
]
# What real themes print inside the body around a post: its byline, ad labels, links to the
# posts around it, teasers of other posts, page links.
BYLINES = [
    '<p class="post-date">20. Oktober 2013</p><p class="author">Leandra-Lou</p><p class="cats">Kategorie : Gesellschaft &amp; Kultur, Lifestyle</p>',
    '<p class="byline">December 4, 2010</p><p>Annette Henkel</p>',
]
ADS = ['<p class="ad-label">Anzeige</p>', '<div class="ad"><p>Advertisement:</p></div>']
NAV = [
    '<div class="nav-links"><p>← Previous post</p><p>Next post →</p></div>',
    '<p class="pagination">Pages: 1 2 3 4</p>',
    '<div class="teasers"><h3>Diesel-Umtauschprämien</h3><p>Fragen und Antworten zur Umweltprämie und zu den Sonderrabatten der Hersteller: wir vergleichen die Angebote aller Marken und erklären, für wen sich der Umtausch lohnt und wann nicht.</p></div>',
]
WIDGETS = SHARE_BARS + VIDEO_BLOCKS + RELATED + NEWSLETTER + BYLINES + ADS + NAV


def widgets(rng: random.Random) -> dict[str, list[str]]:
    """Widgets to put inside one post body, by where they go: top, after the intro, between cables, after the cables."""
    where: dict[str, list[str]] = {"top": [], "intro": [], "between": [], "after": []}
    if rng.random() < 0.4:
        return where
    for _ in range(rng.choice([1, 1, 2, 3])):
        kind = rng.choice([SHARE_BARS, VIDEO_BLOCKS, RELATED, NEWSLETTER, BYLINES, ADS, NAV])
        where[rng.choice(list(where))].append(rng.choice(kind))
    return where
