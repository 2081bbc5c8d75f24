// /: the articles, newest first, as the server rendered them, with comment counts that change
// live. Without the server's list (an older page), it fetches and builds one.

import { Api } from './api.js';
import { h } from './dom.js';
import { countLabel, fullDate } from './format.js';
import { loadLanguage, t } from './i18n.js';
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

/** The slugs on the page: the server's list, or one fetched and built here. */
async function articleSlugs() {
  const rendered = [...list.querySelectorAll('.count[data-slug]')];
  if (rendered.length > 0 || list.querySelector('.empty')) {
    return rendered.map((badge) => badge.dataset.slug);
  }
  let articles;
  try {
    ({ articles } = await api.articles());
  } catch (error) {
    list.replaceChildren(h('li', { class: 'empty', text: error.message }));
    return [];
  }
  if (articles.length === 0) list.replaceChildren(h('li', { class: 'empty', text: t('index.empty') }));
  else list.replaceChildren(...articles.map(item));
  return articles.map((article) => article.slug);
}

async function main() {
  await loadLanguage(window.location.origin, document.documentElement.lang);
  const slugs = await articleSlugs();
  for (const badge of list.querySelectorAll('.count[data-slug]')) badges.set(badge.dataset.slug, badge);
  if (slugs.length === 0) return;
  status.hidden = false;
  new LiveSocket({
    url: () => api.wsUrl(`/ws/counts?articles=${slugs.slice(0, MAX_LIVE).join(',')}`),
    onEvent: handle,
    onState: (state) => {
      status.dataset.state = state;
      status.textContent = t(`state.${state}`);
    },
  }).start();
}

main();
