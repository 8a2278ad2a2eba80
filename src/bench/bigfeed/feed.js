// The big feed of `bevara bench capture`: renders what the server sends.
// Every post, comment, reply and "Visa mer" text comes from the server's
// JSON, each fetch answered after the bench's latency; nothing of the
// content is in this file or in the page.
//
//   - a cookie dialog at start; scrolling is locked and no posts load until it is answered
//   - the first posts load at start, more whenever the reader nears the bottom
//   - "Visa mer" fetches the whole text and replaces the shortened one
//   - "Visa fler kommentarer" shows a spinner, fetches the next five comments,
//     then a new control if more remain
//   - "Visa N svar" shows a spinner, fetches the replies, and is gone
//   - with `?tick=MS` in the address, the header's notification count changes
//     every MS ms, as a live platform's page never stops changing
(function () {
  'use strict';
  var C = window.__bigfeedClasses;
  var CFG = window.__bigfeedConfig;
  var S = (window.__bigfeed = { postsLoaded: 0, loading: false, consent: true, fetches: 0, ended: false });

  function h(tag, attrs, kids) {
    var el = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === 'class') el.className = attrs[k];
      else el.setAttribute(k, attrs[k]);
    }
    (kids || []).forEach(function (ch) {
      if (ch != null) el.appendChild(typeof ch === 'string' ? document.createTextNode(ch) : ch);
    });
    return el;
  }

  function get(path) {
    S.fetches++;
    return fetch(path).then(function (r) {
      if (!r.ok) throw new Error(path + ': ' + r.status);
      return r.json();
    });
  }

  function button(cls, text, onClick, extra) {
    var attrs = { 'class': cls, role: 'button', tabindex: '0' };
    for (var k in extra || {}) attrs[k] = extra[k];
    var el = h('div', attrs, [h('span', { 'class': C.label }, [text])]);
    el.addEventListener('click', function (ev) {
      ev.preventDefault();
      onClick(el);
    });
    return el;
  }

  function spinner(label) {
    return h('div', { 'class': C.spinner, role: 'progressbar', 'aria-label': label, 'aria-busy': 'true', 'aria-valuemin': '0', 'aria-valuemax': '100' }, [h('span')]);
  }

  function initials(name) {
    return name
      .split(' ')
      .map(function (p) { return p[0]; })
      .join('')
      .slice(0, 2)
      .toUpperCase();
  }

  function avatar(name, cls) {
    return h('div', { 'class': cls, 'aria-hidden': 'true' }, [initials(name)]);
  }

  // A message, shortened with "Visa mer" when the server holds more of it.
  function message(node, cls) {
    var d = h('div', { 'class': cls, dir: 'auto' }, [node.head]);
    if (node.more) {
      var open = false;
      d.appendChild(document.createTextNode('… '));
      d.appendChild(
        button(C.seeMore, 'Visa mer', function () {
          if (open) return;
          open = true;
          get(CFG.api + 'more/' + node.id).then(function (r) {
            d.textContent = r.text;
          });
        }),
      );
    }
    return d;
  }

  function actions(items) {
    return h('div', { 'class': C.actions }, items.map(function (a) {
      return button(C.action, a[0], function (el) {
        el.setAttribute('aria-pressed', el.getAttribute('aria-pressed') === 'true' ? 'false' : 'true');
      }, { 'aria-label': a[1] });
    }));
  }

  // A comment or a reply: an article labelled with its author, like Facebook's.
  function entryEl(x, cls, what, below) {
    return h('div', { 'class': cls, role: 'article', 'aria-label': what + ' från ' + x.author + ' · ' + x.when, tabindex: '-1' }, [
      avatar(x.author, C.avatarSmall),
      h('div', { 'class': C.commentBody }, [
        h('div', { 'class': C.bubble }, [
          h('span', { 'class': C.name }, [h('a', { href: x.profile, role: 'link', tabindex: '0' }, [h('span', null, [x.author])])]),
          message(x, C.commentText),
        ]),
        h('ul', { 'class': C.meta }, [
          h('li', null, [button(C.metaButton, 'Gilla', function () {}, {})]),
          h('li', null, [button(C.metaButton, 'Svara', function () {}, {})]),
          h('li', null, [h('a', { href: x.link, 'class': C.time, role: 'link', tabindex: '0' }, [x.when])]),
        ]),
        below,
      ]),
    ]);
  }

  function commentEl(c) {
    var replies = h('div', { 'class': C.replies });
    if (c.replies > 0) {
      var ctl = button(C.loadMore, 'Visa ' + c.replies + ' svar', function (el) {
        var sp = spinner('Läser in svar');
        el.replaceWith(sp);
        get(CFG.api + 'replies/' + c.id).then(function (list) {
          sp.remove();
          list.forEach(function (r) { replies.appendChild(entryEl(r, C.reply, 'Svar', null)); });
        });
      });
      replies.appendChild(ctl);
    }
    return entryEl(c, C.comment, 'Kommentar', replies);
  }

  function commentsEl(p) {
    var host = h('div', { 'class': C.comments });
    var list = h('div', { 'class': C.commentList });
    host.appendChild(list);
    var shown = 0;
    function add(batch) {
      batch.forEach(function (c) { list.appendChild(commentEl(c)); });
      shown += batch.length;
      if (shown < p.comments_total) {
        var ctl = button(C.loadMore, 'Visa fler kommentarer', function (el) {
          var sp = spinner('Läser in kommentarer');
          el.replaceWith(sp);
          get(CFG.api + 'comments/' + p.id + '/' + shown).then(function (next) {
            sp.remove();
            add(next);
          });
        });
        host.appendChild(ctl);
      }
    }
    add(p.comments);
    return host;
  }

  function postEl(p) {
    var head = 'h' + p.id;
    var msg = message(p, C.postText);
    msg.id = 'm' + p.id;
    return h('div', { 'class': C.post, role: 'article', 'aria-posinset': String(p.n), 'aria-setsize': '-1', 'aria-labelledby': head, 'aria-describedby': msg.id }, [
      h('div', { 'class': C.postHead }, [
        avatar(p.author, C.avatar),
        h('div', null, [
          h('h2', { 'class': C.postAuthor, id: head }, [h('span', null, [h('a', { href: p.profile, role: 'link', tabindex: '0' }, [h('strong', null, [h('span', null, [p.author])])])])]),
          h('div', { 'class': C.postMeta }, [
            h('span', null, [h('a', { href: p.link, role: 'link', tabindex: '0', 'aria-label': p.when }, [p.when])]),
            ' · ',
            h('span', { 'aria-label': 'Delad med Offentligt' }, ['🌐']),
          ]),
        ]),
        h('div', { 'class': C.postMenu, role: 'button', tabindex: '0', 'aria-haspopup': 'menu', 'aria-label': 'Åtgärder för det här inlägget' }, ['…']),
      ]),
      h('div', { 'data-ad-preview': 'message' }, [msg]),
      h('div', { 'class': C.stats }, [
        h('span', { 'aria-label': p.reactions + ' reaktioner, inklusive Gilla och Älska' }, [String(p.reactions)]),
        h('span', null, [p.comments_total + ' kommentarer']),
      ]),
      actions([
        ['Gilla', 'Gilla'],
        ['Kommentera', 'Skriv en kommentar'],
        ['Dela', 'Skicka det här till vänner eller publicera det på din tidslinje.'],
      ]),
      commentsEl(p),
    ]);
  }

  var feed = document.querySelector('[role="feed"]');
  var feedSpinner = null;

  function loadPosts() {
    // Behind the cookie dialog the first posts show, and no more load.
    if (S.loading || S.ended || (S.consent && S.postsLoaded > 0)) return;
    S.loading = true;
    feedSpinner = spinner('Läser in fler inlägg');
    feed.parentNode.insertBefore(feedSpinner, feed.nextSibling);
    get(CFG.api + 'posts/' + (S.postsLoaded + 1)).then(function (posts) {
      feedSpinner.remove();
      posts.forEach(function (p) {
        feed.appendChild(postEl(p));
        S.postsLoaded = p.n;
      });
      S.loading = false;
      if (S.postsLoaded >= CFG.total) S.ended = true;
      setTimeout(maybeLoad, 50);
    });
  }

  function maybeLoad() {
    var doc = document.documentElement;
    if (innerHeight + scrollY >= doc.scrollHeight - CFG.nearBottom) loadPosts();
  }
  addEventListener('scroll', maybeLoad, { passive: true });

  // The cookie dialog, as Facebook shows it to a visitor who is not signed in.
  document.documentElement.style.overflow = 'hidden';
  var consent = h('div', { 'class': C.consentBack }, [
    h('div', { 'class': C.consent, role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'ckh' }, [
      h('h2', { id: 'ckh' }, ['Tillåt användning av cookies från Facebook i den här webbläsaren?']),
      h('p', null, ['Vi använder cookies och liknande tekniker för att tillhandahålla och förbättra innehåll på Meta-produkter. Du kan läsa mer om hur vi använder cookies i vår cookiepolicy.']),
      h('div', { 'class': C.consentButtons }, [
        button(C.consentSecondary, 'Neka valfria cookies', function () { close(); }, { 'aria-label': 'Neka valfria cookies' }),
        button(C.consentPrimary, 'Tillåt alla cookies', function () { close(); }, { 'aria-label': 'Tillåt alla cookies' }),
      ]),
    ]),
  ]);
  function close() {
    if (!S.consent) return;
    S.consent = false;
    consent.remove();
    document.documentElement.style.overflow = '';
    loadPosts();
  }
  document.body.appendChild(consent);
  loadPosts();

  var tick = Number(new URLSearchParams(location.search).get('tick')) || 0;
  if (tick > 0) {
    var badge = h('span', { 'class': C.badge, role: 'status' }, ['0']);
    document.querySelector('[role="banner"]').appendChild(badge);
    var unread = 0;
    setInterval(function () {
      unread = (unread + 1) % 10;
      badge.textContent = String(unread);
      badge.setAttribute('aria-label', 'Aviseringar, ' + unread + ' olästa');
    }, tick);
  }
})();
