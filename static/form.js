// The comment form: labelled fields named as the API names them (author, email, body), the
// server's bounds checked before sending, and the server's own errors shown by the field they
// name. Reply moves the whole form under a comment; Cancel moves it back. On the article page
// the server has rendered the form already (it also posts without JavaScript): `adopt` takes
// it over as it is; `build` makes one for the embed.

import { h, replace, uid } from './dom.js';
import { chars } from './format.js';
import { serverHtml } from './html.js';
import { t } from './i18n.js';
import { remembered } from './owned.js';

const PREVIEW_AFTER_MS = 300; // typing pauses this long before the server renders a preview

// The server's EMAIL_PATTERN (realtime/models.py): controls and every kind of space spelled out.
const NO_SPACE = '\\x00-\\x20\\x7f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff';
const EMAIL = new RegExp(`^[^@${NO_SPACE}]+@[^@${NO_SPACE}]+\\.[^@${NO_SPACE}]+$`);
const FIELDS = ['body', 'author', 'email'];

/** Field name -> message, for what the server would refuse anyway. */
export function validate(values, config) {
  const errors = {};
  const author = values.author.trim();
  const body = values.body.trim();
  const email = values.email.trim();
  if (!author) errors.author = t('form.author_missing');
  else if (chars(author) > config.author_max_chars) {
    errors.author = t('form.author_too_long', { max: config.author_max_chars });
  }
  if (email && (email.length > config.email_max_chars || !EMAIL.test(email))) {
    errors.email = t('form.email_invalid');
  } else if (values.notify && !email) {
    errors.email = t('form.notify_needs_email');
  }
  if (!body) errors.body = t('form.body_missing');
  else if (chars(body) > config.body_max_chars) {
    const over = chars(body) - config.body_max_chars;
    errors.body = t('form.body_too_long', { over, max: config.body_max_chars });
  }
  return errors;
}

export class CommentForm {
  /**
   * @param {(fields: object) => Promise<string|undefined>} onSubmit  resolves to a notice to
   *        show, if any; throws ApiError on refusal
   * @param {() => Promise<object>} refreshConfig  the server's bounds, asked again
   * @param {HTMLFormElement} [element]  the server-rendered form to take over
   */
  constructor({ config, onSubmit, refreshConfig = async () => config, element = null, preview = null }) {
    this.config = config;
    this.render = preview; // (body) => Promise<{html}>: the server's rendering of a draft
    this.previewTimer = null;
    this.previewed = null;
    this.onSubmit = onSubmit;
    this.refreshConfig = refreshConfig;
    this.parent = null;
    this.fields = {};
    this.errors = {};
    if (element) this.adopt(element);
    else this.build();
  }

  /** The server's form (same markup as `build`, plus what it needs to post without us). */
  adopt(element) {
    this.element = element;
    this.homeSlot = element.closest('.rt-form-home');
    this.closedNote = this.homeSlot.querySelector('.rt-closed-note');
    this.title = element.querySelector('.rt-form-title');
    this.formError = element.querySelector('.rt-form-error');
    this.notice = element.querySelector('.rt-form-notice');
    this.submit = element.querySelector('.rt-form-actions > button[type=submit]');
    this.cancel = element.querySelector('.rt-form-actions > button[type=button]');
    this.cancel.addEventListener('click', () => this.home());
    element.querySelector('.rt-cancel-link')?.remove(); // the no-JavaScript way back
    for (const name of FIELDS) {
      const control = element.elements.namedItem(name);
      this.fields[name] = control;
      this.errors[name] = element.querySelector(`#${control.id}-error`);
      control.addEventListener('input', () => this.clearError(name));
    }
    this.trap = element.elements.namedItem('website');
    this.notify = element.elements.namedItem('notify');
    this.notify.addEventListener('change', () => this.clearError('email'));
    element.addEventListener('submit', (event) => this.send(event));
    if (!this.fields.author.value) this.fields.author.value = remembered.get('author');
    this.previewBox = element.querySelector('.rt-preview');
    this.previewBody = element.querySelector('.rt-preview-body');
    this.watchPreview();
  }

  /** The live preview: what the server would make of the draft, a moment after typing stops.
   *  Only the server's sanitizer makes HTML, so the preview is its answer, not ours. */
  watchPreview() {
    if (!this.render || !this.previewBox) return;
    this.fields.body.addEventListener('input', () => {
      clearTimeout(this.previewTimer);
      this.previewTimer = setTimeout(() => this.refreshPreview(), PREVIEW_AFTER_MS);
    });
    if (this.fields.body.value.trim()) this.refreshPreview();
  }

