// The moderation queue: held comments, oldest first, kept current by /ws/admin (a snapshot on
// every connection, then `pending` and `resolved` events, whoever resolved them), with Approve
// and Reject for each.

import { isAuthError } from './admin-api.js';
import { adminCard, setBusy } from './admin-card.js';
import { h } from './dom.js';
import { formatNumber, t, tNodes } from './i18n.js';

export class Queue {
  /**
   * @param {object} parts  list, count, empty: the page's elements
   * @param {(slug: string) => string} titleOf
   * @param {(slug: string) => void} onShowArticle  open that article's published thread
   * @param {(error: Error) => void} onAuthError  the token was refused: sign out
   * @param {(source, comment, card: () => Element) => Element} banButton  its "Ban…" button
   */
  constructor({ api, list, count, empty, titleOf, onShowArticle, onAuthError, banButton }) {
    this.api = api;
    this.list = list;
    this.countNode = count;
    this.empty = empty;
    this.titleOf = titleOf;
    this.onShowArticle = onShowArticle;
    this.onAuthError = onAuthError;
    this.banButton = banButton;
    this.items = new Map(); // pending id -> node
  }

  /** The full queue, as sent on (re)connection: it replaces whatever was shown. */
  replaceAll(pending) {
    this.items.clear();
    this.list.replaceChildren();
    [...pending].sort((a, b) => a.id - b.id).forEach((held) => this.add(held));
    this.render();
  }

  add(held, { live = false } = {}) {
    if (this.items.has(held.id)) return;
    const node = this.card(held);
    this.items.set(held.id, node);
    let before = null;
    for (let el = this.list.lastElementChild; el && Number(el.dataset.id) > held.id; el = el.previousElementSibling) {
      before = el;
    }
    this.list.insertBefore(node, before);
    if (live) node.classList.add('adm-new');
    this.render();
  }

  remove(id) {
    const node = this.items.get(id);
    if (!node) return;
    this.items.delete(id);
    node.remove();
    this.render();
  }

  render() {
    const n = this.items.size;
    this.countNode.textContent = formatNumber(n);
    this.empty.hidden = n > 0;
    const title = n > 0 ? t('admin.title_waiting', { n: formatNumber(n) }) : t('admin.title');
    document.title = t('site.title', { title });
  }

  /** Article titles arrived (the queue may come first): name the articles by them. */
  retitle() {
    for (const button of this.list.querySelectorAll('.adm-article')) {
      button.textContent = this.titleOf(button.dataset.article);
    }
  }

  card(held) {
    const approve = h('button', { type: 'button', class: 'rt-button adm-approve', text: t('admin.approve') });
    const reject = h('button', { type: 'button', class: 'rt-button rt-button-quiet adm-reject', text: t('admin.reject') });
    const article = h('button', {
      type: 'button',
      class: 'rt-action adm-article',
      text: this.titleOf(held.article),
      title: t('admin.show_article'),
      dataset: { article: held.article },
      onclick: () => this.onShowArticle(held.article),
    });
    const details = [
      h('span', { class: 'adm-on' }, tNodes('admin.on', { article })),
      held.parent === null ? null : h('span', { class: 'adm-parent', text: t('admin.reply_to', { id: held.parent }) }),
    ];
    const { node, status } = adminCard(held, {
      id: `pending-${held.id}`,
      label: t('admin.held_label', { author: held.author }),
      details,
      actions: [approve, reject, this.banButton('pending', held, () => node)],
    });
    const reason = t('admin.held', { reason: reasonText(held.reason) });
    node.querySelector('.adm-card').prepend(h('p', { class: 'adm-reason', text: reason }));
    const buttons = [approve, reject];
    approve.addEventListener('click', () => this.act(held.id, buttons, status, () => this.api.approve(held.id)));
    reject.addEventListener('click', () => this.act(held.id, buttons, status, () => this.api.reject(held.id)));
    return node;
  }

  async act(id, buttons, status, request) {
    setBusy(buttons, true);
    status.textContent = '';
    try {
      await request();
      this.remove(id); // the `resolved` event follows; removing twice is harmless
    } catch (error) {
      if (isAuthError(error)) return this.onAuthError(error);
      if (error.status === 404) return this.remove(id); // another moderator was quicker
      status.textContent = error.message;
      setBusy(buttons, false);
    }
  }
}

// Why a comment was held, as the server words it (realtime/moderation.py), in the page's language.
const REASONS = [
  [/^honeypot field filled in$/, 'admin.reason.honeypot'],
  [/^more than (?<max>\d+) links$/, 'admin.reason.links'],
  [/^every comment is moderated$/, 'admin.reason.all'],
  [/^first comment from this author$/, 'admin.reason.first'],
  [/^contains “(?<word>.+)” \(hold_words\)$/, 'admin.reason.word'],
];

function reasonText(reason) {
  for (const [pattern, key] of REASONS) {
    const match = reason.match(pattern);
    if (match) return t(key, match.groups ?? {});
  }
  return reason;
}
