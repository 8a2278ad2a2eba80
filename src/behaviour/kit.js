// Bevara's in-page behaviour kit. Installed once per document; the Rust side
// calls its functions with a configuration (patterns as regular-expression
// sources) and reads back plain JSON. It relies on roles, visible text, ARIA
// labels and observed DOM changes, never on a site's class names.
(() => {
  if (window.__bevara) return 'present';
  const B = (window.__bevara = {
    mutations: 0,
    lastMutation: performance.now(),
    guard: false,
    clicks: new WeakMap(),
    hidden: [],
  });

  const seen = (records) => {
    if (!records.length) return;
    B.mutations += records.length;
    B.lastMutation = performance.now();
  };
  const observer = new MutationObserver(seen);
  observer.observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
  // What was found in an unchanged DOM holds until it changes: dismissing,
  // menus and expanding look at the same controls in one turn, and on a
  // large page finding them (styles, text) costs more than anything else
  // the turn does. Pending records count at once, so a click's own changes
  // are never missed.
  const current = () => {
    seen(observer.takeRecords());
    return B.mutations;
  };
  let controls = { at: -1, root: null, list: [] };
  let labels = { at: -1, map: new Map() };

  // While Bevara clicks, a click on a link that would leave the page is
  // cancelled: expanders are followed, links are not.
  const leavesPage = (a) => {
    const href = a.getAttribute('href');
    if (href === null) return false;
    const h = href.trim();
    if (h === '' || h.startsWith('#') || /^javascript:/i.test(h)) return false;
    if ((a.getAttribute('target') || '').toLowerCase() === '_blank') return true;
    try {
      const u = new URL(h, document.baseURI);
      const here = new URL(location.href);
      u.hash = '';
      here.hash = '';
      return u.href !== here.href;
    } catch (e) {
      return true;
    }
  };
  document.addEventListener(
    'click',
    (e) => {
      if (!B.guard) return;
      const a = e.target && e.target.closest ? e.target.closest('a[href]') : null;
      if (a && leavesPage(a)) e.preventDefault();
    },
    true,
  );

  // Nor does a click submit a form: the page's own submit handlers still
  // run (a form that loads more by script keeps working), the browser's
  // navigation does not. The navigation gate stops the rest.
  document.addEventListener(
    'submit',
    (e) => {
      if (B.guard) e.preventDefault();
    },
    true,
  );

  const norm = (s) =>
    (s || '')
      .replace(/\.\.\./g, '…')
      .replace(/\s+/g, ' ')
      .trim()
      .toLowerCase()
      .replace(/^[^\p{L}\p{N}…]+|[^\p{L}\p{N})…]+$/gu, '');

  const compile = (list) => (list || []).map((p) => new RegExp(p, 'iu'));
  const matches = (res, text) => text.length > 0 && res.some((r) => r.test(text));

  const style = (el) => getComputedStyle(el);
  const visible = (el) => {
    if (!el.isConnected) return false;
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) return false;
    const s = style(el);
    if (s.visibility === 'hidden' || s.display === 'none' || Number(s.opacity) === 0) return false;
    if (el.closest('[aria-hidden="true"], [inert]')) return false;
    return true;
  };
  const disabled = (el) => el.disabled === true || el.getAttribute('aria-disabled') === 'true';

  const CLICKABLE =
    'button, [role="button"], a, [role="link"], [role="menuitem"], [role="tab"], summary, input[type="button"], input[type="submit"], [tabindex], [onclick]';
  const isClickable = (el) =>
    el.matches(CLICKABLE) || (el instanceof HTMLElement && style(el).cursor === 'pointer');

  const label = (el) => {
    const at = current();
    if (labels.at !== at) labels = { at, map: new Map() };
    let l = labels.map.get(el);
    if (l === undefined) labels.map.set(el, (l = labelNow(el)));
    return l;
  };
  const labelNow = (el) => {
    const aria = el.getAttribute('aria-label');
    if (el.tagName === 'INPUT') return norm(el.value || aria);
    const text = norm(el.innerText || el.textContent || '');
    if (text) return text;
    if (aria || el.getAttribute('title')) return norm(aria || el.getAttribute('title'));
    // An icon button is named by its icon's label.
    const inner = el.querySelector('[aria-label], [title], img[alt]');
    return inner ? norm(inner.getAttribute('aria-label') || inner.getAttribute('title') || inner.getAttribute('alt')) : '';
  };

  // Candidates: semantic controls, plus the nearest clickable ancestor of
  // short text nodes (platforms often use plain spans with click handlers).
  const candidates = (root) => {
    const at = current();
    if (controls.at !== at || controls.root !== root) controls = { at, root, list: candidatesNow(root) };
    return controls.list;
  };
  const candidatesNow = (root) => {
    const out = new Set();
    for (const el of root.querySelectorAll(CLICKABLE)) {
      if ((el.textContent || '').length <= 120 || el.getAttribute('aria-label')) out.add(el);
    }
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
      acceptNode: (n) => {
        const t = n.nodeValue;
        return t && t.length < 60 && /\S/.test(t) ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_REJECT;
      },
    });
    let n;
    let budget = 200000;
    while ((n = walker.nextNode()) && budget-- > 0) {
      let el = n.parentElement;
      for (let i = 0; el && i < 4; i++, el = el.parentElement) {
        if ((el.textContent || '').length > 120) break;
        if (isClickable(el)) {
          out.add(el);
          break;
        }
      }
    }
    return [...out];
  };

  // Of nested matches (a button around a span), keep the innermost: a click
  // there reaches the outer handler too, and two clicks would toggle back.
  const innermost = (els) => els.filter((el) => !els.some((o) => o !== el && el.contains(o)));

  // While a post is open in a dialog (B.root), expanding, menus and
  // scrolling stay inside it; the page behind is left as it is.
  B.root = null;
  const inRoot = () => !!(B.root && B.root.isConnected);
  const scope = () => (inRoot() ? B.root : document.body || document.documentElement);
  const nearRoot = (el) => !!(B.root && el && (el.contains(B.root) || B.root.contains(el)));

  const dialogLike = (el) => {
    for (let e = el; e && e !== document.body && e !== document.documentElement; e = e.parentElement) {
      const role = e.getAttribute('role');
      if (role === 'dialog' || role === 'alertdialog' || e.getAttribute('aria-modal') === 'true' || e.tagName === 'DIALOG')
        return e;
      const pos = style(e).position;
      if (pos === 'fixed' || pos === 'sticky') return e;
    }
    return null;
  };

  // `guard`: a link that would leave the page is not followed.
  const click = (el, guard = true) => {
    B.guard = guard;
    try {
      const r = el.getBoundingClientRect();
      const opts = { bubbles: true, cancelable: true, view: window, clientX: r.left + r.width / 2, clientY: r.top + r.height / 2, button: 0 };
      try {
        el.dispatchEvent(new PointerEvent('pointerdown', { ...opts, pointerType: 'mouse', isPrimary: true }));
        el.dispatchEvent(new MouseEvent('mousedown', opts));
        el.dispatchEvent(new PointerEvent('pointerup', { ...opts, pointerType: 'mouse', isPrimary: true }));
        el.dispatchEvent(new MouseEvent('mouseup', opts));
      } catch (e) {}
      if (typeof el.click === 'function') el.click();
      else el.dispatchEvent(new MouseEvent('click', opts));
    } finally {
      B.guard = false;
    }
  };

  const scrollLocked = () => {
    const h = style(document.documentElement).overflowY;
    const b = document.body ? style(document.body).overflowY : '';
    return h === 'hidden' || b === 'hidden';
  };

  // Dismisses consent dialogs (accepting) and login nags (closing, or removing
  // them when they have no close control). Returns what it did.
  B.dismiss = (cfg) => {
    const consent = compile(cfg.consent_buttons);
    const consentContext = compile(cfg.consent_context);
    const nagContext = compile(cfg.nag_context);
    const close = compile(cfg.close_buttons);
    const done = [];
    const found = candidates(document.body || document.documentElement).filter((el) => {
      const t = label(el);
      const named = matches(consent, t) || matches(close, t) || matches(close, norm(el.getAttribute('aria-label')));
      return named && visible(el) && !disabled(el);
    });
    for (const el of innermost(found)) {
      if (!el.isConnected || !visible(el)) continue;
      const text = label(el);
      const box = dialogLike(el);
      if (!box || nearRoot(box)) continue;
      const boxText = (box.innerText || '').slice(0, 5000);
      if (matches(consent, text) && matches(consentContext, boxText)) {
        click(el);
        done.push({ kind: 'consent', label: text });
      } else if (matches(close, text) || matches(close, norm(el.getAttribute('aria-label')))) {
        if (matches(nagContext, boxText)) {
          click(el);
          done.push({ kind: 'login-nag', label: text || norm(el.getAttribute('aria-label')) });
        }
      }
    }
    return done;
  };

  // Removes blocking login overlays that could not be closed, and unlocks
  // page scrolling that a dismissed dialog left locked.
  B.unblock = (cfg) => {
    const nagContext = compile(cfg.nag_context);
    const close = compile(cfg.close_buttons);
    const done = [];
    const vw = innerWidth;
    const vh = innerHeight;
    // An overlay covering half the viewport is at least half its width and
    // half its height, so it lies under one of these nine points: looking
    // there and at what holds them spares a style lookup of every element.
    const under = new Set();
    for (const fx of [0.25, 0.5, 0.75])
      for (const fy of [0.25, 0.5, 0.75])
        for (let e of document.elementsFromPoint(fx * vw, fy * vh))
          for (; e && e !== document.body && e !== document.documentElement && !under.has(e); e = e.parentElement) under.add(e);
    for (const el of under) {
      if (!el.isConnected || !visible(el) || nearRoot(el)) continue;
      const s = style(el);
      if (s.position !== 'fixed') continue;
      const r = el.getBoundingClientRect();
      const covers = (Math.min(r.right, vw) - Math.max(r.left, 0)) * (Math.min(r.bottom, vh) - Math.max(r.top, 0)) >= 0.5 * vw * vh;
      if (!covers) continue;
      const text = (el.innerText || '').slice(0, 3000);
      if (matches(nagContext, text) && text.length < 1500) {
        // A nag that came up after the dismissal looked is closed the way a
        // person would, so the page knows it is gone; only one without a
        // close control is taken out.
        const closer = innermost(
          candidates(el).filter((c) => (matches(close, label(c)) || matches(close, norm(c.getAttribute('aria-label')))) && visible(c)),
        )[0];
        if (closer) {
          click(closer);
          done.push({ kind: 'login-nag', label: label(closer) || norm(closer.getAttribute('aria-label')) });
          continue;
        }
        el.remove();
        done.push({ kind: 'removed-overlay', label: norm(text).slice(0, 80) });
      }
    }
    if (scrollLocked()) {
      const blocking = [...document.querySelectorAll('[role="dialog"], [aria-modal="true"], dialog[open]')].some(visible);
      if (!blocking && document.documentElement.scrollHeight > innerHeight + 4) {
        document.documentElement.style.setProperty('overflow', 'auto', 'important');
        if (document.body) document.body.style.setProperty('overflow', 'auto', 'important');
        done.push({ kind: 'unlocked-scroll', label: '' });
      }
    }
    return done;
  };

  // ---- Expanders found by meaning. A widget no profile names still says
  // what its controls do: a count ("3 dolda svar", "Visa alla 12"), the
  // known words with a trailing ellipsis ("Visa fler kommentarer…"), or a
  // place where a thread goes on. Only same-page controls in or near a
  // comment area count. A kind of control (its label, digits folded) is tried
  // once by itself; it is clicked again only if that click added content.
  const HEADINGS = 'h1, h2, h3, h4, h5, h6, [role="heading"]';
  const NOT_CONTENT = 'nav, [role="navigation"], [role="banner"], [role="contentinfo"], [role="menu"], [role="menubar"], [role="toolbar"]';
  const attrText = (e) => [e.id, e.getAttribute('class'), e.getAttribute('aria-label')].filter(Boolean).join(' ');
  // A block's shape: its tag and first class (siblings of a list differ in
  // the rest, "even"/"odd").
  const shape = (e) => e.tagName + '.' + ((e.getAttribute('class') || '').trim().split(/\s+/)[0] || '');
  const wordy = (e) => (e.textContent || '').trim().length >= 15;
  // Three or more element children of one shape, each with text and parts
  // of its own: the blocks of a comment list.
  const repeated = (e) => {
    const counts = new Map();
    for (const c of e.children) {
      if (!/^(DIV|LI|ARTICLE|SECTION)$/.test(c.tagName) || c.childElementCount < 2 || !wordy(c)) continue;
      const n = (counts.get(shape(c)) || 0) + 1;
      if (n >= 3) return true;
      counts.set(shape(c), n);
    }
    return false;
  };
  // An element that says it holds comments: its id, class or ARIA label, or
  // a heading of its own (among its first children, or just before it).
  const namedArea = (e, areaRes) => {
    if (matches(areaRes, attrText(e))) return true;
    for (let c = e.firstElementChild, i = 0; c && i < 3; c = c.nextElementSibling, i++)
      if (c.matches(HEADINGS) && matches(areaRes, norm(c.textContent))) return true;
    const prev = e.previousElementSibling;
    return !!(prev && prev.matches(HEADINGS) && matches(areaRes, norm(prev.textContent)));
  };
  // The comment area a control is in, or just after (a load-more button below
  // the list): a named area or a repeated block structure.
  const areaNear = (el, areaRes, cache) => {
    const test = (e) => {
      if (!cache.has(e)) cache.set(e, !e.matches(NOT_CONTENT) && (namedArea(e, areaRes) || repeated(e)));
      return cache.get(e);
    };
    if (el.closest(NOT_CONTENT)) return null;
    for (let x = el, i = 0; x && i < 3; x = x.parentElement, i++)
      for (let p = x.previousElementSibling, j = 0; p && j < 3; p = p.previousElementSibling, j++) if (test(p)) return p;
    for (let e = el.parentElement, i = 0; e && e !== document.body && i < 15; e = e.parentElement, i++) if (test(e)) return e;
    return null;
  };
  // The control ends a run of same-shaped blocks (the thread so far).
  const continuesThread = (el) => {
    for (let x = el, i = 0; x && i < 3; x = x.parentElement, i++) {
      const p1 = x.previousElementSibling;
      const p2 = p1 && p1.previousElementSibling;
      if (!p1 || !p2 || shape(p1) !== shape(p2) || !wordy(p1) || !wordy(p2)) continue;
      const next = x.nextElementSibling;
      return !next || shape(next) !== shape(p1);
    }
    return false;
  };
  // Same-page controls only: no form parts, menus or toggles (like buttons).
  const sameControl = (el) => {
    if (!el.matches('button, [role="button"], input[type="button"], summary, a[href]')) return false;
    if (el.matches('a[href]') && leavesPage(el)) return false;
    if (el.closest('form') || el.matches('[type="submit"]')) return false;
    return !el.hasAttribute('aria-haspopup') && !el.hasAttribute('aria-pressed');
  };
  const unellipsed = (t) => t.replace(/[\s…]+$/u, '');
  // Why a control is an expander by meaning, as its kind; null if it is not.
  const byMeaning = (el, text, m) => {
    if (!text || text.length > 60 || matches(m.not, text) || !sameControl(el)) return null;
    const area = areaNear(el, m.areas, m.cache);
    if (!area) return null;
    const bare = unellipsed(text);
    const counted = /\d/.test(text) && matches(m.counts, text);
    const known = bare !== text && matches(m.known, bare);
    const continues = text.length <= 30 && /\p{L}{2}/u.test(text) && continuesThread(el);
    return counted || known || continues ? { kind: text.replace(/\d+/g, '#'), area } : null;
  };
  // What a click may have added to: the comment area, or the page.
  const measure = (area) => {
    const m = (e) => ({ text: (e.textContent || '').length, height: e.getBoundingClientRect().height });
    return { area, inArea: m(area), page: m(document.body || document.documentElement) };
  };
  const grew = (before) => {
    const d = (a, b) => b.text - a.text >= 10 || b.height - a.height >= 10;
    if (before.area.isConnected) return d(before.inArea, measure(before.area).inArea);
    const root = document.body || document.documentElement;
    return d(before.page, { text: (root.textContent || '').length, height: root.getBoundingClientRect().height });
  };
  // Kinds tried: kind → { tries, at, good }. Clicks waiting for their effect.
  B.kinds = new Map();
  B.watch = [];
  B.grewBy = new WeakMap();
  // Clicks in a row that added nothing, per control.
  B.misses = new WeakMap();
  const review = () => {
    for (const w of B.watch) {
      const g = grew(w.before);
      B.grewBy.set(w.el, g);
      B.misses.set(w.el, g ? 0 : (B.misses.get(w.el) || 0) + 1);
      if (!w.kind) continue;
      if (w.trial) B.kinds.set(w.kind, { ...B.kinds.get(w.kind), good: g });
      else if (g && B.kinds.get(w.kind)) B.kinds.get(w.kind).good = true;
    }
    B.watch = [];
  };

  // Clicks every visible expander, near the viewport or (sweep) anywhere.
  // An element is clicked again only after `reclick_ms` and at most
  // `max_per_element` times, so toggles and dead buttons cannot loop forever.
  // `everywhere`: the whole page in one round without scrolling to each
  // control, so expanders below and above the viewport open in parallel
  // instead of one viewport per round.
  B.expand = (cfg, sweep, limit, everywhere = false) => {
    B.cfg = cfg;
    review();
    const res = compile(cfg.expanders);
    const never = compile(cfg.never_click);
    const repeatable = compile(cfg.repeatable);
    const m = cfg.expand_by_meaning
      ? { areas: compile(cfg.comment_areas), counts: compile(cfg.count_expanders), not: compile(cfg.not_expanders), known: res, cache: new Map() }
      : null;
    const now = performance.now();
    const clicked = [];
    const top = -0.5 * innerHeight;
    const bottom = 1.5 * innerHeight;
    const bySelector = new Set();
    for (const sel of cfg.expander_selectors || []) {
      try {
        for (const el of scope().querySelectorAll(sel))
          bySelector.add(el.closest('button, [role="button"], a[href], [role="link"], summary') || el);
      } catch (e) {}
    }
    const meant = new Map();
    const found = [...new Set([...candidates(scope()), ...bySelector])].filter((el) => {
      if (!visible(el) || disabled(el)) return false;
      // Already open: clicking again would close it.
      if (el.getAttribute('aria-expanded') === 'true') return false;
      const text = label(el);
      const raw = (el.innerText || el.textContent || '').replace(/\s+/g, ' ').trim().toLowerCase();
      if (matches(never, text) || matches(never, raw)) return false;
      const a = el.closest('a[href]');
      if (a && leavesPage(a)) return false;
      if (bySelector.has(el) || matches(res, text)) return true;
      const why = m && byMeaning(el, text, m);
      if (why) meant.set(el, why);
      return !!why;
    });
    let trial = null;
    for (const el of innermost(found)) {
      if (clicked.length >= limit) break;
      if (!el.isConnected) continue;
      const text = label(el);
      const r = el.getBoundingClientRect();
      if (!sweep && !everywhere && (r.bottom < top || r.top > bottom)) continue;
      const seen = B.clicks.get(el) || { n: 0, at: -1e9 };
      if (seen.n >= cfg.max_per_element || now - seen.at < cfg.reclick_ms) continue;
      const why = meant.get(el);
      // Only "load more" controls are clicked again; a second click on any
      // other control ("7 kommentarer", "Visa mer") would close what it opened.
      if (seen.n >= 1 && !matches(repeatable, why ? unellipsed(text) : text)) continue;
      if (why) {
        // Found by meaning: again only if its last click added content; of
        // its kind only once one of them did, else one try at a time.
        if (seen.n >= 1 && !B.grewBy.get(el)) continue;
        const kind = B.kinds.get(why.kind);
        if (!(kind && kind.good)) {
          const mayTry = !kind || (kind.tries < 2 && now - kind.at > 3000);
          if (mayTry && !trial) trial = { el, text, why };
          continue;
        }
        B.watch.push({ el, kind: why.kind, before: measure(why.area) });
      } else {
        // A listed "load more" that added nothing twice in a row is dead
        // (or only navigates, which is stopped): no more clicks on it.
        if ((B.misses.get(el) || 0) >= 2) continue;
        const area = el.closest('section, article, [role="feed"], [role="main"], main') || document.body || document.documentElement;
        B.watch.push({ el, kind: null, before: measure(area) });
      }
      if (sweep) el.scrollIntoView({ block: 'center', behavior: 'instant' });
      B.clicks.set(el, { n: seen.n + 1, at: now });
      click(el);
      clicked.push(text);
    }
    // A try is the only click of its round, so what it adds is its own.
    if (trial && clicked.length === 0 && limit > 0) {
      const { el, text, why } = trial;
      const kind = B.kinds.get(why.kind);
      B.kinds.set(why.kind, { tries: (kind ? kind.tries : 0) + 1, at: now, good: false });
      if (sweep) el.scrollIntoView({ block: 'center', behavior: 'instant' });
      B.watch.push({ el, kind: why.kind, trial: true, before: measure(why.area) });
      const seen = B.clicks.get(el) || { n: 0, at: -1e9 };
      B.clicks.set(el, { n: seen.n + 1, at: now });
      click(el);
      clicked.push(text);
    }
    return clicked;
  };

  // Further pages of this page's comments: links the profile's selector
  // names, plus links that say so by their text ("Äldre kommentarer") or,
  // inside a comment area, by a page link's text ("Nästa", "»", "2") or a
  // comment-page URL shape, to this same page's address.
  B.commentPages = (selector, fallback) => {
    const cfg = B.cfg && B.cfg.comment_page_texts ? B.cfg : fallback;
    const areas = compile(cfg.comment_areas);
    const strong = compile(cfg.comment_page_texts);
    const weak = compile(cfg.page_link_texts);
    const shapes = compile(cfg.comment_page_urls);
    const out = [];
    const add = (a) => {
      const h = a.href;
      if (typeof h === 'string' && /^https?:/i.test(h) && !out.includes(h)) out.push(h);
    };
    if (selector) {
      try {
        for (const a of document.querySelectorAll(selector)) add(a);
      } catch (e) {}
    }
    const here = new URL(location.href);
    // The page's own address without its comment-page part.
    const base = (u) => {
      let s = u.origin + u.pathname + u.search;
      for (const re of shapes) s = s.replace(re, '');
      return s.replace(/[?&]$/, '').replace(/\/(index\.html?)?$/, '');
    };
    const hereBase = base(here);
    const cache = new Map();
    const inArea = (a) => {
      for (let e = a.parentElement; e && e !== document.body; e = e.parentElement) {
        if (!cache.has(e)) cache.set(e, namedArea(e, areas));
        if (cache.get(e)) return true;
      }
      return false;
    };
    for (const a of document.querySelectorAll('a[href]')) {
      let u;
      try {
        u = new URL(a.href);
      } catch (e) {
        continue;
      }
      if (u.origin !== here.origin || !/^https?:$/.test(u.protocol)) continue;
      if (u.href.split('#')[0] === here.href.split('#')[0]) continue;
      const same = base(u) === hereBase;
      const text = label(a);
      const raw = (a.textContent || '').trim();
      const where = u.pathname + u.search;
      if (matches(strong, text) && (same || inArea(a))) add(a);
      else if (same && shapes.some((re) => re.test(where)) && (/comment|cpage/i.test(where) || inArea(a))) add(a);
      else if (same && (matches(weak, text) || matches(weak, raw)) && inArea(a)) add(a);
    }
    return out;
  };

  // Loading indicators: content is still on its way while one shows.
  // Requests the page's scripts have in flight (fetch and XMLHttpRequest):
  // content a click asked for is on its way until they are answered. Only
  // requests started just before or during a wait count (a long poll the
  // page keeps open does not), and one that hangs counts for at most
  // `inflightMaxMs`, so it cannot hold a wait.
  B.inflight = new Map();
  B.lastRequestEnd = -1e9;
  let requestSeq = 0;
  const inflightMaxMs = 4000;
  const track = () => {
    const id = ++requestSeq;
    B.inflight.set(id, performance.now());
    return () => {
      B.inflight.delete(id);
      B.lastRequestEnd = performance.now();
      B.lastMutation = Math.max(B.lastMutation, performance.now() - 1);
    };
  };
  const waiting = (since) => {
    const now = performance.now();
    let n = 0;
    for (const [id, at] of B.inflight) {
      if (now - at > inflightMaxMs) B.inflight.delete(id);
      else if (at >= since) n++;
    }
    return n > 0;
  };
  if (typeof window.fetch === 'function') {
    const pageFetch = window.fetch;
    window.fetch = function (...args) {
      const done = track();
      try {
        const p = pageFetch.apply(this, args);
        p.then(done, done);
        return p;
      } catch (e) {
        done();
        throw e;
      }
    };
  }
  if (window.XMLHttpRequest) {
    const send = XMLHttpRequest.prototype.send;
    XMLHttpRequest.prototype.send = function (...args) {
      const done = track();
      this.addEventListener('loadend', done, { once: true });
      try {
        return send.apply(this, args);
      } catch (e) {
        done();
        throw e;
      }
    };
  }

  const busy = (since = performance.now() - 1000) =>
    waiting(since) ||
    [...document.querySelectorAll('[role="progressbar"], [aria-busy="true"]')].some((el) => {
      const r = el.getBoundingClientRect();
      return r.width > 0 && r.height > 0 && style(el).visibility !== 'hidden';
    });

  // Sets menus such as the comment order: opens the control whose label
  // matches `open`, then clicks the menu item matching `choose`.
  B.menus = async (cfg) => {
    const done = [];
    for (const m of cfg.menu_choices || []) {
      const open = new RegExp(m.open, 'iu');
      const choose = new RegExp(m.choose, 'iu');
      const openers = innermost(candidates(scope()).filter((el) => open.test(label(el)) && visible(el)));
      for (const el of openers.slice(0, 20)) {
        if (B.clicks.has(el)) continue;
        B.clicks.set(el, { n: 1, at: performance.now() });
        el.scrollIntoView({ block: 'center', behavior: 'instant' });
        click(el);
        let item = null;
        // Menu roles first; plain buttons only where the menu has none. Other
        // menus' openers (aria-haspopup) are never the choice.
        const pick = (sel) =>
          innermost(
            [...document.querySelectorAll(sel)].filter(
              (o) => o !== el && !o.hasAttribute('aria-haspopup') && visible(o) && choose.test(label(o)),
            ),
          )[0];
        for (let i = 0; i < 25 && !item; i++) {
          await new Promise((r) => setTimeout(r, 80));
          item =
            pick('[role="menuitem"], [role="menuitemradio"], [role="option"], [role="radio"]') ||
            pick('li, button, [role="button"]');
        }
        if (item) {
          click(item);
          done.push(((item.innerText || item.textContent || '').split('\n')[0] || '').trim().toLowerCase());
          await new Promise((r) => setTimeout(r, 150));
        }
      }
    }
    return done;
  };

  // Removes overlays a profile names outright.
  B.remove = (cfg) => {
    let n = 0;
    for (const sel of cfg.remove_selectors || []) {
      try {
        for (const el of document.querySelectorAll(sel)) {
          el.remove();
          n++;
        }
      } catch (e) {}
    }
    return n;
  };

  // Items: posts, comments and replies by the profile's rules. Only items
  // that are new or changed since the last call are returned, so calling
  // this at every scroll step stays cheap and virtualized feeds are
  // collected as they pass.
  B.sent = new WeakMap();
  B.items = (rules) => {
    const q = (root, sel) => {
      if (!sel) return [];
      try {
        return [...root.querySelectorAll(sel)];
      } catch (e) {
        return [];
      }
    };
    const kinds = new Map();
    for (const el of q(document, rules.post)) kinds.set(el, 'post');
    for (const el of q(document, rules.comment)) kinds.set(el, 'comment');
    for (const el of q(document, rules.reply)) kinds.set(el, 'reply');
    const itemOf = (node) => {
      for (let e = node.parentElement; e; e = e.parentElement) if (kinds.has(e)) return e;
      return null;
    };
    const own = (el, sel) => q(el, sel).filter((x) => !kinds.has(x) && itemOf(x) === el);
    // The first own match of the first selector in a list that has one: the
    // list is in order of preference.
    const first = (el, list) => {
      for (const part of (list || '').split(',')) {
        const hit = own(el, part.trim())[0];
        if (hit) return hit;
      }
      return null;
    };
    // Comments and replies by structure where the rules find none (or, for
    // the generic profile, besides them): structure.js.
    const found = B.structure(kinds, rules.structure || 'fallback', (post) => first(post, rules.time));
    const here = location.href.split('#')[0];
    // FNV-1a over a string, as 13 base-36 digits: a content key for items
    // without a platform id or permalink.
    const fnv = (str) => {
      let h = 0xcbf29ce484222325n;
      for (const c of new TextEncoder().encode(str)) h = BigInt.asUintN(64, (h ^ BigInt(c)) * 0x100000001b3n);
      return h.toString(36).padStart(13, '0');
    };
    const abs = (href) => {
      try {
        return new URL(href, document.baseURI).href;
      } catch (e) {
        return null;
      }
    };
    const authorRe = rules.author_label ? new RegExp(rules.author_label, 'iu') : null;
    // An id attribute counts only where its value is unique among the items
    // (a template's id="comment" on every comment is no id).
    const idCount = new Map();
    for (const el of kinds.keys())
      for (const a of rules.id_attributes || []) {
        const v = el.getAttribute(a);
        if (v) idCount.set(a + '=' + v, (idCount.get(a + '=' + v) || 0) + 1);
      }
    const out = [];
    for (const [el, kind0] of kinds) {
      // Not rendered (display: none) is not shown on the page.
      if (!el.isConnected || el.getClientRects().length === 0) continue;
      const byStructure = found.parent.has(el);
      const parentEl = byStructure ? found.parent.get(el) : itemOf(el);
      let kind = kind0;
      if (!byStructure) {
        if (parentEl && kind === 'post') kind = 'comment';
        if (parentEl && kind === 'comment' && kinds.get(parentEl) !== 'post' && itemOf(parentEl)) kind = 'reply';
        if (parentEl && kind === 'comment' && ['comment', 'reply'].includes(kinds.get(parentEl))) kind = 'reply';
      }
      // Text: the rule's parts, or the container's own text without nested
      // items and controls.
      let text = '';
      if (rules.text) {
        const parts = own(el, rules.text);
        text = parts
          .filter((x) => !parts.some((o) => o !== x && o.contains(x)))
          .map((x) => x.innerText || x.textContent || '')
          .join('\n');
      }
      if (!text.trim()) {
        const clone = el.cloneNode(true);
        const marks = q(el, '*');
        const cloneMarks = q(clone, '*');
        for (let i = cloneMarks.length - 1; i >= 0; i--) {
          const orig = marks[i];
          if ((kinds.has(orig) && orig !== el) || (rules.ignore && orig.matches(rules.ignore)) || (byStructure && orig.matches(found.ignore)))
            cloneMarks[i].remove();
        }
        text = clone.innerText || clone.textContent || '';
      }
      text = text.replace(/[ \t\u00a0]+/g, ' ').replace(/\s*\n\s*/g, '\n').trim();
      const links = own(el, 'a[href]');
      const perm = first(el, rules.permalink);
      let permalink = perm ? abs(perm.getAttribute('href')) : null;
      // A link to the page itself or to the parent item is not this item's own.
      // In an opened post's dialog the address is the post's own.
      if (permalink && ((permalink.split('#')[0] === here && !inRoot()) || (parentEl && permalink === parentEl.__bevaraKey))) permalink = null;
      let author = null;
      if (authorRe) {
        const m = authorRe.exec(el.getAttribute('aria-label') || '');
        if (m) author = m[1];
      }
      if (!author && found.author.get(el)) author = (found.author.get(el).innerText || '').trim().split('\n')[0] || null;
      if (!author) {
        const a = first(el, rules.author);
        if (a) author = (a.innerText || a.textContent || '').trim().split('\n')[0];
      }
      if (!author) {
        const line = (el.innerText || '').split('\n').map((l) => l.trim()).find((l) => l.length > 3 && l.length < 60);
        author = line || null;
      }
      const t = found.time.get(el) || first(el, rules.time);
      let shown = null;
      let datetime = null;
      if (t) {
        datetime = t.getAttribute('datetime') || null;
        shown = (t.innerText || t.textContent || t.getAttribute('title') || '').trim() || t.getAttribute('title');
        if (byStructure && shown) shown = shown.replace(/^[·•|–-]\s*/u, '');
      } else if (perm && /\d/.test(perm.innerText || '')) {
        shown = perm.innerText.trim();
      }
      let pid = null;
      for (const a of rules.id_attributes || []) {
        const v = el.getAttribute(a);
        if (v && v.length > 3 && !v.startsWith(':') && idCount.get(a + '=' + v) === 1) {
          pid = v;
          break;
        }
      }
      const item = {
        platform_id: pid,
        kind,
        parent_key: parentEl ? parentEl.__bevaraKey || null : null,
        author,
        shown_time: shown,
        datetime,
        text,
        permalink,
        links: [...new Set(links.map((a) => abs(a.getAttribute('href'))).filter((h) => h && h !== permalink && !h.endsWith('#')))].slice(0, 50),
        media: own(el, 'img[alt], video[aria-label], [role="img"][aria-label]')
          .map((m) => (m.getAttribute('alt') || m.getAttribute('aria-label') || '').trim())
          .filter((x) => x)
          .slice(0, 20),
      };
      // The item's id: the platform's id, else its permalink, else a hash of
      // kind, author, time and the start of the text (which a "see more"
      // does not change).
      if (!el.__bevaraKey) {
        el.__bevaraKey = pid || permalink || 'h-' + fnv([kind, author, shown, text.slice(0, 80)].join('|'));
      }
      item.key = el.__bevaraKey;
      const sig = JSON.stringify(item);
      if (B.sent.get(el) === sig) continue;
      B.sent.set(el, sig);
      out.push(item);
    }
    return out;
  };

  // How many item containers the DOM holds now: fewer than were collected
  // means the feed is virtualized (it drops what left the viewport).
  B.present = (rules) => {
    const seen = new Set([...B.structEls].filter((el) => el.isConnected));
    for (const sel of [rules.post, rules.comment, rules.reply]) {
      if (!sel) continue;
      try {
        for (const el of document.querySelectorAll(sel)) seen.add(el);
      } catch (e) {}
    }
    return seen.size;
  };

  // `idleMs` (after clicks): how long a wait for a change lasts when
  // nothing at all happens; 0 waits to the bound (the end of a feed, where
  // lazy loading may take its time).
  B.settle = (since, quietMs, maxMs, needChange, idleMs = 0) =>
    new Promise((resolve) => {
      const t0 = performance.now();
      const tick = () => {
        const now = performance.now();
        const changed = B.mutations > since;
        const pending = busy(t0 - 1000);
        if ((changed || !needChange) && now - B.lastMutation >= quietMs && !pending)
          return resolve({ changed, waited: now - t0 });
        // Nothing moved and nothing was asked of the server: nothing is
        // coming, so the wait ends without running to its bound.
        if (idleMs > 0 && needChange && !changed && !pending && now - t0 >= idleMs)
          return resolve({ changed, waited: now - t0, idle: true });
        // A page that never stops changing (a live counter, a ticker) never
        // gives `quietMs` of quiet: after clicks, once something changed and
        // the requests they started are answered, `quietMs` after the last
        // answer (and half the idle time in all) is enough.
        if (idleMs > 0 && changed && !pending && now - t0 >= idleMs / 2 && now - B.lastRequestEnd >= quietMs)
          return resolve({ changed, waited: now - t0, busy_page: true });
        if (now - t0 >= maxMs) return resolve({ changed, waited: now - t0, timed_out: true });
        setTimeout(tick, 40);
      };
      tick();
    });

  // The largest of `els` that scrolls vertically by more than `slack` px
  // and is bigger than `minArea`.
  const largestScroller = (els, slack, minArea) => {
    let best = null;
    let bestArea = minArea;
    for (const el of els) {
      if (el.scrollHeight <= el.clientHeight + slack) continue;
      const oy = style(el).overflowY;
      if (oy !== 'auto' && oy !== 'scroll' && oy !== 'overlay') continue;
      const r = el.getBoundingClientRect();
      if (r.width * r.height > bestArea) {
        best = el;
        bestArea = r.width * r.height;
      }
    }
    return best;
  };

  // The element that scrolls an open dialog: the largest scrolling element
  // inside it or around it (an overlay that scrolls as a whole).
  const rootScroller = () => {
    const around = [];
    for (let e = B.root; e && e !== document.body && e !== document.documentElement; e = e.parentElement) around.push(e);
    return largestScroller([...B.root.querySelectorAll('*'), ...around], 4, 0);
  };

  const scroller = () => {
    if (inRoot()) return rootScroller();
    const se = document.scrollingElement || document.documentElement;
    if (se.scrollHeight > innerHeight + 4 && !scrollLocked()) return null;
    // The page itself does not scroll: look for the largest scrolling element.
    return largestScroller(document.querySelectorAll('body *'), 50, 0.3 * innerWidth * innerHeight);
  };

  B.state = () => {
    const el = scroller();
    if (!el && inRoot()) {
      // An open dialog with nothing to scroll: all of it is in view.
      const h = Math.round(B.root.scrollHeight);
      return { mutations: B.mutations, scroll_y: 0, height: h, view: h, at_bottom: true, inner_scroller: true, url: location.href };
    }
    const se = document.scrollingElement || document.documentElement;
    const top = el ? el.scrollTop : window.scrollY;
    const height = el ? el.scrollHeight : Math.max(se.scrollHeight, document.body ? document.body.scrollHeight : 0);
    const view = el ? el.clientHeight : innerHeight;
    return {
      mutations: B.mutations,
      scroll_y: Math.round(top),
      height: Math.round(height),
      view: Math.round(view),
      at_bottom: top + view >= height - 2,
      inner_scroller: !!el,
      url: location.href,
    };
  };

  B.scrollBy = (dy) => {
    const el = scroller();
    if (el) el.scrollTop += dy;
    else if (inRoot()) return B.state();
    else window.scrollBy({ top: dy, left: 0, behavior: 'instant' });
    return B.state();
  };

  B.scrollTo = (y) => {
    const el = scroller();
    if (el) el.scrollTop = y;
    else if (inRoot()) return B.state();
    else window.scrollTo({ top: y, left: 0, behavior: 'instant' });
    return B.state();
  };

  // ---- Opening each post in turn (a profile grid whose comments live in
  // per-post dialogs). Links are remembered in page order as the pass sees
  // them, so a grid that drops tiles far from the viewport loses none.
  B.targetList = [];
  B.targetSeen = new Set();
  const bare = (href) => href.split('#')[0];
  const dialogs = () =>
    [...document.querySelectorAll('[role="dialog"], [role="alertdialog"], [aria-modal="true"], dialog[open]')].filter(visible);
  const targetLinks = (rule) => {
    let els = [];
    try {
      els = [...document.querySelectorAll(rule.selector || 'a[href]')];
    } catch (e) {}
    const re = rule.href_pattern ? new RegExp(rule.href_pattern, 'iu') : null;
    return els.filter((a) => {
      const href = a.href;
      if (typeof href !== 'string' || !/^https?:/.test(href) || new URL(href).origin !== location.origin) return false;
      if (re && !re.test(bare(href))) return false;
      return a.getClientRects().length > 0 && !dialogLike(a) && !(B.root && B.root.contains(a));
    });
  };
  B.noteTargets = (rule) => {
    if (inRoot()) return B.targetList.length;
    for (const a of targetLinks(rule)) {
      const h = bare(a.href);
      if (h === bare(location.href) || B.targetSeen.has(h)) continue;
      B.targetSeen.add(h);
      B.targetList.push(h);
    }
    return B.targetList.length;
  };
  B.targets = () => B.targetList;

  // Clicks the link to `href` the way a person would. A link whose click no
  // script took over (a plain link) is not followed: the caller loads it.
  B.openTarget = (rule, href) => {
    const a = targetLinks(rule).find((x) => bare(x.href) === href);
    if (!a) return { found: false, plain: false };
    a.scrollIntoView({ block: 'center', behavior: 'instant' });
    B.before = new Set(dialogs());
    B.beforeText = new Map([...B.before].map((d) => [d, (d.innerText || '').slice(0, 2000)]));
    B.beforeUrl = location.href;
    B.root = null;
    let plain = false;
    const last = (e) => {
      if (!e.defaultPrevented) {
        e.preventDefault();
        plain = true;
      }
    };
    window.addEventListener('click', last, false);
    try {
      click(a, false);
    } finally {
      window.removeEventListener('click', last, false);
    }
    return { found: true, plain };
  };

  // The dialog the click opened: a new (or newly filled) dialog, preferring
  // one that links to the post, never a login nag that holds no such link.
  B.opened = (href, nag) => {
    const nagRe = compile(nag);
    const vw = innerWidth;
    const vh = innerHeight;
    let best = null;
    let bestScore = 0;
    for (const d of dialogs()) {
      const fresh = !B.before.has(d) || B.beforeText.get(d) !== (d.innerText || '').slice(0, 2000);
      if (!fresh) continue;
      const links = [...d.querySelectorAll('a[href]')].some((x) => bare(x.href) === href);
      const r = d.getBoundingClientRect();
      const area = (Math.min(r.right, vw) - Math.max(r.left, 0)) * (Math.min(r.bottom, vh) - Math.max(r.top, 0));
      if (!links && matches(nagRe, (d.innerText || '').slice(0, 3000))) continue;
      if (!links && area < 0.25 * vw * vh) continue;
      const score = (links ? 2 * vw * vh : 0) + area;
      // Of nested dialog markers, the outermost that still scores wins.
      if (score > bestScore || (best && d.contains(best) && score >= bestScore)) {
        best = d;
        bestScore = score;
      }
    }
    if (best) B.root = best;
    return { dialog: !!best, url: location.href, moved: bare(location.href) !== bare(B.beforeUrl) };
  };

  // Closes the open dialog with its own close control (outside it first,
  // as overlays put it, then inside); the caller falls back to Escape.
  B.closeRoot = (cfg) => {
    const root = B.root;
    if (!root || !root.isConnected || !visible(root)) return 'gone';
    const close = compile(cfg.close_buttons);
    let box = root;
    for (let e = root.parentElement; e && e !== document.body; e = e.parentElement) {
      if (style(e).position === 'fixed') box = e;
    }
    const named = (el) => visible(el) && (matches(close, label(el)) || matches(close, norm(el.getAttribute('aria-label'))));
    const all = innermost(candidates(box).filter(named));
    const pick = all.find((el) => !root.contains(el)) || all[0];
    if (!pick) return 'none';
    click(pick);
    return 'clicked';
  };
  B.escape = () => {
    const t = document.activeElement || document.body;
    for (const type of ['keydown', 'keyup'])
      t.dispatchEvent(new KeyboardEvent(type, { key: 'Escape', code: 'Escape', keyCode: 27, which: 27, bubbles: true, cancelable: true }));
    return true;
  };
  // Whether the dialog is gone; forgets it when it is.
  B.rootGone = () => {
    const gone = !B.root || !B.root.isConnected || !visible(B.root);
    if (gone) B.root = null;
    return gone;
  };
  B.forgetRoot = () => {
    B.root = null;
    return true;
  };

  // Where the open dialog's scroller shows its content, for its screenshot:
  // the visible box in document coordinates and the scroll range.
  B.rootView = () => {
    const el = inRoot() ? rootScroller() : null;
    const sx = window.scrollX;
    const sy = window.scrollY;
    if (!el) return { scrolls: false, x: 0, y: 0, width: 0, height: 0, scroll_height: 0, scroll_x: sx, scroll_y: sy };
    const r = el.getBoundingClientRect();
    const left = Math.max(0, r.left + el.clientLeft);
    const top = Math.max(0, r.top + el.clientTop);
    return {
      scrolls: true,
      x: Math.round(left + sx),
      y: Math.round(top + sy),
      width: Math.round(Math.min(el.clientWidth, innerWidth - left)),
      height: Math.round(Math.min(el.clientHeight, innerHeight - top)),
      scroll_height: Math.round(el.scrollHeight),
      scroll_x: sx,
      scroll_y: sy,
    };
  };
  B.rootScrollTo = (y) => {
    const el = inRoot() ? rootScroller() : null;
    if (el) el.scrollTop = y;
    return el ? Math.round(el.scrollTop) : 0;
  };

  // For tiled screenshots: fixed and sticky elements would repeat in every
  // tile, so they are hidden (keeping their layout space) after the first.
  B.hideFixed = () => {
    let n = 0;
    for (const el of document.querySelectorAll('body *')) {
      const p = style(el).position;
      if (p === 'fixed' || p === 'sticky') {
        B.hidden.push([el, el.style.getPropertyValue('visibility'), el.style.getPropertyPriority('visibility')]);
        el.style.setProperty('visibility', 'hidden', 'important');
        n++;
      }
    }
    return n;
  };
  B.restoreFixed = () => {
    const n = B.hidden.length;
    for (const [el, v, p] of B.hidden) el.style.setProperty('visibility', v, p);
    B.hidden = [];
    return n;
  };
  return 'installed';
})();
