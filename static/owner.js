// Edit and Delete for the reader's own comments, while the edit window is open. The buttons
// remove themselves when it closes; the server is the judge either way (403 after the window).

import { h, replace } from './dom.js';
import { chars } from './format.js';
import { t } from './i18n.js';

/**
 * Add the controls to a comment node if this browser holds its token.
 * ctx: { api, own, config, onEdited(comment), onRemoved(id) }
 */
export function ownerControls(node, comment, ctx) {
  const entry = ctx.own.get(comment.id);
  const actions = node.querySelector(':scope > .rt-card > .rt-actions');
  if (!entry || !actions || actions.querySelector('.rt-owner')) return;
  const status = h('span', { class: 'rt-owner-status', role: 'status' });
  const controls = h(
    'span',
    { class: 'rt-owner' },
    h('button', {
      type: 'button',
      class: 'rt-action rt-edit',
      text: t('owner.edit'),
      onclick: () => startEdit(node, comment.id, ctx, status),
    }),
    h('button', {
      type: 'button',
      class: 'rt-action rt-delete',
      text: t('owner.delete'),
      onclick: () => confirmDelete(controls, comment.id, ctx, status),
    }),
  );
  actions.append(controls, status);
  const close = () => {
    controls.remove();
    node.querySelector(':scope > .rt-card > .rt-edit-form')?.remove();
    node.querySelector(':scope > .rt-card > .rt-body').hidden = false;
    actions.hidden = false;
  };
  setTimeout(close, Math.max(0, entry.expires - Date.now()));
}

function startEdit(node, id, ctx, status) {
  const card = node.querySelector(':scope > .rt-card');
  if (card.querySelector('.rt-edit-form')) return;
  const body = card.querySelector(':scope > .rt-body');
  const actions = card.querySelector(':scope > .rt-actions');
  const current = ctx.currentBody(id);
  const textarea = h('textarea', { name: 'body', rows: 4, 'aria-label': t('owner.edit_label') });
  textarea.value = current;
  const error = h('p', { class: 'rt-error', role: 'alert', hidden: true });
  const done = () => {
    form.remove();
    body.hidden = false;
    actions.hidden = false;
  };
  const form = h(
    'form',
    {
      class: 'rt-edit-form',
      novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        const text = textarea.value.trim();
        if (!text || chars(text) > ctx.config.body_max_chars) {
          error.textContent = text ? t('owner.too_long', { max: ctx.config.body_max_chars }) : t('owner.empty');
          error.hidden = false;
          return;
        }
        const entry = ctx.own.get(id);
        if (!entry) return done();
        try {
          ctx.onEdited(await ctx.api.edit(id, text, entry.token));
          done();
          status.textContent = t('owner.saved');
        } catch (problem) {
          error.textContent = problem.message;
          error.hidden = false;
        }
      },
    },
    textarea,
    error,
    h(
      'div',
      { class: 'rt-form-actions' },
      h('button', { type: 'submit', class: 'rt-button', text: t('owner.save') }),
      h('button', { type: 'button', class: 'rt-button rt-button-quiet', text: t('owner.cancel'), onclick: done }),
    ),
  );
  body.hidden = true;
  actions.hidden = true;
  body.after(form);
  textarea.focus();
}

function confirmDelete(controls, id, ctx, status) {
  const original = [...controls.childNodes];
  const restore = () => replace(controls, original);
  replace(
    controls,
    h('span', { class: 'rt-confirm', text: t('owner.confirm') }),
    h('button', {
      type: 'button',
      class: 'rt-action rt-delete-yes',
      text: t('owner.yes'),
      onclick: async () => {
        const entry = ctx.own.get(id);
        if (!entry) return restore();
        try {
          await ctx.api.remove(id, entry.token);
          ctx.onRemoved(id);
        } catch (problem) {
          restore();
          status.textContent = problem.message;
        }
      },
    }),
    h('button', { type: 'button', class: 'rt-action', text: t('owner.keep'), onclick: restore }),
  );
}
