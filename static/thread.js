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
//
// Orders. `oldest` is the above. `newest` and `top` read pages of threads (a root and all its
// replies; see docs/API.md) with a cursor, and the socket resumes after the newest comment the
// page saw. In `newest` a new comment appears at the top; in `top` new comments wait behind a
// "Show N new comments" button, so nothing jumps. Pinned comments stay first in every order.
// Replies always go under their parent, by id. Votes and pins change the comments in place.

import { Api } from './api.js';
import { h } from './dom.js';
import { countHeading, readers } from './format.js';
import { CommentForm } from './form.js';
import { loadLanguage, t, tn, useCatalog } from './i18n.js';
import { LiveSocket } from './live.js';
import { OwnComments, Voter } from './owned.js';
import { ownerControls } from './owner.js';
import {
  adoptCommentNode,
  commentNode,
  markRemoved,
  refreshTimes,
  setReplyLabel,
  showPinned,
  showScore,
  showVoted,
  updateComment,
} from './render.js';
import { sortControl, storedSort } from './sort.js';

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
  constructor(root, options) {
    const { base = window.location.origin, slug, pageSize = PAGE_SIZE, initial = null, lang = '', catalog = null } = options;
    this.options = options;
    this.root = root;
    this.sort = initial?.sort ?? options.sort ?? storedSort() ?? 'oldest';
    this.voter = new Voter(base);
    this.fresh = []; // `top`: new threads waiting behind their button
    this.waiting = new Map(); // sorted orders: parent id -> replies whose parent is not shown yet
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
    if (this.sorted) {
      this.liveAfter = page.last ?? 0; // the newest comment when the page was read
      if (page.cursor) this.openGap(page.cursor);
    } else if (page.next === null) this.liveAfter = page.comments.at(-1)?.id ?? this.before;
    else this.openGap(page.next);
    const form = {
      config: this.config,
      onSubmit: (fields) => this.post(fields),
      refreshConfig: () => this.api.config(),
      preview: (body) => this.api.preview(body),
    };
    if (this.initial) {
      this.form = new CommentForm({ ...form, element: this.section.querySelector('form.rt-form') });
    } else {
      this.form = new CommentForm(form);
      this.section.insertBefore(this.form.homeSlot, this.announcer);
      this.header.append(sortControl(this.sort, (sort) => this.resort(sort)));
    }
    this.setClosed(this.closed);
    this.render();
    if (this.initial?.reply) this.reply(this.initial.reply);
    this.goLive();
  }

  get sorted() {
    return this.sort !== 'oldest';
  }

  /** Another order: the page asks the server for it (links); an embed starts over. */
  resort(sort) {
    this.socket?.stop();
    mountThread(this.root, { ...this.options, initial: null, sort });
  }

  /** Fetch the first page and build the thread (the embed, or a page without server data). */
  async fetchPage() {
    this.skeleton();
    let article, page;
    try {
      [this.config, article, page] = await Promise.all([
        this.api.config(),
        this.api.article(this.slug),
        this.sorted ? this.api.sortedPage(this.slug, this.sort, this.pageSize) : this.api.page(this.slug, 0, this.pageSize),
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
    this.header = this.section.querySelector('.rt-header');
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
    adoptCommentNode(node, { onReply: () => this.reply(comment.id), ...this.voting(comment) });
    ownerControls(node, comment, this.ownerContext());
    return true;
  }

  /** What the vote buttons of a comment need: this voter's vote, and what a click does. */
  voting(comment) {
    const own = this.posted.has(comment.id) || this.own.get(comment.id) !== null;
    return { voted: this.voter.get(comment.id), onVote: own ? null : (value) => this.vote(comment.id, value) };
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
    this.header = h('header', { class: 'rt-header' }, this.heading, h('p', { class: 'rt-meta' }, this.status, this.watchers));
    this.section = h(
      'section',
      { class: 'rt-thread', 'aria-label': t('thread.label') },
      this.header,
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
        if (this.holdBack(event.comment)) {
          this.queueAnnouncement(event.comment);
        } else if (keepFocusInPlace(this.section, () => this.add(event.comment, { live: true }))) {
          this.queueAnnouncement(event.comment);
        }
        this.render();
        break;
      case 'vote':
        this.scored(event);
        break;
      case 'pin':
        this.seenChange(event.rev);
        this.pinned(event.id, event.pinned);
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
  add(comment, { live = false, top = false } = {}) {
    if (this.entries.has(comment.id)) {
      this.edited(comment);
      return false;
    }
    const parent = this.entries.get(comment.parent);
    if (this.sorted && comment.parent !== null && !parent && live) {
      // Its thread is on a page not shown yet: it comes with it, or when its parent arrives.
      this.waiting.set(comment.parent, [...(this.waiting.get(comment.parent) ?? []), comment]);
      return false;
    }
    const node = commentNode(comment, {
      onReply: () => this.reply(comment.id),
      votes: this.config?.votes ?? 'updown',
      ...this.voting(comment),
    });
    const entry = { comment, node, removed: false };
    this.entries.set(comment.id, entry);
    if (parent) insertById(replies(parent.node), node, comment.id);
    else if (!this.sorted) insertById(this.list, node, comment.id);
    else if (comment.pinned || top || (live && this.sort === 'newest')) this.placeFirst(node, comment.pinned);
    else this.list.insertBefore(node, this.gap?.sentinel ?? null); // in page order
    if (comment.parent !== null && !parent) {
      this.orphans.set(comment.parent, [...(this.orphans.get(comment.parent) ?? []), comment.id]);
    }
    this.label(entry);
    this.adopt(comment.id);
    for (const reply of this.waiting.get(comment.id) ?? []) this.add(reply, { live });
    this.waiting.delete(comment.id);
    ownerControls(node, comment, this.ownerContext());
    if (live) flash(node, 'rt-new');
    return true;
  }

  /** At the top of the list: first of all when pinned, else right below the pinned ones. */
  placeFirst(node, pinned) {
    let before = this.list.firstElementChild;
    while (!pinned && before?.classList.contains('rt-pinned')) before = before.nextElementSibling;
    this.list.insertBefore(node, before);
  }

  /** `top`: a new thread waits behind "Show N new comments" instead of jumping in. */
  holdBack(comment) {
    if (this.sort !== 'top' || comment.parent !== null || this.entries.has(comment.id)) return false;
    if (this.posted.has(comment.id)) return false;
    this.fresh.push(comment);
    if (!this.freshButton) {
      this.freshButton = h('button', { type: 'button', class: 'rt-button rt-fresh', onclick: () => this.showFresh() });
      this.list.before(this.freshButton);
    }
    this.freshButton.textContent = tn('thread.new_comments', this.fresh.length);
    return true;
  }

  showFresh() {
    const fresh = this.fresh;
    this.fresh = [];
    this.freshButton?.remove();
    this.freshButton = null;
    for (const comment of fresh) this.add(comment, { live: true, top: true });
    // The button is gone: focus goes to the newest of them, now at the top.
    const card = this.entries.get(fresh.at(-1)?.id)?.node.querySelector(':scope > .rt-card');
    card?.setAttribute('tabindex', '-1');
    card?.focus();
  }

  /** Our own comment is not news to us, even if its echo came before the POST's answer. */
  dropFresh(id) {
    this.fresh = this.fresh.filter((comment) => comment.id !== id);
    if (!this.freshButton) return;
    if (this.fresh.length) this.freshButton.textContent = tn('thread.new_comments', this.fresh.length);
    else {
      this.freshButton.remove();
      this.freshButton = null;
    }
  }

  // ---- votes and pins ------------------------------------------------------------------------

  async vote(id, value) {
    const entry = this.entries.get(id);
    if (!entry) return;
    const before = this.voter.get(id);
    this.voter.set(id, value);
    showVoted(entry.node, value);
    try {
      const tally = await this.api.vote(id, this.voter.token, value);
      entry.comment = { ...entry.comment, score: tally.score, up: tally.up, down: tally.down };
      showScore(entry.node, tally.score);
    } catch (error) {
      this.voter.set(id, before);
      showVoted(entry.node, before);
      this.announce(t('vote.failed', { error: error.message }));
    }
  }

  /** A `vote` event: events are coalesced and may come from several servers; the highest
   *  `seq` is the newest. */
  scored(event) {
    const entry = this.entries.get(event.id);
    if (!entry || entry.removed || (event.seq ?? 0) < (entry.voteSeq ?? 0)) return;
    entry.voteSeq = event.seq ?? 0;
    entry.comment = { ...entry.comment, score: event.score, up: event.up, down: event.down };
    showScore(entry.node, event.score);
  }

  pinned(id, pinned) {
    const entry = this.entries.get(id);
    if (!entry || entry.removed) return;
    entry.comment = { ...entry.comment, pinned };
    showPinned(entry.node, pinned);
    if (entry.node.parentElement !== this.list) return; // only threads' roots move
    if (pinned) this.placeFirst(entry.node, true);
    else this.placeInOrder(entry.node, entry.comment);
    flash(entry.node, 'rt-changed');
  }

  /** Back among the unpinned threads, where the order puts it (of those shown). */
  placeInOrder(node, comment) {
    const after = {
      oldest: (a, b) => a.id > b.id,
      newest: (a, b) => a.id < b.id,
      top: (a, b) => a.score < b.score || (a.score === b.score && a.id > b.id),
    }[this.sort];
    let before = this.list.firstElementChild;
    while (before && before !== this.gap?.sentinel) {
      const other = this.entries.get(Number(before.dataset.id))?.comment;
      if (before !== node && other && !other.pinned && after(other, comment)) break;
      before = before.nextElementSibling;
    }
    this.list.insertBefore(node, before);
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
    if (!entry || entry.removed) return;
    const was = entry.comment;
    if (was.edited === comment.edited && was.html === comment.html && was.pinned === comment.pinned) return;
    entry.comment = comment;
    updateComment(entry.node, comment);
    if (was.pinned !== comment.pinned) this.pinned(comment.id, comment.pinned);
    else if (live) flash(entry.node, 'rt-changed');
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

  /** `after`: the id the next page starts after, or (sorted orders) the next page's cursor. */
  openGap(after) {
    const button = h('button', { type: 'button', class: 'rt-button rt-button-quiet', onclick: () => this.loadGap() });
    const sentinel = h('li', { class: 'rt-gap' }, button);
    this.gap = { after, until: null, button, sentinel };
    if (this.sorted) this.list.append(sentinel);
    else this.placeGap();
  }

  async loadSortedGap() {
    const gap = this.gap;
    gap.button.disabled = true;
    gap.button.textContent = t('thread.loading_more');
    try {
      const page = await this.api.sortedPage(this.slug, this.sort, this.pageSize, gap.after);
      for (const comment of page.comments) this.add(comment);
      if (page.cursor) gap.after = page.cursor;
      else {
        gap.sentinel.remove();
        this.gap = null;
      }
    } catch (error) {
      gap.button.textContent = t('thread.try_again', { error: error.message });
    } finally {
      gap.button.disabled = false;
      this.render();
    }
  }

  placeGap() {
    this.gap.sentinel.dataset.key = String(this.gap.after + 0.5);
    insertById(this.list, this.gap.sentinel, this.gap.after + 0.5);
  }

  async loadGap() {
    if (this.sorted) return this.loadSortedGap();
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
    const { comment, token, status } = await this.api.post(this.slug, { ...fields, voter: this.voter.token });
    if (status === 'pending') {
      // Held for a moderator: its id is a queue id, not a comment's, and readers do not see it
      // yet. It arrives like any other comment, with its public id, once approved.
      this.announce(t('announce.held'));
      return t('form.held');
    }
    this.posted.add(comment.id);
    this.dropFresh(comment.id);
    this.own.remember(comment, token, this.config.edit_window_seconds);
    if (this.add(comment, { live: true, top: this.sorted && comment.parent === null })) {
      this.count += 1; // the echo, when it comes, brings the exact count
      this.render();
    } else {
      ownerControls(this.entries.get(comment.id).node, comment, this.ownerContext());
    }
    this.announce(t('announce.posted'));
    const node = this.entries.get(comment.id)?.node;
    // No votes on one's own comment (its echo may have come first, with working buttons).
    node?.querySelectorAll(':scope > .rt-card .rt-vote').forEach((button) => (button.disabled = true));
    node?.scrollIntoView({ block: 'nearest' });
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

/** Keep a list in id order (below its pinned comments); new comments are nearly always last,
 *  so look from the end. */
function insertById(list, node, key) {
  let before = null;
  for (let el = list.lastElementChild; el && !el.classList.contains('rt-pinned') && keyOf(el) > key; el = el.previousElementSibling) {
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
