// One article's live thread: the count, the comments (oldest first, replies under their
// parent), the form, and the WebSocket that keeps it all current. Used by the article page and
// by embed.js on other sites; everything it fetches is built on `base`, the server's origin.
//
// Loading. The API pages ascending from `after`, so the thread opens with its first page (the
// start of the conversation). When that is the whole thread, the WebSocket resumes right after
// it (?after=<last id>) and nothing can fall between the two. When the thread is longer, the
// WebSocket starts at the present (no `after`; hello tells the newest id), new comments arrive
// below, and the comments in between wait behind "Show N more comments", fetched a page per
// click. After a drop, the socket always resumes with ?after=<newest id it delivered>.
//
// Server-rendered. The article page arrives with the thread, the form and, in a
// <script type="application/json"> block, the data they were made from (`initial`): the
// thread adopts those nodes as they are (no second fetch, no flash) and goes live from there.

import { Api } from './api.js';
import { h } from './dom.js';
import { countHeading, readers } from './format.js';
import { CommentForm } from './form.js';
import { loadLanguage, t, tn, useCatalog } from './i18n.js';
import { LiveSocket } from './live.js';
import { OwnComments } from './owned.js';
import { ownerControls } from './owner.js';
import {
  adoptCommentNode,
  commentNode,
  markRemoved,
  refreshTimes,
  setReplyLabel,
  updateComment,
} from './render.js';

const PAGE_SIZE = 50;
const MAX_DEPTH = 3; // deeper replies stop indenting (CSS) and say whom they answer
const HIGHLIGHT_MS = 4000;
const ANNOUNCE_AFTER_MS = 1000; // new comments within this are announced together

export function mountThread(root, options) {
  const thread = new Thread(root, options);
  thread.start();
  return thread;
}

class Thread {
  /**
   * @param {object} [initial]  the server-rendered page's data: adopt its DOM
   * @param {string} [lang]  the catalog to use ('' for the server's language)
   * @param {object} [catalog]  a catalog already fetched ({lang, messages})
   */
  constructor(root, { base = window.location.origin, slug, pageSize = PAGE_SIZE, initial = null, lang = '', catalog = null }) {
    this.root = root;
    this.base = base;
    this.api = new Api(base);
    this.slug = slug;
    this.pageSize = initial?.pageSize ?? pageSize;
    this.initial = initial;
    this.lang = initial?.lang ?? lang;
    this.catalog = catalog;
    this.own = new OwnComments(base);
    this.entries = new Map(); // id -> { comment, node, removed }
    this.orphans = new Map(); // parent id not (yet) shown -> [child ids]
    this.count = 0;
    this.title = '';
    this.gap = null; // { after, until }: comments with after < id <= until not loaded yet
    this.liveAfter = null; // ?after= for the next connection
    this.rev = null; // ?rev= for it: the newest edit or deletion this page shows
    this.before = 0; // a server page that starts later (?after=): its replies' parents may be earlier
    this.announcements = [];
    this.posted = new Set(); // ids of this reader's own comments: never announced as new
  }

  async start() {
    try {
      if (this.catalog) useCatalog(this.catalog);
      else await loadLanguage(this.base, this.lang);
    } catch (error) {
      console.error('realtime: the messages could not be loaded', error);
      return; // a server-rendered thread stays as it is; an embed keeps its notice
    }
    const state = this.initial ? this.adoptPage(this.initial) : await this.fetchPage();
    if (!state) return;
    const { article, page } = state;
    this.title = article.title;
    this.closed = Boolean(article.closed);
    this.count = page.count;
    this.rev = page.rev ?? null; // edits and deletions up to here are in the page
    if (page.next === null) this.liveAfter = page.comments.at(-1)?.id ?? this.before;
    else this.openGap(page.next);
    const form = {
      config: this.config,
      onSubmit: (fields) => this.post(fields),
      refreshConfig: () => this.api.config(),
    };
    if (this.initial) {
      this.form = new CommentForm({ ...form, element: this.section.querySelector('form.rt-form') });
    } else {
      this.form = new CommentForm(form);
      this.section.insertBefore(this.form.homeSlot, this.announcer);
    }
    this.setClosed(this.closed);
    this.render();
    if (this.initial?.reply) this.reply(this.initial.reply);
    this.goLive();
  }

  /** Fetch the first page and build the thread (the embed, or a page without server data). */
  async fetchPage() {
    this.skeleton();
    let article, page;
    try {
      [this.config, article, page] = await Promise.all([
        this.api.config(),
        this.api.article(this.slug),
        this.api.page(this.slug, 0, this.pageSize),
      ]);
    } catch (error) {
      this.fail(error);
      return null;
    }
    this.root.dispatchEvent(new CustomEvent('realtime:article', { detail: article }));
    page.comments.forEach((comment) => this.add(comment));
    return { article, page };
  }

