// The audit log (who did what, when, to which comment), newest first, page by page; and the
// word lists, which any moderator may reload from the settings without a restart.

import { isAuthError } from './admin-api.js';
import { h } from './dom.js';
import { fullDate } from './format.js';

const ACTIONS = {
  approve: 'approved',
  reject: 'rejected',
  delete: 'deleted',
  edit: 'edited',
  close: 'closed',
  reopen: 'reopened',
  ban: 'banned the poster of',
  unban: 'lifted a ban on',
  forget: 'forgot a commenter',
  'moderator-add': 'added a moderator',
  'moderator-revoke': 'revoked a moderator',
};

export class AuditLog {
  /** @param {(error: Error) => void} onAuthError  the token was refused: sign out */
  constructor({ api, list, empty, more, onAuthError }) {
    this.api = api;
    this.list = list;
    this.empty = empty;
    this.more = more;
    this.onAuthError = onAuthError;
    this.next = null;
    this.generation = 0;
    this.timer = null;
    more.addEventListener('click', () => this.load(this.next));
  }

  /** Reload the newest page soon (several actions in a row cost one request). */
  refresh() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.load(), 300);
  }

  async load(before = null) {
    const generation = ++this.generation;
    let page;
    try {
      page = await this.api.audit(before);
    } catch (error) {
      if (isAuthError(error)) return this.onAuthError(error);
      this.more.hidden = true;
      return;
    }
    if (generation !== this.generation) return;
    const items = page.entries.map((entry) => item(entry));
    if (before === null) this.list.replaceChildren(...items);
    else this.list.append(...items);
    this.next = page.next;
    this.more.hidden = page.next === null;
    this.empty.hidden = this.list.childElementCount > 0;
  }
}

function item(entry) {
  const target = [
    entry.comment !== null ? `comment #${entry.comment}` : null,
    entry.comment === null && entry.pending !== null ? `held comment #${entry.pending}` : null,
    entry.comment === null && entry.pending === null && entry.article ? entry.article : null,
  ].filter(Boolean);
  const what = `${entry.actor} ${ACTIONS[entry.action] ?? entry.action}${target.length ? ` ${target.join(' ')}` : ''}`;
  return h(
    'li',
    { class: 'adm-audit-item', dataset: { id: entry.id, action: entry.action } },
    h('time', { datetime: entry.at, text: fullDate(entry.at) }),
    ' ',
    h('span', { class: 'adm-audit-what', text: what }),
    entry.detail ? h('span', { class: 'adm-audit-detail', text: ` — ${entry.detail}` }) : null,
  );
}

export class WordsPanel {
  constructor({ api, summary, button, onAuthError }) {
    this.api = api;
    this.summary = summary;
    this.button = button;
    this.onAuthError = onAuthError;
    button.addEventListener('click', () => this.load(() => this.api.reloadWords(), 'Reloaded. '));
  }

  async load(request = () => this.api.words(), prefix = '') {
    this.button.disabled = true;
    try {
      const lists = await request();
      this.summary.textContent = `${prefix}${list('Held for a moderator', lists.hold_words)} ${list('Refused', lists.refuse_words)}`;
    } catch (error) {
      if (isAuthError(error)) return this.onAuthError(error);
      this.summary.textContent = error.message;
    } finally {
      this.button.disabled = false;
    }
  }
}

function list(label, words) {
  return `${label}: ${words.length ? words.map((word) => `“${word}”`).join(', ') : 'none'}.`;
}
