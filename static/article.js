// /articles/{slug}: the article header and its live thread.

import { mountThread } from './thread.js';
import { fullDate } from './format.js';

const root = document.getElementById('comments');
const slug = decodeURIComponent(window.location.pathname.split('/')[2] ?? '');
root.dataset.article = slug;

root.addEventListener('realtime:article', ({ detail: article }) => {
  document.title = `${article.title} · Realtime`;
  document.getElementById('article-title').textContent = article.title;
  const time = document.getElementById('article-date');
  time.dateTime = article.created;
  time.textContent = fullDate(article.created);
  if (article.url) {
    const link = document.getElementById('article-link');
    link.href = article.url;
    link.hidden = false;
  }
});

mountThread(root, { slug });