  /** Take over the thread the server rendered from `initial`, node by node. */
  adoptPage(initial) {
    this.config = initial.config;
    this.before = initial.after ?? 0;
    this.section = this.root.querySelector('.rt-thread');
    this.heading = this.section.querySelector('.rt-heading');
    this.status = this.section.querySelector('.rt-status');
    this.status.hidden = false;
    this.watchers = this.section.querySelector('.rt-watchers');
    this.list = this.section.querySelector('.rt-list');
    this.announcer = this.section.querySelector('[aria-live]');
    this.list.querySelector(':scope > .rt-gap')?.remove(); // openGap puts a button there
    for (const comment of initial.page.comments) this.adoptComment(comment);
    return initial;
  }

  adoptComment(comment) {
    const node = this.list.querySelector(`#comment-${comment.id}`);
    if (!node) return this.add(comment);
    this.entries.set(comment.id, { comment, node, removed: false });
    if (comment.parent !== null && !this.entries.has(comment.parent)) {
      this.orphans.set(comment.parent, [...(this.orphans.get(comment.parent) ?? []), comment.id]);
    }
    adoptCommentNode(node, { onReply: () => this.reply(comment.id) });
    ownerControls(node, comment, this.ownerContext());
    return true;
  }

  goLive() {
    this.socket = new LiveSocket({
      url: () => this.socketUrl(),
      onEvent: (event) => this.handle(event),
      onState: (state, detail) => this.showState(state, detail),
    }).start();
    setInterval(() => refreshTimes(this.list), 30000);
  }

  skeleton() {
    this.heading = h('h2', { class: 'rt-heading', text: t('thread.loading') });
    this.status = h('span', { class: 'rt-status', role: 'status', dataset: { state: 'connecting' } });
    this.watchers = h('span', { class: 'rt-watchers', hidden: true });
    this.list = h('ol', { class: 'rt-list' });
    this.announcer = h('div', { class: 'rt-sr-only', 'aria-live': 'polite' });
    this.section = h(
      'section',
      { class: 'rt-thread', 'aria-label': t('thread.label') },
      h('header', { class: 'rt-header' }, this.heading, h('p', { class: 'rt-meta' }, this.status, this.watchers)),
      this.list,
      this.announcer,
    );
    this.root.classList.add('rt');
    this.root.replaceChildren(this.section);
  }

  fail(error) {
    this.heading.textContent = error.status === 404 ? t('thread.unavailable') : t('thread.failed');
    this.status.hidden = true;
    this.list.replaceWith(h('p', { class: 'rt-error', text: error.message }));
  }

  socketUrl() {
    const url = this.api.wsUrl(`/ws/articles/${encodeURIComponent(this.slug)}`);
    if (this.liveAfter === null) return url;
    // With rev, the server also sends the edits and deletions made since: no stale comment.
    return this.rev === null ? `${url}?after=${this.liveAfter}` : `${url}?after=${this.liveAfter}&rev=${this.rev}`;
  }

  // ---- events from the server ------------------------------------------------------------

  handle(event) {
    switch (event.type) {
      case 'hello':
        this.count = event.count;
        if (this.liveAfter === null) {
          this.liveAfter = event.last ?? 0;
          if (this.gap && this.gap.until === null) this.gap.until = this.liveAfter;
        }
        if (this.rev === null) this.rev = event.rev ?? null;
        this.showWatchers(event.watchers);
        this.setClosed(Boolean(event.closed));
        this.render();
        break;
      case 'comment':
        this.liveAfter = Math.max(this.liveAfter ?? 0, event.comment.id);
        this.count = event.count;
        if (keepFocusInPlace(this.section, () => this.add(event.comment, { live: true }))) {
          this.queueAnnouncement(event.comment);
        }
        this.render();
        break;
      case 'edit':
        this.seenChange(event.rev);
        this.edited(event.comment, { live: true });
        break;
      case 'delete':
        this.seenChange(event.rev);
        this.count = event.count;
        this.removed(event.id);
        this.render();
        break;
      case 'watchers':
        this.showWatchers(event.count);
        break;
      case 'closed':
        this.setClosed(event.closed);
        break;
      case 'pong':
        break;
      default:
        console.warn('realtime: unknown event', event);
    }
  }

  seenChange(rev) {
    if (typeof rev === 'number') this.rev = Math.max(this.rev ?? 0, rev);
  }

