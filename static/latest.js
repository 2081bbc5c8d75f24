// The "latest comments" widget for any page of a site:
//   <div id="latest-comments" data-limit="5" data-lang="nb"></div>   (both data- optional)
//   <script src="https://comments.example/static/latest.js" defer></script>
// A classic script like embed.js: it finds the server from its own URL, reads the catalog and
// GET /api/comments/recent (the site's origin must be on allowed_origins, as for the embed),
// and lists who said what where, as text: each links to the comment on its article page.
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script || !script.src) return;
  var here = new URL(script.src);
  var EXCERPT = 140;

  function get(path, params) {
    var url = new URL(path, here);
    Object.keys(params).forEach(function (key) {
      if (params[key]) url.searchParams.set(key, params[key]);
    });
    return fetch(url.href, { credentials: 'omit' }).then(function (response) {
      if (!response.ok) throw new Error(path + ' answered ' + response.status);
      return response.json();
    });
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function fill(template, params) {
    return template.replace(/\{(\w+)\}/g, function (whole, name) {
      return name in params ? params[name] : whole;
    });
  }

  function excerpt(body) {
    var text = body.replace(/\s+/g, ' ').trim();
    return text.length > EXCERPT ? text.slice(0, EXCERPT - 1) + '…' : text;
  }

  function item(comment, titles, say) {
    var li = el('li', 'rt-latest-item');
    var link = el('a', 'rt-latest-link');
    link.href = new URL('/articles/' + encodeURIComponent(comment.article) + '#comment-' + comment.id, here).href;
    link.textContent = fill(say('latest.on'), { author: comment.author, title: titles[comment.article] || comment.article });
    li.append(link, el('p', 'rt-latest-excerpt', excerpt(comment.body)));
    return li;
  }

  function start() {
    var root = document.getElementById('latest-comments');
    if (!root) return;
    if (!document.querySelector('link[data-realtime]')) {
      var css = document.createElement('link');
      css.rel = 'stylesheet';
      css.href = new URL('comments.css', here).href;
      css.dataset.realtime = '';
      document.head.appendChild(css);
    }
    root.classList.add('rt', 'rt-latest');
    var limit = parseInt(root.dataset.limit || '', 10);
    Promise.all([
      get('/i18n.json', { lang: root.dataset.lang || '' }),
      get('/api/comments/recent', { limit: limit > 0 ? String(Math.min(limit, 100)) : '5' }),
    ])
      .then(function (answers) {
        var messages = answers[0].messages;
        var say = function (key) {
          return messages[key];
        };
        var recent = answers[1];
        root.lang = answers[0].lang;
        var heading = el('h2', 'rt-latest-title', say('latest.title'));
        var list = el('ol', 'rt-latest-list');
        recent.comments.forEach(function (comment) {
          list.append(item(comment, recent.titles, say));
        });
        if (!recent.comments.length) list.append(el('li', 'rt-latest-empty', say('latest.empty')));
        root.replaceChildren(heading, list);
      })
      .catch(function (error) {
        console.error('realtime: the latest comments could not be loaded', error);
        root.dataset.state = 'failed';
      });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
