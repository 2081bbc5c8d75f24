// /: the articles, newest first, with comment counts that change live.

import { Api } from './api.js';
import { h } from './dom.js';
import { countLabel, fullDate } from './format.js';
import { LiveSocket } from './live.js';

const MAX_LIVE = 200; // the counts stream takes up to 200 slugs
const api = new Api(window.location.origin);
const list = document.getElementById('articles');
const status = document.getElementById('status');
const badges = new Map();

function item(article) {
  const badge = h('a', {
    class: 'count',
    href: `/articles/${article.slug}#comments`,
    dataset: { slug: article.slug },
    text: countLabel(article.count),
  });
  badges.set(article.slug, badge);
  return h(
    'li',
    { class: 'article-item' },
    h('h2', { class: 'article-item-title' }, h('a', { href: `/articles/${article.slug}`, text: article.title })),
    h(
      'p',
      { class: 'article-item-meta' },
      h('time', { datetime: article.created, text: fullDate(article.created) }),
      badge,
    ),
  );
}

function setCount(slug, count) {
  const badge = badges.get(slug);
  if (!badge || badge.textContent === countLabel(count)) return;
  badge.textContent = countLabel(count);
  badge.classList.remove('bump');
  void badge.offsetWidth; // restart the animation
  badge.classList.add('bump');
}

function handle(event) {
  switch (event.type) {
    case 'counts':
      for (const [slug, count] of Object.entries(event.counts)) setCount(slug, count);
      break;
    case 'count':
      setCount(event.article, event.count);
      break;
    default:
      console.warn('realtime: unknown event', event);
  }
}

async function main() {
  let articles;
  try {
    ({ articles } = await api.articles());
  } catch (error) {
    list.replaceChildren(h('li', { class: 'empty', text: error.message }));
    return;
  }
  if (articles.length === 0) {
    list.replaceChildren(h('li', { class: 'empty', text: 'No articles yet.' }));
    return;
  }
  list.replaceChildren(...articles.map(item));
  const slugs = articles.slice(0, MAX_LIVE).map((article) => article.slug).join(',');
  new LiveSocket({
    url: () => api.wsUrl(`/ws/counts?articles=${slugs}`),
    onEvent: handle,
    onState: (state) => {
      status.dataset.state = state;
      status.textContent = state === 'live' ? 'Live' : state === 'closed' ? 'Offline' : 'Reconnecting…';
    },
  }).start();
}

main();
