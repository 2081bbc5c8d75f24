// The embed for other sites:
//   <div id="comments" data-article="slug" data-lang="nb"></div>   (data-lang is optional)
//   <script src="https://comments.example/static/embed.js" defer></script>
// A classic script (so the snippet needs no type="module"): it finds the server from its own
// URL, adds the stylesheet, reads the message catalog (any site may read it, so even a refused
// one is told why in its language), and imports the thread module from there. That import is a
// CORS request: the server answers it only for origins on its allowed list, and refuses their
// API calls and WebSockets otherwise, so on other sites this shows a short notice instead.
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script || !script.src) return;
  var here = new URL(script.src);

  function notice(root, text) {
    var p = document.createElement('p');
    p.className = 'rt-embed-notice';
    p.textContent = text;
    root.replaceChildren(p);
  }

  function catalog(lang) {
    var url = new URL('/i18n.json', here);
    if (lang) url.searchParams.set('lang', lang);
    return fetch(url.href, { credentials: 'omit' }).then(function (response) {
      if (!response.ok) throw new Error('the catalog answered ' + response.status);
      return response.json();
    });
  }

  function start() {
    var root = document.getElementById('comments');
    if (!root) return console.warn('realtime: no <div id="comments"> on this page');
    if (!document.querySelector('link[data-realtime]')) {
      var css = document.createElement('link');
      css.rel = 'stylesheet';
      css.href = new URL('comments.css', here).href;
      css.dataset.realtime = '';
      document.head.appendChild(css);
    }
    catalog(root.dataset.lang || '')
      .then(function (messages) {
        var say = function (key) {
          return messages.messages[key];
        };
        var slug = root.dataset.article;
        if (!slug) return notice(root, say('embed.no_article'));
        root.lang = messages.lang;
        notice(root, say('thread.loading'));
        return import(new URL('thread.js', here).href).then(
          function (module) {
            var size = parseInt(root.dataset.pageSize || '', 10);
            module.mountThread(root, {
              base: here.origin,
              slug: slug,
              pageSize: size > 0 ? size : undefined,
              catalog: messages,
            });
          },
          function (error) {
            console.error('realtime: the comments could not be loaded here', error);
            root.dataset.state = 'refused';
            notice(root, say('embed.refused'));
          },
        );
      })
      .catch(function (error) {
        console.error('realtime: the comment server could not be reached', error);
      });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
