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

import { Api } from './api.js';
import { h } from './dom.js';
import { countHeading, readers } from './format.js';
import { CommentForm } from './form.js';
import { LiveSocket } from './live.js';
import { OwnComments } from './owned.js';
import { ownerControls } from './owner.js';
import { commentNode, markRemoved, refreshTimes, setReplyLabel, updateComment } from './render.js';

const PAGE_SIZE = 50;
const MAX_DEPTH = 3; // deeper replies stop indenting (CSS) and say whom they answer
const HIGHLIGHT_MS = 4000;
const STATES = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  closed: 'Offline',
};

export function mountThread(root, options) {
  const thread = new Thread(root, options);
  thread.start();
  return thread;
}

class Thread {
  constructor(root, { base = window.location.origin, slug, pageSize = PAGE_SIZE }) {
    this.root = root;
    this.api = new Api(base);
    this.slug = slug;
    this.pageSize = pageSize;
    this.own = new OwnComments(base);
    this.entries = new Map(); // id -> { comment, node, removed }
    this.orphans = new Map(); // parent id not (yet) shown -> [child ids]
    this.count = 0;
    this.title = '';
    this.gap = null; // { after, until }: comments with after < id <= until not loaded yet
    this.liveAfter = null; // ?after= for the next connection
    this.rev = null; // ?rev= for it: the newest edit or deletion this page shows
    this.announcements = [];
  }

  async start() {
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
      return;
    }
    this.title = article.title;
    this.closed = Boolean(article.closed);
    this.root.dispatchEvent(new CustomEvent('realtime:article', { detail: article }));
    this.count = page.count;
    this.rev = page.rev ?? null; // edits and deletions up to here are in the page
    page.comments.forEach((comment) => this.add(comment));
    if (page.next === null) this.liveAfter = page.comments.at(-1)?.id ?? 0;
    else this.openGap(page.next);
    this.form = new CommentForm({ config: this.config, onSubmit: (fields) => this.post(fields) });
    this.section.insertBefore(this.form.homeSlot, this.announcer);
    this.setClosed(this.closed);
    this.render();
    this.socket = new LiveSocket({
      url: () => this.socketUrl(),
      onEvent: (event) => this.handle(event),
      onState: (state, detail) => this.showState(state, detail),
    }).start();
    setInterval(() => refreshTimes(this.list), 30000);
  }

  skeleton() {
    this.heading = h('h2', { class: 'rt-heading', text: 'Loading comments…' });
    this.status = h('span', { class: 'rt-status', role: 'status', dataset: { state: 'connecting' } });
    this.watchers = h('span', { class: 'rt-watchers', hidden: true });
    this.list = h('ol', { class: 'rt-list' });
    this.announcer = h('div', { class: 'rt-sr-only', 'aria-live': 'polite' });
    this.section = h(
      'section',
      { class: 'rt-thread', 'aria-label': 'Comments' },
      h('header', { class: 'rt-header' }, this.heading, h('p', { class: 'rt-meta' }, this.status, this.watchers)),
      this.list,
      this.announcer,
    );
    this.root.classList.add('rt');
    this.root.replaceChildren(this.section);
  }

  fail(error) {
    this.heading.textContent =
      error.status === 404 ? 'Comments are not available for this article.' : 'Comments could not be loaded.';
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
        if (this.add(event.comment, { live: true })) this.queueAnnouncement(event.comment);
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
    this.status.textContent =
      state === 'closed' && detail?.code === 4404 ? 'This article has no live thread' : STATES[state];
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
    const hidden = Math.max(0, this.count - this.shown());
    this.gap.button.textContent =
      hidden === 1 ? 'Show 1 more comment' : hidden > 0 ? `Show ${hidden} more comments` : 'Show more comments';
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
      const waiting = this.gap && comment.parent > this.gap.after;
      text = waiting ? 'replying to an earlier comment' : 'replying to a removed comment';
    } else if (depth(node) > MAX_DEPTH && !parent.removed) {
      text = `replying to ${parent.comment.author}`;
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
    gap.button.textContent = 'Loading…';
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
      gap.button.textContent = `${error.message} Try again`;
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
      this.announce('Your comment is awaiting moderation.');
      return 'Thank you. Your comment is awaiting moderation and will appear once approved.';
    }
    this.own.remember(comment, token, this.config.edit_window_seconds);
    if (this.add(comment, { live: true })) {
      this.count += 1; // the echo, when it comes, brings the exact count
      this.render();
    } else {
      ownerControls(this.entries.get(comment.id).node, comment, this.ownerContext());
    }
    this.announce('Your comment was posted.');
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

  queueAnnouncement(comment) {
    this.announcements.push(comment);
    if (this.announcements.length > 1) return;
    setTimeout(() => {
      const batch = this.announcements;
      this.announcements = [];
      this.announce(
        batch.length === 1 ? `New comment from ${batch[0].author}.` : `${batch.length} new comments.`,
      );
    }, 1000);
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

function flash(node, name) {
  node.classList.add(name);
  setTimeout(() => node.classList.remove(name), HIGHLIGHT_MS);
}
