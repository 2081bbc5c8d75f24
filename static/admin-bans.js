// Bans: a "Ban…" form on each comment card (held or published) and the list of bans, searchable,
// with Lift. Moderators never type an address: a ban is made from the comment, and the list shows
// only the /24 or /64 prefix of the network it matches, and whether it matches the e-mail.

import { isAuthError } from './admin-api.js';
import { setBusy } from './admin-card.js';
import { h, uid } from './dom.js';
import { fullDate } from './format.js';

const DURATIONS = [
  ['1440', '1 day'],
  ['10080', '1 week'],
  ['43200', '30 days'],
  ['', 'For good'],
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
      text: 'Ban…',
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
    const duration = h('select', { id: `${id}-duration`, name: 'duration' }, DURATIONS.map(([value, text]) => h('option', { value, text })));
    const status = h('p', { class: 'rt-error adm-ban-status', role: 'alert', hidden: true });
    const submit = h('button', { type: 'submit', class: 'rt-button adm-ban-submit', text: 'Ban' });
    const cancel = h('button', { type: 'button', class: 'rt-button rt-button-quiet', text: 'Cancel' });
    const form = h(
      'form',
      { class: 'adm-ban-form', novalidate: true, 'aria-label': `Ban ${comment.author}` },
      h('p', { class: 'adm-ban-title', text: `Ban ${comment.author} from commenting` }),
      h('div', { class: 'adm-ban-checks' }, check(address, `${id}-address`, 'Their network'), check(email, `${id}-email`, 'Their e-mail')),
      h('div', { class: 'rt-field' }, h('label', { for: `${id}-duration`, text: 'For' }), duration),
      h('div', { class: 'rt-field' }, h('label', { for: `${id}-reason`, text: 'Reason' }), reason),
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
      if (!reason.value.trim()) {
        say('Please give a reason.');
        reason.focus();
        return;
      }
      const minutes = duration.value ? Number(duration.value) : null;
      setBusy([submit, cancel], true);
      try {
        const ban = await this.api.ban(source, comment.id, {
          reason: reason.value.trim(),
          address: address.checked,
          email: email.checked,
          minutes,
        });
        form.replaceChildren(h('p', { class: 'adm-ban-done', role: 'status', text: `Banned: ${describe(ban)}.` }));
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
    this.empty.textContent = this.search.value.trim() ? 'No ban matches.' : 'No bans in force.';
    this.empty.hidden = found.bans.length > 0;
  }

  item(ban) {
    const status = h('span', { class: 'adm-status', role: 'status' });
    const lift = ban.active
      ? h('button', { type: 'button', class: 'rt-action adm-lift', text: 'Lift', onclick: () => this.lift(ban, lift, status) })
      : null;
    return h(
      'li',
      { class: 'adm-ban-item', dataset: { id: ban.id }, 'aria-label': `Ban ${ban.id}` },
      h('p', { class: 'adm-ban-what', text: describe(ban) }),
      h('p', { class: 'adm-ban-why', text: `“${ban.reason}” · ${ban.author} · by ${ban.moderator}, ${fullDate(ban.created)}` }),
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
  const on = [ban.address, ban.email ? 'e-mail' : null].filter(Boolean).join(' and ');
  return `${on}, ${ban.expires ? `until ${fullDate(ban.expires)}` : 'for good'}`;
}

function state(ban) {
  if (ban.lifted) return `Lifted by ${ban.lifted_by}.`;
  if (!ban.active) return 'Expired.';
  return 'In force.';
}
