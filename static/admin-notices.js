// Notifications that gave up (dead): what and where (never an address), the last error, and a
// Retry button that puts one back in the outbox.

import { h } from './dom.js';
import { t } from './i18n.js';

export class DeadNotices {
  constructor({ api, list, empty, refresh, onAuthError }) {
    this.api = api;
    this.list = list;
    this.empty = empty;
    this.onAuthError = onAuthError;
    refresh.onclick = () => this.load();
    // Bumped by each load and each Retry, as in the bans and audit panels: a list asked for
    // before either is stale when it comes (it would show a retried notice as dead again).
    this.generation = 0;
  }

  async load() {
    const generation = ++this.generation;
    let notifications;
    try {
      ({ notifications } = await this.api.deadNotifications());
    } catch (error) {
      if (generation !== this.generation) return;
      if (error.status === 401 || error.status === 403) this.onAuthError();
      else this.empty.textContent = error.message;
      return;
    }
    if (generation !== this.generation) return;
    this.list.replaceChildren(...notifications.map((notice) => this.item(notice)));
    this.empty.hidden = notifications.length > 0;
  }

  item(notice) {
    const status = h('span', { class: 'adm-status', role: 'status' });
    const channel =
      notice.channel === 'webhook' ? t('admin.notice_webhook', { url: notice.target }) : t('admin.notice_mail');
    const retry = h('button', {
      type: 'button',
      class: 'rt-action',
      text: t('admin.notice_retry'),
      onclick: async () => {
        retry.disabled = true;
        this.generation += 1;
        try {
          await this.api.retryNotification(notice.id);
          status.textContent = t('admin.notice_retrying');
        } catch (error) {
          status.textContent = error.message;
          retry.disabled = false;
        }
      },
    });
    return h(
      'li',
      { class: 'adm-item adm-notice', dataset: { id: notice.id } },
      h('p', {
        class: 'adm-notice-what',
        text: t('admin.notice_what', { event: notice.event, channel, attempts: notice.attempts }),
      }),
      h('p', { class: 'adm-notice-error', text: notice.last_error ?? '' }),
      h('footer', { class: 'adm-actions' }, retry, status),
    );
  }
}
