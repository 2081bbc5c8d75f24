// The moderation queue: held comments, oldest first, kept current by /ws/admin (a snapshot on
// every connection, then `pending` and `resolved` events, whoever resolved them), with Approve
// and Reject for each.

import { isAuthError } from './admin-api.js';
import { adminCard, setBusy } from './admin-card.js';
import { h } from './dom.js';

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
    this.countNode.textContent = String(n);
    this.empty.hidden = n > 0;
    document.title = n > 0 ? `(${n}) Moderation · Realtime` : 'Moderation · Realtime';
  }

  /** Article titles arrived (the queue may come first): name the articles by them. */
  retitle() {
    for (const button of this.list.querySelectorAll('.adm-article')) {
      button.textContent = this.titleOf(button.dataset.article);
    }
  }

  card(held) {
    const approve = h('button', { type: 'button', class: 'rt-button adm-approve', text: 'Approve' });
    const reject = h('button', { type: 'button', class: 'rt-button rt-button-quiet adm-reject', text: 'Reject' });
    const details = [
      h('span', { class: 'adm-on' }, 'on ', h('button', {
        type: 'button',
        class: 'rt-action adm-article',
        text: this.titleOf(held.article),
        title: 'Show the published comments of this article',
        dataset: { article: held.article },
        onclick: () => this.onShowArticle(held.article),
      })),
      held.parent === null ? null : h('span', { class: 'adm-parent', text: `reply to #${held.parent}` }),
    ];
    const { node, status } = adminCard(held, {
      id: `pending-${held.id}`,
      label: `Held comment by ${held.author}`,
      details,
      actions: [approve, reject, this.banButton('pending', held, () => node)],
    });
    node.querySelector('.adm-card').prepend(h('p', { class: 'adm-reason', text: `Held: ${held.reason}` }));
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
