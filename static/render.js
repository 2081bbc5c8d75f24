// One comment as DOM. The thread decides where it goes; this only builds and updates it.

import { identicon } from './avatar.js';
import { h, replace } from './dom.js';
import { ago, fullDate } from './format.js';
import { t } from './i18n.js';
import { bodyNodes } from './text.js';

/**
 * <li class="rt-comment" id="comment-17">
 *   <article class="rt-card">head, body, actions</article>
 *   <ol class="rt-replies"></ol>
 * </li>
 */
export function commentNode(comment, { replyingTo = null, onReply }) {
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
        h('span', { class: 'rt-replying-to', hidden: !replyingTo, text: replyingTo ?? '' }),
        h(
          'span',
          { class: 'rt-when' },
          h('a', { class: 'rt-permalink', href: `#comment-${comment.id}` }, timeNode(comment.created)),
          h('span', { class: 'rt-edited', hidden: !comment.edited, text: t('comment.edited') }),
        ),
      ),
    ),
    h('div', { class: 'rt-body' }, bodyNodes(comment.body)),
    h('footer', { class: 'rt-actions' }, replyButton(onReply)),
  );
  return h(
    'li',
    { class: 'rt-comment', id: `comment-${comment.id}`, dataset: { id: comment.id } },
    card,
    h('ol', { class: 'rt-replies' }),
  );
}

export function replyButton(onReply) {
  return h('button', { type: 'button', class: 'rt-action rt-reply', text: t('comment.reply'), onclick: onReply });
}

/**
 * Take over a comment the server rendered (the same markup as commentNode, but Reply is a link
 * for readers without JavaScript): Reply becomes the button that moves the form.
 */
export function adoptCommentNode(node, { onReply }) {
  node.querySelector(':scope > .rt-card > .rt-actions > a.rt-reply')?.replaceWith(replyButton(onReply));
  return node;
}

export function timeNode(iso) {
  return h('time', { datetime: iso, title: fullDate(iso), text: ago(iso) });
}

/** Apply an edit: new body text and the "edited" mark (and a new author: an anonymised one). */
export function updateComment(node, comment) {
  const card = node.querySelector(':scope > .rt-card');
  const author = card.querySelector('.rt-author');
  if (author.textContent !== comment.author) {
    author.textContent = comment.author;
    card.setAttribute('aria-label', t('comment.label', { author: comment.author }));
    card.querySelector('.rt-card-head').firstElementChild.replaceWith(identicon(comment.avatar));
  }
  replace(card.querySelector(':scope > .rt-body'), bodyNodes(comment.body));
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
