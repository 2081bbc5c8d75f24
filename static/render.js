// One comment as DOM. The thread decides where it goes; this only builds and updates it.

import { identicon } from './avatar.js';
import { h, replace } from './dom.js';
import { ago, fullDate } from './format.js';
import { serverHtml } from './html.js';
import { t, tn } from './i18n.js';

/**
 * <li class="rt-comment" id="comment-17">
 *   <article class="rt-card">head, body (the server's sanitized html), votes and actions</article>
 *   <ol class="rt-replies"></ol>
 * </li>
 * votes: 'updown' | 'up' | 'off'; onVote(value) is called with 1, -1 or 0 (taking it back).
 */
export function commentNode(comment, { replyingTo = null, onReply, votes = 'updown', voted = 0, onVote = null }) {
  const card = h(
    'article',
    { class: 'rt-card', 'aria-label': t('comment.label', { author: comment.author }) },
    h(
      'header',
      { class: 'rt-card-head' },
      identicon(comment.avatar),
      h(
        'div',
        { class: 'rt-byline' },
        h('span', { class: 'rt-author', text: comment.author }),
        h('span', { class: 'rt-pin-label', hidden: !comment.pinned, text: t('comment.pinned') }),
        h('span', { class: 'rt-replying-to', hidden: !replyingTo, text: replyingTo ?? '' }),
        h(
          'span',
          { class: 'rt-when' },
          h('a', { class: 'rt-permalink', href: `#comment-${comment.id}` }, timeNode(comment.created)),
          h('span', { class: 'rt-edited', hidden: !comment.edited, text: t('comment.edited') }),
        ),
      ),
    ),
    h('div', { class: 'rt-body' }, serverHtml(comment.html)),
    h('footer', { class: 'rt-actions' }, votesNode(comment, votes), replyButton(onReply)),
  );
  const node = h(
    'li',
    { class: comment.pinned ? 'rt-comment rt-pinned' : 'rt-comment', id: `comment-${comment.id}`, dataset: { id: comment.id } },
    card,
    h('ol', { class: 'rt-replies' }),
  );
  wireVotes(node, voted, onVote);
  return node;
}

/** ▲ score ▼: the buttons are named for screen readers and pressed when this voter voted. */
function votesNode(comment, mode) {
  if (mode === 'off') return null;
  const button = (value, name, symbol) =>
    h('button', { type: 'button', class: `rt-vote rt-vote-${name}`, 'aria-label': t(`vote.${name}`), 'aria-pressed': 'false', text: symbol, dataset: { value } });
  return h(
    'span',
    { class: 'rt-votes', role: 'group', 'aria-label': t('vote.group') },
    button(1, 'up', '▲'),
    scoreNode(comment.score),
    mode === 'updown' ? button(-1, 'down', '▼') : null,
  );
}

function scoreNode(score) {
  return h(
    'span',
    { class: 'rt-score' },
    h('span', { 'aria-hidden': 'true', text: String(score) }),
    h('span', { class: 'rt-sr-only', text: tn('vote.points', score) }),
  );
}

/** Make the vote buttons work (the server renders them disabled, for readers without us). */
export function wireVotes(node, voted, onVote) {
  const buttons = node.querySelectorAll(':scope > .rt-card > .rt-actions > .rt-votes > .rt-vote');
  for (const button of buttons) {
    if (!onVote) continue;
    button.disabled = false;
    button.addEventListener('click', () => {
      const value = Number(button.dataset.value);
      onVote(button.getAttribute('aria-pressed') === 'true' ? 0 : value);
    });
  }
  showVoted(node, voted);
}

/** This voter's vote on the comment: which button is pressed. */
export function showVoted(node, value) {
  for (const button of node.querySelectorAll(':scope > .rt-card > .rt-actions > .rt-votes > .rt-vote')) {
    button.setAttribute('aria-pressed', String(Number(button.dataset.value) === value));
  }
}

export function showScore(node, score) {
  const current = node.querySelector(':scope > .rt-card > .rt-actions > .rt-votes > .rt-score');
  current?.replaceWith(scoreNode(score));
}

export function showPinned(node, pinned) {
  node.classList.toggle('rt-pinned', pinned);
  const label = node.querySelector(':scope > .rt-card .rt-pin-label');
  if (label) label.hidden = !pinned;
}

export function replyButton(onReply) {
  return h('button', { type: 'button', class: 'rt-action rt-reply', text: t('comment.reply'), onclick: onReply });
}

/**
 * Take over a comment the server rendered (the same markup as commentNode, but Reply is a link
 * for readers without JavaScript): Reply becomes the button that moves the form.
 */
export function adoptCommentNode(node, { onReply, voted = 0, onVote = null }) {
  node.querySelector(':scope > .rt-card > .rt-actions > a.rt-reply')?.replaceWith(replyButton(onReply));
  wireVotes(node, voted, onVote);
  return node;
}

export function timeNode(iso) {
  return h('time', { datetime: iso, title: fullDate(iso), text: ago(iso) });
}

/** Apply an edit: new body, the "edited" mark, the score and the pin as they stand now (and a new
 *  author: an anonymised one). */
export function updateComment(node, comment) {
  const card = node.querySelector(':scope > .rt-card');
  const author = card.querySelector('.rt-author');
  if (author.textContent !== comment.author) {
    author.textContent = comment.author;
    card.setAttribute('aria-label', t('comment.label', { author: comment.author }));
    card.querySelector('.rt-card-head').firstElementChild.replaceWith(identicon(comment.avatar));
  }
  replace(card.querySelector(':scope > .rt-body'), serverHtml(comment.html));
  showScore(node, comment.score);
  showPinned(node, comment.pinned);
  const edited = node.querySelector(':scope > .rt-card .rt-edited');
  edited.hidden = !comment.edited;
  if (comment.edited) edited.title = fullDate(comment.edited);
}

export function setReplyLabel(node, text) {
  const label = node.querySelector(':scope > .rt-card .rt-replying-to');
  if (!label) return; // a removed placeholder has no byline
  label.textContent = text ?? '';
  label.hidden = !text;
}

/** A removed comment that still has replies keeps its place as a placeholder. */
export function markRemoved(node) {
  node.classList.add('rt-removed');
  const card = node.querySelector(':scope > .rt-card');
  replace(card, h('p', { class: 'rt-removed-note', text: t('comment.removed') }));
}

export function refreshTimes(root, now = Date.now()) {
  for (const time of root.querySelectorAll('.rt-permalink time')) {
    time.textContent = ago(time.dateTime, now);
  }
}
