// The embed for other sites:
//   <div id="comments" data-article="slug"></div>
//   <script src="https://comments.example/static/embed.js" defer></script>
// A classic script (so the snippet needs no type="module"): it finds the server from its own
// URL, adds the stylesheet, and imports the thread module from there. The import is a CORS
// request: the server answers it only for origins on its allowed list, and refuses their API
// calls and WebSockets otherwise, so on other sites this shows a short notice instead.
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

  function start() {
    var root = document.getElementById('comments');
    if (!root) return console.warn('realtime: no <div id="comments"> on this page');
    var slug = root.dataset.article;
    if (!slug) return notice(root, 'Comments: data-article is missing.');
    if (!document.querySelector('link[data-realtime]')) {
      var css = document.createElement('link');
      css.rel = 'stylesheet';
      css.href = new URL('comments.css', here).href;
      css.dataset.realtime = '';
      document.head.appendChild(css);
    }
    notice(root, 'Loading comments…');
    import(new URL('thread.js', here).href)
      .then(function (module) {
        var size = parseInt(root.dataset.pageSize || '', 10);
        module.mountThread(root, { base: here.origin, slug: slug, pageSize: size > 0 ? size : undefined });
      })
      .catch(function (error) {
        console.error('realtime: the comments could not be loaded here', error);
        root.dataset.state = 'refused';
        notice(root, 'Comments could not be loaded on this site.');
      });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
