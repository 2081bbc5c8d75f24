// The moderators' endpoints (the admin token or a moderator's as the bearer) on top of the public API.

import { Api } from './api.js';

export class AdminApi extends Api {
  constructor(base, token) {
    super(base);
    this.token = token;
  }

  admin(method, path, body) {
    return this.request(method, path, { token: this.token, body });
  }

  /** Who the token belongs to: {name, owner}. */
  me() {
    return this.admin('GET', '/api/admin/me');
  }

  pending() {
    return this.admin('GET', '/api/admin/pending');
  }

  approve(id) {
    return this.admin('POST', `/api/admin/pending/${id}/approve`);
  }

  reject(id) {
    return this.admin('POST', `/api/admin/pending/${id}/reject`);
  }

  deadNotifications() {
    return this.admin('GET', '/api/admin/notifications');
  }

  retryNotification(id) {
    return this.admin('POST', `/api/admin/notifications/${id}/retry`);
  }

  /** Any published comment, whoever wrote it. */
  deleteComment(id) {
    return this.admin('DELETE', `/api/comments/${id}`);
  }

  /** Pin a top-level comment to the top of its thread for every reader, or unpin it. */
  setPinned(id, pinned) {
    return this.admin('POST', `/api/admin/comments/${id}/${pinned ? 'pin' : 'unpin'}`);
  }

  setClosed(slug, closed) {
    return this.admin('POST', `/api/admin/articles/${encodeURIComponent(slug)}/${closed ? 'close' : 'reopen'}`);
  }

  /** Ban the poster of a comment: source is 'comments' (published) or 'pending' (held). */
  ban(source, id, { reason, on, minutes }) {
    return this.admin('POST', `/api/admin/${source}/${id}/ban`, { reason, on, minutes });
  }

  bans({ q = '', all = false, before = null } = {}) {
    const query = new URLSearchParams({ q });
    if (all) query.set('all', '1');
    if (before !== null) query.set('before', String(before));
    return this.admin('GET', `/api/admin/bans?${query}`);
  }

  lift(id) {
    return this.admin('DELETE', `/api/admin/bans/${id}`);
  }

  audit(before = null) {
    return this.admin('GET', `/api/admin/audit${before === null ? '' : `?before=${before}`}`);
  }

  words() {
    return this.admin('GET', '/api/admin/words');
  }

  reloadWords() {
    return this.admin('POST', '/api/admin/words/reload');
  }
}

/** Refusals that mean the token itself is no good (any more): sign out. */
export function isAuthError(error) {
  return error.status === 401 || error.status === 403;
}
