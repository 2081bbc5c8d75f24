// /articles/{slug}: the server rendered the article and its thread; the thread takes over that
// page (its data is in #rt-state) and goes live. Without that data, it fetches everything.

import { mountThread } from './thread.js';
import { fullDate } from './format.js';
import { t } from './i18n.js';

const root = document.getElementById('comments');
const slug = root.dataset.article ?? decodeURIComponent(window.location.pathname.split('/')[2] ?? '');
const data = document.getElementById('rt-state');
const initial = data ? JSON.parse(data.textContent) : null;

root.addEventListener('realtime:article', ({ detail: article }) => {
  document.title = t('site.title', { title: article.title });
  document.getElementById('article-title').textContent = article.title;
  const time = document.getElementById('article-date');
  time.dateTime = article.created;
  time.textContent = fullDate(article.created);
});

mountThread(root, { slug, initial, lang: document.documentElement.lang });
