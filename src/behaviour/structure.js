// Items by structure: comments and replies found by the shape of the page,
// for markup no profile rule names. Installed after kit.js; `B.items` calls
// `B.structure` with the items its rules found and gets back the comments
// and replies it found besides, each with its kind, parent, time and author.
//
// A comment is a block around one time-like marker (a `time` element or a
// short text such as "2 tim", "3 nov. kl. 14:05", "för 5 dagar sedan"):
// from the marker up to the largest element that holds no earlier marker
// and whose siblings are not blocks of the same shape (the same tag path
// down to their first marker), stopping at a list item or a
// role=article/comment/listitem. Such a block needs an author-like element
// (a link, strong, cite or heading of short text) and text of its own, and
// its shape must repeat on the page. A block inside another is a reply to
// it; of blocks side by side, one indented 16 px or more beyond an earlier
// one, or starting with "Svar till @namn", "Replying to @x", "som svar på
// X", is a reply to that one.
(() => {
  const B = window.__bevara;
  if (!B || B.structure) return 'present';

  const MONTH = '(?:jan|feb|mar|apr|maj|may|jun|jul|aug|sep|okt|oct|nov|dec)[a-zé]*\\.?';
  const CLOCK = '(?:,?\\s*(?:kl\\.?|at)?\\s*\\d{1,2}[:.]\\d{2})?';
  const TIME_RE = new RegExp(
    '^(?:[·•|–-]\\s*)?(?:' +
      [
        '\\d{1,3}\\s?(?:s|sek|m|min|h|t|tim|d|v|w|mån|år|y)',
        '(?:för\\s+)?\\d{1,3}\\s+(?:sekund|sekunder|minut|minuter|timme|timmar|dag|dagar|vecka|veckor|månad|månader|år|seconds?|minutes?|hours?|days?|weeks?|months?|years?)(?:\\s+(?:sedan|ago))?',
        '(?:igår|i går|idag|i dag|yesterday|today)' + CLOCK,
        '\\d{1,2}\\s+' + MONTH + '(?:\\s+\\d{4})?' + CLOCK,
        MONTH + '\\s+\\d{1,2}(?:,?\\s+\\d{4})?' + CLOCK,
        '\\d{4}-\\d{2}-\\d{2}(?:[ T]\\d{2}:\\d{2})?',
        'kl\\.?\\s*\\d{1,2}[:.]\\d{2}',
      ].join('|') +
      ')(?:\\s*·?\\s*\\(?(?:redigerad|ändrad|edited)\\)?)?$',
    'iu',
  );
  // The start of a reply's own text naming whom it answers; the group is the name.
  const REPLY_RE = /^(?:[Ss]var till|[Ss]varar|[Ss]om svar på|[Ss]var på|[Ii] svar till|[Rr]eplying to|[Ii]n reply to|[Rr]eply to)\s+@?([\p{L}\p{N}_.-]+(?: [\p{Lu}][\p{L}-]+)?)(?:[:,.]|\s|$)/u;
  // Controls and counts, never an author: "Gilla · 2", "3 dolda svar", "Visa alla 12".
  const ACTION_RE =
    /^(svara|gilla|dela|citera|rapportera|anmäl|redigera|ta bort|visa|dölj|läs|hämta|fortsätt|följ|reply|like|share|quote|report|edit|delete|show|view|hide|load|read|more|follow|\d+ )/iu;
  // Where no item is: navigation, sidebars, banners, forms, hidden parts.
  const OUTSIDE =
    'nav, aside, form, textarea, select, [contenteditable="true"], [role="navigation"], [role="complementary"], [role="search"], [role="banner"], [role="contentinfo"], [role="form"], [aria-hidden="true"], [inert]';
  const OWN_IGNORE = 'form, textarea, input, select, nav, script, style, noscript, svg';

  const flat = (s) => (s || '').replace(/\s+/g, ' ').trim();
  const before = (a, b) => !!(a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING);
  const outside = (el) => {
    if (el.closest(OUTSIDE)) return true;
    // A page's header and footer, not an article's.
    const hf = el.closest('header, footer');
    return !!(hf && !hf.closest('article, [role="article"]'));
  };
  const listy = (el) => el.tagName === 'LI' || ['listitem', 'comment', 'article'].includes(el.getAttribute('role'));

  // Time-like markers in `root`, innermost, in document order.
  const markers = (root) => {
    const found = new Set(root.querySelectorAll('time, [datetime], abbr[title]'));
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
      acceptNode: (n) => (n.nodeValue.length <= 60 && /\d|går|dag|today|yesterday/i.test(n.nodeValue) ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_REJECT),
    });
    let n;
    let budget = 100000;
    while ((n = walker.nextNode()) && budget-- > 0) {
      const el = n.parentElement;
      if (el && TIME_RE.test(flat(n.nodeValue)) && flat(el.textContent).length <= 60) found.add(el);
    }
    const list = [...found].filter((el) => !outside(el) && el.getClientRects().length > 0);
    const inner = list.filter((el) => !list.some((o) => o !== el && el.contains(o)));
    return inner.sort((a, b) => (a === b ? 0 : before(a, b) ? -1 : 1));
  };

  // The tag path from `top` down to `m`: blocks of one shape share it.
  const pathTo = (top, m) => {
    const p = [];
    for (let a = m; a && a !== top; a = a.parentElement) p.push(a.tagName);
    p.push(top.tagName);
    return p.join('<');
  };

  // `kinds`: element → kind, as the rules found them (the structural items
  // are added to it). `ruleTime(post)`: the post's own time by the rules.
  B.structEls = new Set();
  B.structure = (kinds, mode, ruleTime) => {
    const out = { parent: new Map(), time: new Map(), author: new Map() };
    if (mode === 'off') return out;
    // Blocks a virtualized feed dropped are not held on to.
    for (const e of B.structEls) if (!e.isConnected) B.structEls.delete(e);
    const ruleItemOf = (node) => {
      for (let e = node.parentElement; e; e = e.parentElement) if (kinds.has(e)) return e;
      return null;
    };
    const posts = [...kinds].filter(([e, k]) => k === 'post' && e.isConnected && !ruleItemOf(e)).map(([e]) => e);
    const hasRuleComments = (root) => [...kinds.keys()].some((e) => e !== root && (!root || root.contains(e)) && e.isConnected && kinds.get(e) !== 'post');
    // Each post, and (always, or with no posts) the main content around them:
    // a blog's comment section follows its article.
    const main = document.querySelector('main, [role="main"]') || document.body;
    let scopes = posts.filter((p) => mode === 'always' || !hasRuleComments(p));
    if (main && (mode === 'always' || (!posts.length && !hasRuleComments(null)))) scopes.push(main);
    const postBefore = (el) => {
      let last = null;
      for (const p of posts) if (before(p, el) && !p.contains(el)) last = p;
      return last;
    };

    // Candidates: { S: scope, el: block, m: its marker, shape }.
    const cands = [];
    for (const S of scopes) {
      const ms = markers(S);
      const firstIn = new Map();
      for (const m of ms) for (let a = m; a && a !== S; a = a.parentElement) if (!firstIn.has(a)) firstIn.set(a, m);
      // The shape of each element that holds a marker, once per scope.
      const shapes = new Map();
      const shapeOf = (c) => {
        if (!shapes.has(c)) shapes.set(c, pathTo(c, firstIn.get(c)));
        return shapes.get(c);
      };
      // The post's own time is not a comment's.
      let postMark = null;
      if (kinds.get(S) === 'post') {
        const t = ruleTime(S);
        postMark = (t && ms.find((m) => m === t || t.contains(m) || m.contains(t))) || ms[0] || null;
      }
      for (const m of ms) {
        if (m === postMark) continue;
        const inRule = ruleItemOf(m);
        if (inRule && inRule !== S) continue;
        let best = null;
        let k = m;
        for (let a = m.parentElement; a && a !== S; k = a, a = a.parentElement) {
          if (firstIn.get(a) !== m || kinds.has(a)) break;
          const shape = shapeOf(k);
          if ([...a.children].some((c) => c !== k && firstIn.has(c) && shapeOf(c) === shape)) break;
          best = a;
          if (listy(a)) break;
        }
        if (!best) continue;
        // A wrapper around one block is that block.
        while (!listy(best)) {
          const kids = [...best.children].filter((c) => c.contains(m));
          const only = kids.length === 1 && best.children.length === 1 ? kids[0] : null;
          if (!only || flat(only.textContent) !== flat(best.textContent)) break;
          best = only;
        }
        cands.push({ S, el: best, m, shape: best.tagName + ':' + pathTo(best, m) });
      }
    }
    const seenShapes = new Map();
    for (const c of cands) seenShapes.set(c.shape, (seenShapes.get(c.shape) || 0) + 1);
    const blocks = new Map();
    for (const c of cands) if (!blocks.has(c.el) && (seenShapes.get(c.shape) > 1 || listy(c.el))) blocks.set(c.el, c);

    const blockOf = (node) => {
      for (let e = node.parentElement; e; e = e.parentElement) {
        if (blocks.has(e)) return e;
        if (kinds.has(e)) return null;
      }
      return null;
    };
    // Own elements: not inside a nested block.
    const ownEls = (el, sel) => [...el.querySelectorAll(sel)].filter((x) => blockOf(x) === el && !x.closest(OWN_IGNORE));
    // The author: a link, strong, cite or heading of short text, else a bold
    // text of its own (a styled span); before the time where there is one.
    const authorOf = (c) => {
      const fits = (x) => {
        const t = flat(x.innerText || x.textContent);
        if (t.length < 2 || t.length > 60 || x.contains(c.m) || c.m.contains(x) || TIME_RE.test(t) || ACTION_RE.test(t) || REPLY_RE.test(t)) return false;
        return !x.closest('button, [role="button"]');
      };
      const named = ownEls(c.el, '[rel="author"], [itemprop="author"], a, strong, b, cite, h2, h3, h4, h5, h6').filter(fits);
      // The byline comes before the time; links after it are the item's own.
      const early = (x) => before(x, c.m);
      if (named.some(early)) return named.find(early);
      const bold = ownEls(c.el, '*').filter((x) => x.children.length === 0 && fits(x) && Number(getComputedStyle(x).fontWeight) >= 600);
      return bold.find(early) || named[0] || bold[0] || null;
    };
    const ownText = (el) => {
      const clone = el.cloneNode(true);
      const orig = [...el.querySelectorAll('*')];
      const copy = [...clone.querySelectorAll('*')];
      for (let i = copy.length - 1; i >= 0; i--) {
        const o = orig[i];
        if (blocks.has(o) || o.matches(OWN_IGNORE + ', button, [role="button"]')) copy[i].remove();
      }
      return flat(clone.textContent);
    };
    const accepted = [];
    for (const [el, c] of blocks) {
      if (kinds.has(el) || el.contains(c.S) || [...kinds.keys()].some((k) => k !== c.S && (el.contains(k) || k.contains(el)))) continue;
      const author = authorOf(c);
      if (!author && !listy(el)) continue;
      let rest = ownText(el);
      for (const s of [flat(author ? author.textContent : ''), flat(c.m.textContent)]) if (s) rest = rest.replace(s, '');
      if ((rest.match(/\p{L}/gu) || []).length < 2) continue;
      c.author = author;
      accepted.push(c);
    }
    const ok = new Set(accepted.map((c) => c.el));
    for (const el of [...blocks.keys()]) if (!ok.has(el)) blocks.delete(el);

    // Kinds and parents: nested blocks, then indentation and reply markers
    // among blocks side by side.
    const groups = new Map();
    for (const c of accepted) {
      const up = blockOf(c.el);
      c.parent = up || (kinds.get(c.S) === 'post' ? c.S : postBefore(c.el));
      c.kind = up ? 'reply' : 'comment';
      if (!up) {
        const key = c.parent || c.S;
        if (!groups.has(key)) groups.set(key, []);
        groups.get(key).push(c);
      }
    }
    const left = (c) => (c.author || c.el).getBoundingClientRect().left;
    const norm = (s) => flat(s).toLowerCase().replace(/^@/, '');
    // A block's own handles ("@annalind"), not those it answers.
    const handles = (p) =>
      ownEls(p.el, '*')
        .filter((e) => /^@\S+$/.test(flat(e.textContent)) && !REPLY_RE.test(flat(e.parentElement.textContent)))
        .map((e) => norm(e.textContent));
    for (const group of groups.values()) {
      group.sort((a, b) => (a.el === b.el ? 0 : before(a.el, b.el) ? -1 : 1));
      const stack = [];
      const seen = [];
      for (const c of group) {
        const x = left(c);
        while (stack.length && left(stack[stack.length - 1]) > x - 16) stack.pop();
        let to = stack.length ? stack[stack.length - 1] : null;
        const mark = ownEls(c.el, '*')
          .map((e) => flat(e.innerText || e.textContent))
          .find((t) => REPLY_RE.test(t));
        // "Svar till @namn": the latest block by that name; one naming
        // nobody above (the post's author) leaves the block as it stands.
        if (mark) {
          const name = norm(REPLY_RE.exec(mark)[1]).replace(/\.+$/, '');
          const named = [...seen].reverse().find((p) => {
            const a = norm(p.author ? p.author.textContent : '');
            return (a.length > 2 && (a === name || a.includes(name) || name.includes(a))) || handles(p).includes(name);
          });
          if (named) to = named;
        }
        if (to) {
          c.kind = 'reply';
          c.parent = to.el;
        }
        stack.push(c);
        seen.push(c);
      }
    }
    // Parents before their replies, as the page shows them.
    accepted.sort((a, b) => (a.el === b.el ? 0 : before(a.el, b.el) ? -1 : 1));
    for (const c of accepted) {
      kinds.set(c.el, c.kind);
      out.parent.set(c.el, c.parent);
      out.time.set(c.el, c.m);
      out.author.set(c.el, c.author);
      B.structEls.add(c.el);
    }
    out.ignore = OWN_IGNORE;
    return out;
  };
  return 'installed';
})();