  async refreshPreview() {
    const body = this.fields.body.value;
    if (body === this.previewed) return;
    this.previewed = body;
    if (!body.trim()) {
      this.previewBox.hidden = true;
      replace(this.previewBody);
      return;
    }
    try {
      const { html } = await this.render(body);
      if (this.fields.body.value !== body) return; // typed on meanwhile: a newer one comes
      replace(this.previewBody, serverHtml(html));
      this.previewBox.hidden = false;
    } catch {
      this.previewed = null; // too long or offline: the field's own check says why on posting
    }
  }

  build() {
    this.title = h('h3', { class: 'rt-form-title', text: t('form.title') });
    this.previewBody = h('div', { class: 'rt-preview-body' });
    this.previewBox = h(
      'div',
      { class: 'rt-preview', hidden: true },
      h('p', { class: 'rt-preview-label', text: t('form.preview') }),
      this.previewBody,
    );
    const hint = this.config.format === 'text' ? 'form.format_hint_text' : 'form.format_hint';
    this.formError = h('p', { class: 'rt-error rt-form-error', role: 'alert', hidden: true });
    this.notice = h('p', { class: 'rt-form-notice', role: 'status', hidden: true });
    this.submit = h('button', { type: 'submit', class: 'rt-button', text: t('form.submit') });
    this.cancel = h('button', {
      type: 'button',
      class: 'rt-button rt-button-quiet',
      text: t('form.cancel_reply'),
      hidden: true,
      onclick: () => this.home(),
    });
    this.element = h(
      'form',
      { class: 'rt-form', novalidate: true, onsubmit: (event) => this.send(event) },
      this.title,
      this.field('body', t('form.body'), h('textarea', { rows: 5, required: true })),
      h('p', { class: 'rt-format-hint', text: t(hint) }),
      this.previewBox,
      h(
        'div',
        { class: 'rt-form-row' },
        this.field('author', t('form.author'), h('input', { type: 'text', autocomplete: 'name', required: true })),
        this.field(
          'email',
          t('form.email'),
          h('input', { type: 'email', autocomplete: 'email', inputmode: 'email' }),
          t('form.email_hint'),
        ),
      ),
      this.notifyBox(),
      this.honeypot(),
      this.formError,
      h('div', { class: 'rt-form-actions' }, this.submit, this.cancel),
      this.notice,
    );
    this.closedNote = h('p', { class: 'rt-closed-note', hidden: true, text: t('form.closed') });
    this.fields.author.value = remembered.get('author');
    this.homeSlot = h('div', { class: 'rt-form-home' }, this.element, this.closedNote);
    this.watchPreview();
  }

  /**
   * A field people never see and bots fill in: off-screen rather than display:none (which
   * bots learn to skip), out of the tab order, hidden from screen readers, never autofilled.
   * Its value goes to the server as it is; a filled one holds the comment for a moderator.
   */
  honeypot() {
    const id = uid('rt-website');
    this.trap = h('input', { id, type: 'text', name: 'website', tabindex: '-1', autocomplete: 'off' });
    return h(
      'div',
      { class: 'rt-hp', 'aria-hidden': 'true' },
      h('label', { for: id, text: t('form.honeypot') }),
      this.trap,
    );
  }

  /** "Notify me of replies": only where the server can send mail; needs the e-mail field. */
  notifyBox() {
    const id = uid('rt-notify');
    this.notify = h('input', { id, type: 'checkbox', name: 'notify' });
    this.notify.addEventListener('change', () => this.clearError('email'));
    return h(
      'div',
      { class: 'rt-field rt-field-notify', hidden: !this.config.notify },
      this.notify,
      h('label', { for: id, text: ` ${t('form.notify')}` }),
    );
  }

  field(name, label, control, hint = null) {
    const id = uid(`rt-${name}`);
    const errorId = `${id}-error`;
    control.id = id;
    control.name = name;
    control.addEventListener('input', () => this.clearError(name));
    const hintNode = hint ? h('span', { class: 'rt-hint', text: ` (${hint})` }) : null;
    const error = h('p', { class: 'rt-error', id: errorId, hidden: true });
    this.fields[name] = control;
    this.errors[name] = error;
    return h(
      'div',
      { class: `rt-field rt-field-${name}` },
      h('label', { for: id }, label, hintNode),
      control,
      error,
    );
  }

