// /admin: the moderators' page. The admin token or a moderator's token is typed once and kept in
// sessionStorage (this tab only, gone when it closes), and only after the server has accepted
// it: /ws/admin answers the token with the queue, or closes with 4403 (also later, live, when a
// moderator's token is revoked).

import { AdminApi } from './admin-api.js';
import { AuditLog, WordsPanel } from './admin-audit.js';
import { Bans } from './admin-bans.js';
import { DeadNotices } from './admin-notices.js';
import { Queue } from './admin-queue.js';
import { AdminSocket } from './admin-socket.js';
import { ThreadDesk } from './admin-thread.js';
import { h } from './dom.js';
import { loadLanguage, t } from './i18n.js';

const KEY = 'realtime:admin-token';
const $ = (id) => document.getElementById(id);

await loadLanguage(window.location.origin, document.documentElement.lang);

const stored = {
  get() {
    try {
      return sessionStorage.getItem(KEY);
    } catch {
      return null;
    }
  },
  set(token) {
    try {
      sessionStorage.setItem(KEY, token);
    } catch {
      // storage disabled: the token lasts until the page is left
    }
  },
  clear() {
    try {
      sessionStorage.removeItem(KEY);
    } catch {
      // nothing kept
    }
  },
};

/** Everything that holds the token: the queue socket, the queue and the article panel. */
class Desk {
  constructor(token, { onAccepted, onRefused, onUnreachable }) {
    this.api = new AdminApi(window.location.origin, token);
    this.token = token;
    this.accepted = false;
    this.onAccepted = onAccepted;
    this.onUnreachable = onUnreachable;
    this.titles = new Map();
    this.select = $('article');
    this.toggle = $('close-toggle');
    const signOut = () => onRefused(t('admin.token_revoked_again'));
    this.audit = new AuditLog({
      api: this.api,
      list: $('audit'),
      empty: $('audit-empty'),
      more: $('audit-more'),
      onAuthError: signOut,
    });
    this.bans = new Bans({
      api: this.api,
      list: $('bans'),
      empty: $('bans-empty'),
      search: $('bans-search'),
      everything: $('bans-all'),
      onAuthError: signOut,
      onChange: () => this.audit.refresh(),
    });
    this.words = new WordsPanel({ api: this.api, summary: $('words-summary'), button: $('words-reload'), onAuthError: signOut });
    const banButton = (source, comment, card) => this.bans.button(source, comment, card);
    this.thread = new ThreadDesk({
      api: this.api,
      list: $('thread'),
      summary: $('thread-summary'),
      toggle: this.toggle,
      onAuthError: signOut,
      banButton,
      onChange: () => this.audit.refresh(),
    });
    this.queue = new Queue({
      api: this.api,
      list: $('queue'),
      count: $('queue-count'),
      empty: $('queue-empty'),
      titleOf: (slug) => this.titles.get(slug) ?? slug,
      onShowArticle: (slug) => this.choose(slug, { scroll: true }),
      onAuthError: signOut,
      banButton,
    });
    this.notices = new DeadNotices({
      api: this.api,
      list: $('notices'),
      empty: $('notices-empty'),
      refresh: $('notices-refresh'),
      onAuthError: signOut,
    });
    this.socket = new AdminSocket({
      url: () => this.api.wsUrl('/ws/admin'),
      token,
      onEvent: (event) => this.handle(event),
      onState: (state) => this.showState(state),
      onRefused: (reason) =>
        onRefused(t(!this.accepted ? 'admin.token_refused' : /revoked/.test(reason) ? 'admin.moderator_revoked' : 'admin.token_revoked')),
    });
  }

  start() {
    this.socket.start();
    return this;
  }

  stop() {
    this.socket.stop();
    this.thread.stop();
  }

  handle(event) {
    if (!this.accepted) {
      this.accepted = true;
      this.onAccepted(this.token);
      this.loadArticles();
      this.loadDesk();
      this.notices.load();
    }
    switch (event.type) {
      case 'queue':
        this.queue.replaceAll(event.pending);
        break;
      case 'pending':
        this.queue.add(event.comment, { live: true });
        break;
      case 'resolved':
        this.queue.remove(event.id);
        this.audit.refresh();
        break;
      case 'pong':
        break;
      default:
        console.warn('realtime: unknown event', event);
    }
  }

  showState(state) {
    const status = $('status');
    status.dataset.state = state;
    status.textContent = t(`state.${state}`);
    if (!this.accepted && state === 'reconnecting') this.onUnreachable();
  }

  /** Who is signed in, the bans, the audit log and the word lists. */
  async loadDesk() {
    this.bans.load();
    this.audit.load();
    this.words.load();
    try {
      const me = await this.api.me();
      $('who').textContent = me.owner ? t('admin.who_owner') : me.name;
    } catch {
      $('who').textContent = '';
    }
  }

  async loadArticles() {
    let articles;
    try {
      ({ articles } = await this.api.articles());
    } catch (error) {
      $('thread-summary').textContent = error.message;
      return;
    }
    this.select.replaceChildren();
    for (const article of articles) this.option(article.slug, article.title);
    this.queue.retitle();
    this.select.onchange = () => this.choose(this.select.value);
    this.toggle.onclick = () => this.thread.toggleClosed();
    const wanted = decodeURIComponent(window.location.hash.slice(1));
    const first = this.titles.has(wanted) ? wanted : articles[0]?.slug;
    if (first) this.choose(first);
    else $('thread-summary').textContent = t('admin.no_articles');
  }

  option(slug, title) {
    this.titles.set(slug, title);
    this.select.append(h('option', { value: slug, text: title }));
  }

  /** Show an article's published comments (from the menu, or a held comment's article). */
  choose(slug, { scroll = false } = {}) {
    if (!this.titles.has(slug)) this.option(slug, slug);
    this.select.value = slug;
    history.replaceState(null, '', `#${encodeURIComponent(slug)}`);
    this.thread.show(slug);
    if (scroll) $('thread-title').scrollIntoView({ block: 'start' });
  }
}

// ---- signing in and out ----------------------------------------------------------------------

const form = $('sign-in-form');
const input = $('token');
const error = $('sign-in-error');
const button = $('sign-in-button');
let desk = null;

function start(token) {
  desk?.stop();
  button.disabled = true;
  button.textContent = t('admin.checking');
  error.hidden = true;
  desk = new Desk(token, {
    onAccepted: (accepted) => {
      stored.set(accepted);
      input.value = '';
      show(true);
    },
    onRefused: signOut,
    onUnreachable: () => say(t('admin.unreachable')),
  }).start();
}

function signOut(message = '') {
  desk?.stop();
  desk = null;
  stored.clear();
  $('queue').replaceChildren();
  $('thread').replaceChildren();
  $('notices').replaceChildren();
  document.title = 'Moderation · Realtime';
  document.title = t('site.title', { title: t('admin.title') });
  show(false);
  button.disabled = false;
  button.textContent = t('admin.sign_in');
  if (message) say(message);
  input.focus();
}

function say(message) {
  error.textContent = message;
  error.hidden = false;
}

function show(signedIn) {
  $('sign-in').hidden = signedIn;
  $('desk').hidden = !signedIn;
  $('session').hidden = !signedIn;
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const token = input.value.trim();
  if (!token) {
    say(t('admin.token_missing'));
    input.focus();
    return;
  }
  start(token);
});
input.addEventListener('input', () => {
  error.hidden = true;
});
$('sign-out').addEventListener('click', () => signOut());

const kept = stored.get();
if (kept) start(kept);
