// Bans: a "Ban…" form on each comment card (held or published) and the list of bans, searchable,
// with Lift. Moderators never type an address: a ban is made from the comment, and the list shows
// only the /24 or /64 prefix of the network it matches, and whether it matches the e-mail.

import { isAuthError } from './admin-api.js';
import { setBusy } from './admin-card.js';
import { h, uid } from './dom.js';
import { fullDate } from './format.js';
import { t } from './i18n.js';

// Minutes, and what the moderator picks them by ('' is for good).
const DURATIONS = () => [
  ['1440', t('admin.ban_day')],
  ['10080', t('admin.ban_week')],
  ['43200', t('admin.ban_month')],
  ['', t('admin.ban_forever')],
];

export class Bans {
  /**
   * @param {object} parts  list, empty, search (input), everything (checkbox): the page's elements
   * @param {(error: Error) => void} onAuthError  the token was refused: sign out
   * @param {() => void} onChange  a ban was made or lifted (the audit log has a new entry)
   */
  constructor({ api, list, empty, search, everything, onAuthError, onChange }) {
    this.api = api;
    this.list = list;
    this.empty = empty;
    this.search = search;
    this.everything = everything;
    this.onAuthError = onAuthError;
    this.onChange = onChange;
    this.generation = 0;
    let timer = null;
    search.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(() => this.load(), 250);
    });
    everything.addEventListener('change', () => this.load());
  }

  /** The "Ban…" button of a card: opens the form inside that card. */
  button(source, comment, card) {
    return h('button', {
      type: 'button',
      class: 'rt-action adm-ban',
      text: t('admin.ban'),
      onclick: () => this.open(source, comment, card()),
    });
  }

  open(source, comment, card) {
    const open = card.querySelector('.adm-ban-form');
    if (open) return open.querySelector('input[name="reason"]').focus();
    const form = this.form(source, comment);
    card.querySelector('.adm-card').append(form);
    form.querySelector('input[name="reason"]').focus();
  }

  form(source, comment) {
    const id = uid('ban');
    const reason = h('input', { id: `${id}-reason`, name: 'reason', type: 'text', maxlength: 500, required: true, autocomplete: 'off' });
    const address = h('input', { id: `${id}-address`, name: 'address', type: 'checkbox', checked: true });
    const email = h('input', { id: `${id}-email`, name: 'email', type: 'checkbox', checked: true });
    const duration = h('select', { id: `${id}-duration`, name: 'duration' }, DURATIONS().map(([value, text]) => h('option', { value, text })));
    const status = h('p', { class: 'rt-error adm-ban-status', role: 'alert', hidden: true });
    const submit = h('button', { type: 'submit', class: 'rt-button adm-ban-submit', text: t('admin.ban_submit') });
    const cancel = h('button', { type: 'button', class: 'rt-button rt-button-quiet', text: t('admin.cancel') });
    const form = h(
      'form',
      { class: 'adm-ban-form', novalidate: true, 'aria-label': t('admin.ban_label', { author: comment.author }) },
      h('p', { class: 'adm-ban-title', text: t('admin.ban_title', { author: comment.author }) }),
      h(
        'div',
        { class: 'adm-ban-checks' },
        check(address, `${id}-address`, t('admin.ban_network')),
        check(email, `${id}-email`, t('admin.ban_email')),
      ),
      h('div', { class: 'rt-field' }, h('label', { for: `${id}-duration`, text: t('admin.ban_for') }), duration),
      h('div', { class: 'rt-field' }, h('label', { for: `${id}-reason`, text: t('admin.ban_reason') }), reason),
      status,
      h('div', { class: 'adm-ban-actions' }, submit, cancel),
    );
    cancel.addEventListener('click', () => form.remove());
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const say = (message) => {
        status.textContent = message;
        status.hidden = !message;
      };
      if (!address.checked && !email.checked) {
        say(t('admin.ban_what_missing'));
        address.focus();
        return;
      }
      if (!reason.value.trim()) {
        say(t('admin.ban_reason_missing'));
        reason.focus();
        return;
      }
      const minutes = duration.value ? Number(duration.value) : null;
      setBusy([submit, cancel], true);
      try {
        const ban = await this.api.ban(source, comment.id, {
          reason: reason.value.trim(),
          on: address.checked && email.checked ? 'both' : address.checked ? 'network' : 'email',
          minutes,
        });
        form.replaceChildren(h('p', { class: 'adm-ban-done', role: 'status', text: t('admin.banned', { what: describe(ban) }) }));
        this.load();
        this.onChange();
      } catch (error) {
        if (isAuthError(error)) return this.onAuthError(error);
        say(error.message);
        setBusy([submit, cancel], false);
      }
    });
    return form;
  }

  async load() {
    const generation = ++this.generation;
    let found;
    try {
      found = await this.api.bans({ q: this.search.value.trim(), all: this.everything.checked });
    } catch (error) {
      if (isAuthError(error)) return this.onAuthError(error);
      this.empty.textContent = error.message;
      this.empty.hidden = false;
      return;
    }
    if (generation !== this.generation) return; // a newer search is on its way
    this.list.replaceChildren(...found.bans.map((ban) => this.item(ban)));
    this.empty.textContent = t(this.search.value.trim() ? 'admin.bans_no_match' : 'admin.bans_empty');
    this.empty.hidden = found.bans.length > 0;
  }

  item(ban) {
    const status = h('span', { class: 'adm-status', role: 'status' });
    const lift = ban.active
      ? h('button', { type: 'button', class: 'rt-action adm-lift', text: t('admin.lift'), onclick: () => this.lift(ban, lift, status) })
      : null;
    return h(
      'li',
      { class: 'adm-ban-item', dataset: { id: ban.id }, 'aria-label': t('admin.ban_item', { id: ban.id }) },
      h('p', { class: 'adm-ban-what', text: describe(ban) }),
      h('p', {
        class: 'adm-ban-why',
        text: t('admin.ban_why', { reason: ban.reason, author: ban.author, moderator: actorName(ban.moderator), date: fullDate(ban.created) }),
      }),
      h('p', { class: 'adm-ban-state' }, state(ban), ' ', lift, ' ', status),
    );
  }

  async lift(ban, button, status) {
    button.disabled = true;
    try {
      await this.api.lift(ban.id);
    } catch (error) {
      if (isAuthError(error)) return this.onAuthError(error);
      status.textContent = error.message;
      button.disabled = false;
      return;
    }
    this.load();
    this.onChange();
  }
}

function check(input, id, text) {
  return h('span', { class: 'adm-check' }, input, h('label', { for: id, text }));
}

/** "203.0.113.0/24 and e-mail, for good" */
export function describe(ban) {
  const email = t('admin.ban_on_email');
  let on = ban.address ?? email;
  if (ban.address && ban.email) on = t('admin.ban_both', { network: ban.address, email });
  return ban.expires ? t('admin.ban_until', { on, date: fullDate(ban.expires) }) : t('admin.ban_for_good', { on });
}

function state(ban) {
  if (ban.lifted) return t('admin.ban_lifted', { moderator: actorName(ban.lifted_by) });
  return t(ban.active ? 'admin.ban_in_force' : 'admin.ban_expired');
}

/** A moderator's name as it is, the owner and the command line in the page's language. */
export function actorName(actor) {
  if (actor === 'owner') return t('admin.actor_owner');
  if (actor === 'cli') return t('admin.actor_cli');
  return actor;
}
