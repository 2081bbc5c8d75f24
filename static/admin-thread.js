// One article's published comments for moderators, newest first: Delete on any of them, and
// Close / Reopen for the article. Loaded page by page, then kept current by the same WebSocket
// readers use (?after=<last id loaded>, so nothing falls between the pages and the live events).

import { isAuthError } from './admin-api.js';
import { adminCard, confirmInPlace } from './admin-card.js';
import { h } from './dom.js';
import { countLabel, readers } from './format.js';
import { t } from './i18n.js';
import { LiveSocket } from './live.js';

const PAGE = 500; // the API's largest page

export class ThreadDesk {
  /** @param {(error: Error) => void} onAuthError  the token was refused: sign out */
  /** @param {(source, comment, card: () => Element) => Element} banButton  a card's "Ban…" */
  constructor({ api, list, summary, toggle, onAuthError, banButton, onChange }) {
    this.api = api;
    this.list = list;
    this.summary = summary;
    this.toggle = toggle;
    this.onAuthError = onAuthError;
    this.banButton = banButton;
    this.onChange = onChange; // a moderator may have acted: the audit log has news
    this.items = new Map(); // comment id -> node
    this.generation = 0;
    this.socket = null;
    this.slug = null;
  }

  async show(slug) {
    this.stop();
    const generation = ++this.generation;
    this.slug = slug;
    this.items.clear();
    this.list.replaceChildren();
    this.toggle.disabled = true;
    this.summary.textContent = t('admin.loading');
    let article;
    const comments = [];
    try {
      article = await this.api.article(slug);
      for (let after = 0; after !== null; ) {
        const page = await this.api.page(slug, after, PAGE);
        comments.push(...page.comments);
        after = page.next;
      }
    } catch (error) {
      if (generation === this.generation) this.summary.textContent = error.message;
      return;
    }
    if (generation !== this.generation) return; // another article was chosen meanwhile
    this.count = article.count;
    this.watchers = 0;
    this.last = comments.at(-1)?.id ?? 0;
    comments.forEach((comment) => this.add(comment));
    this.showClosed(Boolean(article.closed));
    this.socket = new LiveSocket({
      url: () => this.api.wsUrl(`/ws/articles/${encodeURIComponent(slug)}?after=${this.last}`),
      onEvent: (event) => generation === this.generation && this.handle(event),
      onState: (state) => this.list.setAttribute('aria-busy', String(state !== 'live')),
    }).start();
  }

  stop() {
    this.generation += 1; // a load still running is dropped when it returns
    this.socket?.stop();
    this.socket = null;
  }

  handle(event) {
    switch (event.type) {
      case 'hello':
        this.count = event.count;
        this.watchers = event.watchers;
        this.showClosed(Boolean(event.closed));
        break;
      case 'comment':
        this.last = Math.max(this.last, event.comment.id);
        this.count = event.count;
        this.add(event.comment, { live: true });
        break;
      case 'edit':
        this.edited(event.comment);
        break;
      case 'delete':
        this.count = event.count;
        this.remove(event.id);
        this.onChange();
        break;
      case 'closed':
        this.showClosed(event.closed);
        this.onChange();
        break;
      case 'pin':
        this.showPinned(event.id, event.pinned);
        break;
      case 'vote':
        break;
      case 'watchers':
        this.watchers = event.count;
        break;
      case 'pong':
        break;
      default:
        console.warn('realtime: unknown event', event);
    }
    this.render();
  }

  render() {
    const parts = [countLabel(this.count), t(this.closed ? 'admin.closed_state' : 'admin.open_state')];
    if (this.watchers > 0) parts.push(readers(this.watchers));
    this.summary.textContent = parts.join(' · ');
  }

  showClosed(closed) {
    this.closed = closed;
    this.toggle.disabled = false;
    this.toggle.textContent = t(closed ? 'admin.reopen' : 'admin.close');
    this.render();
  }

  toggleClosed() {
    return this.setClosed(!this.closed);
  }

  async setClosed(closed) {
    this.toggle.disabled = true;
    try {
      const article = await this.api.setClosed(this.slug, closed);
      if (article.slug === this.slug) this.showClosed(Boolean(article.closed));
    } catch (error) {
      if (isAuthError(error)) return this.onAuthError(error);
      this.summary.textContent = error.message;
    } finally {
      this.toggle.disabled = false;
    }
  }

  // ---- the list, newest first ----------------------------------------------------------------

  add(comment, { live = false } = {}) {
    if (this.items.has(comment.id)) return;
    const node = this.card(comment);
    this.items.set(comment.id, node);
    let before = this.list.firstElementChild;
    while (before && Number(before.dataset.id) > comment.id) before = before.nextElementSibling;
    this.list.insertBefore(node, before);
    if (live) node.classList.add('adm-new');
  }

  edited(comment) {
    const node = this.items.get(comment.id);
    if (!node) return;
    node.querySelector('.adm-body').textContent = comment.body;
    node.querySelector('.rt-author').textContent = comment.author; // anonymised: "deleted"
    node.querySelector('.adm-edited').hidden = !comment.edited;
  }

  showPinned(id, pinned) {
    const button = this.items.get(id)?.querySelector('.adm-pin');
    if (!button) return;
    button.textContent = t(pinned ? 'admin.unpin' : 'admin.pin');
    button.setAttribute('aria-pressed', String(pinned));
  }

  async togglePinned(id, button, status) {
    const pinned = button.getAttribute('aria-pressed') !== 'true';
    button.disabled = true;
    try {
      this.showPinned(id, (await this.api.setPinned(id, pinned)).pinned);
    } catch (error) {
      if (isAuthError(error)) return this.onAuthError(error);
      status.textContent = error.message;
    } finally {
      button.disabled = false;
    }
    return undefined;
  }

  remove(id) {
    this.items.get(id)?.remove();
    this.items.delete(id);
  }

  card(comment) {
    const controls = h('span', { class: 'adm-controls' });
    const { node, status } = adminCard(comment, {
      id: `published-${comment.id}`,
      label: t('comment.label', { author: comment.author }),
      details: [
        h('span', { class: 'adm-id', text: `#${comment.id}` }),
        comment.parent === null ? null : h('span', { class: 'adm-parent', text: t('admin.reply_to', { id: comment.parent }) }),
        h('span', { class: 'adm-edited', text: t('comment.edited'), hidden: !comment.edited }),
      ],
      actions: [controls],
    });
    if (comment.parent === null) {
      const pin = h('button', {
        type: 'button',
        class: 'rt-action adm-pin',
        text: t(comment.pinned ? 'admin.unpin' : 'admin.pin'),
        'aria-pressed': String(Boolean(comment.pinned)),
        onclick: () => this.togglePinned(comment.id, pin, status),
      });
      controls.append(pin);
    }
    controls.append(
      h('button', {
        type: 'button',
        class: 'rt-action rt-delete',
        text: t('owner.delete'),
        onclick: () =>
          confirmInPlace(controls, {
            question: t('admin.delete_confirm'),
            yes: t('owner.yes'),
            onYes: () => this.delete(comment.id, status),
          }),
      }),
      this.banButton('comments', comment, () => node),
    );
    return node;
  }

  async delete(id, status) {
    try {
      await this.api.deleteComment(id);
    } catch (error) {
      if (isAuthError(error)) return this.onAuthError(error);
      if (error.status !== 404) {
        status.textContent = error.message;
        return false;
      }
    }
    this.remove(id); // the `delete` event follows with the new count
    return true;
  }
}