  values() {
    const values = Object.fromEntries(FIELDS.map((name) => [name, this.fields[name].value]));
    return { ...values, notify: Boolean(this.config.notify && this.notify.checked) };
  }

  showError(field, message) {
    const target = this.errors[field];
    if (!target) {
      this.formError.textContent = message;
      this.formError.hidden = false;
      return;
    }
    target.textContent = message;
    target.hidden = false;
    this.fields[field].setAttribute('aria-invalid', 'true');
    this.fields[field].setAttribute('aria-describedby', target.id);
  }

  clearError(field) {
    this.errors[field].hidden = true;
    this.errors[field].textContent = '';
    this.fields[field].removeAttribute('aria-invalid');
    this.fields[field].removeAttribute('aria-describedby');
    this.formError.hidden = true;
    this.notice.hidden = true;
  }

  clearErrors() {
    FIELDS.forEach((field) => this.clearError(field));
  }

  async send(event) {
    event.preventDefault();
    if (this.submit.disabled) return;
    this.clearErrors();
    const values = this.values();
    const problems = validate(values, this.config);
    const first = FIELDS.find((field) => field in problems);
    if (first) {
      for (const [field, message] of Object.entries(problems)) this.showError(field, message);
      this.fields[first].focus();
      return;
    }
    const fields = { author: values.author.trim(), body: values.body.trim(), website: this.trap.value };
    if (values.email.trim()) fields.email = values.email.trim();
    if (values.notify) fields.notify = true;
    if (this.parent !== null) fields.parent = this.parent;
    clearTimeout(this.previewTimer); // the draft is being posted: no preview of it after the post
    this.busy(true);
    try {
      const notice = await this.onSubmit(fields);
      remembered.set('author', fields.author);
      this.fields.body.value = '';
      this.refreshPreview();
      this.home();
      const asked = fields.notify ? t('form.notify_asked') : '';
      if (notice || asked) this.say([notice, asked].filter(Boolean).join(' '));
    } catch (error) {
      await this.serverError(error);
    } finally {
      this.busy(false);
    }
  }

  /** A refusal, in words from the catalog (the server's own are English and terse). */
  async serverError(error) {
    let message = error.message;
    if (error.status === 429 && error.retryAfter) {
      message = t('form.rate_limited', { seconds: error.retryAfter });
    } else if (error.field === 'parent') {
      message = t('form.parent_gone');
    } else if (error.status === 409 && error.field === 'body') {
      message = t('form.repeated');
    } else if (error.code === 'refused_word') {
      // The server names the word, quoted, in its (English) detail.
      const word = /“(.+?)”/.exec(error.detail)?.[1] ?? '…';
      message = t(error.field === 'author' ? 'form.refused_word_author' : 'form.refused_word', { word });
    } else if (error.status === 422 && this.fields[error.field]) {
      // Most likely our bounds were stale: ask again, and say exactly what is wrong.
      this.config = await this.refreshConfig();
      message = validate(this.values(), this.config)[error.field] ?? t('form.field_refused');
    }
    this.showError(error.field, message);
    if (this.fields[error.field]) this.fields[error.field].focus();
  }

  /** While posting, the fields are read-only: what is sent is what the reader sees. */
  /** A message about the last post that is not an error (held for moderation). */
  say(text) {
    this.notice.textContent = text;
    this.notice.hidden = false;
  }

  /** Closed articles take no comments: the form gives way to a note. */
  setClosed(closed) {
    if (closed) this.home();
    this.element.hidden = closed;
    this.closedNote.hidden = !closed;
  }

  busy(on) {
    this.submit.disabled = on;
    this.submit.textContent = on ? t('form.posting') : t('form.submit');
    this.element.setAttribute('aria-busy', String(on));
    for (const field of Object.values(this.fields)) field.readOnly = on;
  }

  /** Move the form under a comment's card, as a reply to it. */
  replyTo(id, author, card) {
    this.parent = id;
    this.title.textContent = t('form.reply_title', { author });
    this.cancel.hidden = false;
    card.after(this.element);
    this.element.classList.add('rt-form-reply');
    this.fields.body.focus();
  }

  /** Back to the bottom of the thread, as a new comment. */
  home() {
    this.parent = null;
    this.title.textContent = t('form.title');
    this.cancel.hidden = true;
    this.element.classList.remove('rt-form-reply');
    this.homeSlot.append(this.element);
  }
}
