// One comment as the moderators see it, held or published: the whole body as plain text (no
// links to click: it may be spam), who wrote it, when, and the buttons of the list it is in.

import { identicon } from './avatar.js';
import { h, replace } from './dom.js';
import { t } from './i18n.js';
import { timeNode } from './render.js';

/**
 * <li class="adm-item" id="…" data-id="17">
 *   <article class="adm-card">head (avatar, author, details, time), body, actions, status</article>
 * </li>
 */
export function adminCard(comment, { id, label, details = [], actions = [] }) {
  const status = h('span', { class: 'adm-status', role: 'status' });
  const footer = h('footer', { class: 'adm-actions' }, actions, status);
  const node = h(
    'li',
    { class: 'adm-item', id, dataset: { id: comment.id } },
    h(
      'article',
      { class: 'adm-card', 'aria-label': label },
      h(
        'header',
        { class: 'rt-card-head' },
        identicon(comment.avatar),
        h(
          'div',
          { class: 'rt-byline' },
          h('span', { class: 'rt-author', text: comment.author }),
          details,
          h('span', { class: 'rt-when' }, timeNode(comment.created)),
        ),
      ),
      h('div', { class: 'adm-body', text: comment.body }),
      footer,
    ),
  );
  return { node, footer, status };
}

/** "Delete this comment?" with Yes / Keep in place of `controls`' buttons until answered. */
export function confirmInPlace(controls, { question, yes, onYes }) {
  const original = [...controls.childNodes];
  const restore = () => replace(controls, original);
  replace(
    controls,
    h('span', { class: 'rt-confirm', text: question }),
    h('button', {
      type: 'button',
      class: 'rt-action rt-delete-yes',
      text: yes,
      onclick: async () => {
        if ((await onYes()) === false) restore();
      },
    }),
    h('button', { type: 'button', class: 'rt-action', text: t('owner.keep'), onclick: restore }),
  );
}

/** Buttons that stay disabled while their request runs, so a double click sends one. */
export function setBusy(buttons, busy) {
  for (const button of buttons) button.disabled = busy;
}
