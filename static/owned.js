// The reader's own comments: the author token from the POST, kept in localStorage with the
// comment id and creation time, until the edit window closes.
//
// `expires` is in the browser's clock: the moment the POST answered plus the window, so a
// wrong clock on the reader's machine does not matter. A small margin hides the buttons a
// little before the server would start refusing.

const MARGIN = 2000; // ms

export class OwnComments {
  constructor(base) {
    this.key = `realtime:own:${base}`;
    this.entries = this.load();
  }

  load() {
    try {
      const raw = JSON.parse(localStorage.getItem(this.key) ?? '{}');
      const now = Date.now();
      return Object.fromEntries(Object.entries(raw).filter(([, entry]) => entry.expires > now));
    } catch {
      return {}; // storage disabled or corrupt: the reader just cannot edit
    }
  }

  save() {
    try {
      localStorage.setItem(this.key, JSON.stringify(this.entries));
    } catch {
      // private mode or quota: editing works until the page is left
    }
  }

  remember(comment, token, windowSeconds) {
    if (windowSeconds <= 0) return;
    this.entries[comment.id] = {
      token,
      created: comment.created,
      expires: Date.now() + windowSeconds * 1000 - MARGIN,
    };
    this.save();
  }

  /** The entry for a comment whose edit window is still open, or null. */
  get(id) {
    const entry = this.entries[id];
    if (!entry) return null;
    if (entry.expires <= Date.now()) {
      this.forget(id);
      return null;
    }
    return entry;
  }

  forget(id) {
    if (!(id in this.entries)) return;
    delete this.entries[id];
    this.save();
  }
}

/**
 * This browser's voter: a random token (never shown, only ever sent with a vote or a post, and
 * kept on the server as a keyed hash), and the votes it cast, so the buttons show them again.
 */
export class Voter {
  constructor(base) {
    this.key = `realtime:votes:${base}`;
    this.token = stored('realtime:voter', () => {
      const bytes = crypto.getRandomValues(new Uint8Array(32));
      return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    });
    this.votes = readJson(this.key);
  }

  get(id) {
    return this.votes[id] ?? 0;
  }

  set(id, value) {
    if (value) this.votes[id] = value;
    else delete this.votes[id];
    try {
      localStorage.setItem(this.key, JSON.stringify(this.votes));
    } catch {
      // storage off: the vote counts, the button forgets it on the next visit
    }
  }
}

function stored(key, make) {
  try {
    const found = localStorage.getItem(key);
    if (found) return found;
    const made = make();
    localStorage.setItem(key, made);
    return made;
  } catch {
    return make(); // storage off: a voter for this visit only
  }
}

function readJson(key) {
  try {
    return JSON.parse(localStorage.getItem(key) ?? '{}') ?? {};
  } catch {
    return {};
  }
}

/** Remembered name, so a returning reader does not type it again. */
export const remembered = {
  get(field) {
    try {
      return localStorage.getItem(`realtime:${field}`) ?? '';
    } catch {
      return '';
    }
  },
  set(field, value) {
    try {
      localStorage.setItem(`realtime:${field}`, value);
    } catch {
      // ignore
    }
  },
};
