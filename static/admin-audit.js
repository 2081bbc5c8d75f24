// The audit log (who did what, when, to which comment), newest first, page by page; and the
// word lists, which any moderator may reload from the settings without a restart.

import { isAuthError } from './admin-api.js';
import { actorName } from './admin-bans.js';
import { h } from './dom.js';
import { fullDate } from './format.js';
import { t } from './i18n.js';

// Each action as a sentence: {actor} and {target} in the page's language.
const ACTIONS = {
  approve: (p) => t('admin.audit.approve', p),
  reject: (p) => t('admin.audit.reject', p),
  delete: (p) => t('admin.audit.delete', p),
  edit: (p) => t('admin.audit.edit', p),
  close: (p) => t('admin.audit.close', p),
  reopen: (p) => t('admin.audit.reopen', p),
  pin: (p) => t('admin.audit.pin', p),
  unpin: (p) => t('admin.audit.unpin', p),
  ban: (p) => t('admin.audit.ban', p),
  unban: (p) => t('admin.audit.unban', p),
  forget: (p) => t('admin.audit.forget', p),
  'moderator-add': (p) => t('admin.audit.moderator_add', p),
  'moderator-revoke': (p) => t('admin.audit.moderator_revoke', p),
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

/** One entry. Its `detail` (the server's English) is left out: the bans list says the rest. */
function item(entry) {
  let target = entry.article ?? '';
  if (entry.comment !== null) target = t('admin.audit_comment', { id: entry.comment });
  else if (entry.pending !== null) target = t('admin.audit_held', { id: entry.pending });
  const params = { actor: actorName(entry.actor), target };
  const what = ACTIONS[entry.action]?.(params) ?? `${params.actor}: ${entry.action}`;
  return h(
    'li',
    { class: 'adm-audit-item', dataset: { id: entry.id, action: entry.action } },
    h('time', { datetime: entry.at, text: fullDate(entry.at) }),
    ' ',
    h('span', { class: 'adm-audit-what', text: what }),
  );
}

export class WordsPanel {
  constructor({ api, summary, button, onAuthError }) {
    this.api = api;
    this.summary = summary;
    this.button = button;
    this.onAuthError = onAuthError;
    button.addEventListener('click', () => this.load(() => this.api.reloadWords(), true));
  }

  async load(request = () => this.api.words(), reloaded = false) {
    this.button.disabled = true;
    try {
      const lists = await request();
      const summary = t('admin.words_summary', { hold: list(lists.hold_words), refuse: list(lists.refuse_words) });
      this.summary.textContent = reloaded ? t('admin.words_reloaded', { summary }) : summary;
    } catch (error) {
      if (isAuthError(error)) return this.onAuthError(error);
      this.summary.textContent = error.message;
    } finally {
      this.button.disabled = false;
    }
  }
}

function list(words) {
  return words.length ? words.map((word) => t('admin.word', { word })).join(', ') : t('admin.words_none');
}