  showState(state, detail) {
    this.status.dataset.state = state;
    this.status.textContent = state === 'closed' && detail?.code === 4404 ? t('state.no_thread') : t(`state.${state}`);
  }

  setClosed(closed) {
    this.closed = closed;
    this.section.classList.toggle('rt-is-closed', closed);
    this.form?.setClosed(closed);
  }

  showWatchers(count) {
    this.watchers.textContent = readers(count);
    this.watchers.hidden = !(count > 0);
  }

  render() {
    this.heading.textContent = countHeading(this.count, this.title);
    if (!this.gap) return;
    // How many are hidden is known only when the page starts at the first comment.
    const hidden = this.before === 0 ? Math.max(0, this.count - this.shown()) : 0;
    this.gap.button.textContent = hidden > 0 ? tn('thread.show_more', hidden) : t('thread.show_more_any');
  }

  shown() {
    let n = 0;
    for (const entry of this.entries.values()) if (!entry.removed) n += 1;
    return n;
  }

  // ---- the tree ----------------------------------------------------------------------------

  /** Add a comment where it belongs; false if it is already shown (the echo of our own post). */
  add(comment, { live = false } = {}) {
    if (this.entries.has(comment.id)) {
      this.edited(comment);
      return false;
    }
    const parent = this.entries.get(comment.parent);
    const node = commentNode(comment, { onReply: () => this.reply(comment.id) });
    const entry = { comment, node, removed: false };
    this.entries.set(comment.id, entry);
    insertById(parent ? replies(parent.node) : this.list, node, comment.id);
    if (comment.parent !== null && !parent) {
      this.orphans.set(comment.parent, [...(this.orphans.get(comment.parent) ?? []), comment.id]);
    }
    this.label(entry);
    this.adopt(comment.id);
    ownerControls(node, comment, this.ownerContext());
    if (live) flash(node, 'rt-new');
    return true;
  }

  /** Replies shown before their parent (it was in an unloaded page) move under it. */
  adopt(id) {
    const children = this.orphans.get(id);
    if (!children) return;
    this.orphans.delete(id);
    const parent = this.entries.get(id);
    for (const childId of children) {
      const child = this.entries.get(childId);
      if (!child) continue;
      insertById(replies(parent.node), child.node, childId);
      for (const node of [child.node, ...child.node.querySelectorAll('.rt-comment')]) {
        const entry = this.entries.get(Number(node.dataset.id));
        if (entry) this.label(entry);
      }
    }
  }

  /** Whom a reply answers, when the indentation no longer shows it. */
  label(entry) {
    const { comment, node } = entry;
    if (comment.parent === null) return;
    const parent = this.entries.get(comment.parent);
    let text = null;
    if (!parent) {
      const waiting = (this.gap && comment.parent > this.gap.after) || comment.parent <= this.before;
      text = waiting ? t('comment.replying_earlier') : t('comment.replying_removed');
    } else if (depth(node) > MAX_DEPTH && !parent.removed) {
      text = t('comment.replying_to', { author: parent.comment.author });
    }
    setReplyLabel(node, text);
  }

  edited(comment, { live = false } = {}) {
    const entry = this.entries.get(comment.id);
    if (!entry || entry.removed || entry.comment.edited === comment.edited) return;
    entry.comment = comment;
    updateComment(entry.node, comment);
    if (live) flash(entry.node, 'rt-changed');
  }

  removed(id) {
    const entry = this.entries.get(id);
    if (!entry || entry.removed) return;
    this.own.forget(id);
    if (this.form?.parent === id) this.form.home();
    if (replies(entry.node).querySelector('.rt-comment')) {
      entry.removed = true; // its replies stay, under a placeholder
      markRemoved(entry.node);
      return;
    }
    const parentNode = entry.node.parentElement.closest('.rt-comment');
    entry.node.remove();
    this.entries.delete(id);
    const parent = parentNode && this.entries.get(Number(parentNode.dataset.id));
    if (parent?.removed && !replies(parent.node).querySelector('.rt-comment')) {
      parent.node.remove();
      this.entries.delete(parent.comment.id);
    }
  }

  // ---- paging --------------------------------------------------------------------------------

  openGap(after) {
    const button = h('button', { type: 'button', class: 'rt-button rt-button-quiet', onclick: () => this.loadGap() });
    const sentinel = h('li', { class: 'rt-gap' }, button);
    this.gap = { after, until: null, button, sentinel };
    this.placeGap();
  }

  placeGap() {
    this.gap.sentinel.dataset.key = String(this.gap.after + 0.5);
    insertById(this.list, this.gap.sentinel, this.gap.after + 0.5);
  }

