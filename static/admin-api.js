// The moderators' endpoints (admin token as the bearer) on top of the public API.

import { Api } from './api.js';

export class AdminApi extends Api {
  constructor(base, token) {
    super(base);
    this.token = token;
  }

  admin(method, path) {
    return this.request(method, path, { token: this.token });
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

  setClosed(slug, closed) {
    return this.admin('POST', `/api/admin/articles/${encodeURIComponent(slug)}/${closed ? 'close' : 'reopen'}`);
  }
}

/** Refusals that mean the token itself is no good (any more): sign out. */
export function isAuthError(error) {
  return error.status === 401 || error.status === 403;
}