  async loadGap() {
    const gap = this.gap;
    gap.button.disabled = true;
    gap.button.textContent = t('thread.loading_more');
    try {
      const page = await this.api.page(this.slug, gap.after, this.pageSize);
      for (const comment of page.comments) {
        if (gap.until !== null && comment.id > gap.until) break;
        this.add(comment);
      }
      const end = page.next === null || (gap.until !== null && page.next >= gap.until);
      if (end) this.closeGap(page);
      else {
        gap.after = page.next;
        this.placeGap();
      }
    } catch (error) {
      gap.button.textContent = t('thread.try_again', { error: error.message });
    } finally {
      gap.button.disabled = false;
      this.render();
    }
  }

  closeGap(page) {
    this.gap.sentinel.remove();
    this.gap = null;
    // Never connected yet: resume after what the pages showed, so nothing falls in between.
    if (this.liveAfter === null) this.liveAfter = page.comments.at(-1)?.id ?? 0;
    for (const entry of this.entries.values()) this.label(entry);
  }

  // ---- the reader's own actions --------------------------------------------------------------

  reply(id) {
    const entry = this.entries.get(id);
    if (!entry || entry.removed) return;
    this.form.replyTo(id, entry.comment.author, entry.node.querySelector(':scope > .rt-card'));
  }

  /** Post through the API; resolves to a notice for the form when there is one. */
  async post(fields) {
    const { comment, token, status } = await this.api.post(this.slug, fields);
    if (status === 'pending') {
      // Held for a moderator: its id is a queue id, not a comment's, and readers do not see it
      // yet. It arrives like any other comment, with its public id, once approved.
      this.announce(t('announce.held'));
      return t('form.held');
    }
    this.posted.add(comment.id);
    this.own.remember(comment, token, this.config.edit_window_seconds);
    if (this.add(comment, { live: true })) {
      this.count += 1; // the echo, when it comes, brings the exact count
      this.render();
    } else {
      ownerControls(this.entries.get(comment.id).node, comment, this.ownerContext());
    }
    this.announce(t('announce.posted'));
    this.entries.get(comment.id)?.node.scrollIntoView({ block: 'nearest' });
    return undefined;
  }

  ownerContext() {
    return {
      api: this.api,
      own: this.own,
      config: this.config,
      currentBody: (id) => this.entries.get(id)?.comment.body ?? '',
      onEdited: (comment) => this.edited(comment),
      onRemoved: (id) => this.removed(id),
    };
  }

  // ---- screen readers --------------------------------------------------------------------------

  /** One polite announcement for the comments of a moment: "3 new comments", not three. */
  queueAnnouncement(comment) {
    this.announcements.push(comment);
    if (this.announcements.length > 1) return;
    setTimeout(() => {
      // The echo of our own comment can come before the answer to our POST: not news to us.
      const batch = this.announcements.filter((comment) => !this.posted.has(comment.id));
      this.announcements = [];
      if (batch.length === 0) return;
      this.announce(
        batch.length === 1
          ? t('announce.new_one', { author: batch[0].author })
          : tn('announce.new_many', batch.length),
      );
    }, ANNOUNCE_AFTER_MS);
  }

  announce(text) {
    this.announcer.textContent = text;
  }
}

function replies(node) {
  return node.querySelector(':scope > .rt-replies');
}

function depth(node) {
  let n = 0;
  for (let el = node.parentElement; el; el = el.parentElement) {
    if (el.classList.contains('rt-comment')) n += 1;
  }
  return n;
}

function keyOf(el) {
  return Number(el.dataset.key ?? el.dataset.id);
}

/** Keep a list in id order; new comments are nearly always last, so look from the end. */
function insertById(list, node, key) {
  let before = null;
  for (let el = list.lastElementChild; el && keyOf(el) > key; el = el.previousElementSibling) {
    before = el;
  }
  list.insertBefore(node, before);
}

/**
 * Run `change` (a comment arriving) without moving what the reader is working on: when focus
 * is in the thread (writing, or on a button) and the change pushes it down the page, scroll by
 * as much. The browser's own scroll anchoring holds the top of the screen instead, which is
 * right for reading but lets the form slide away from someone typing into it.
 */
function keepFocusInPlace(section, change) {
  const focused = document.activeElement;
  if (!focused || focused === document.body || !section.contains(focused)) return change();
  const before = focused.getBoundingClientRect().top;
  const result = change();
  const shift = focused.getBoundingClientRect().top - before;
  if (shift !== 0) window.scrollBy(0, shift);
  return result;
}

function flash(node, name) {
  node.classList.add(name);
  setTimeout(() => node.classList.remove(name), HIGHLIGHT_MS);
}
