// Rendering one message. Only textContent and attributes carry user data — never innerHTML.
// Other features (scheduling) register renderers for their message kinds.
import { h } from './dom.js';
import { formatFull, formatMessageTime } from './format.js';

const renderers = new Map();

/**
 * Register the body renderer for a message kind ("meeting_invite", "meeting", ...).
 * `fn(message, context)` returns a Node placed inside the bubble; context is {me, room}.
 */
export function registerRenderer(kind, fn, { layout = 'card' } = {}) {
  renderers.set(kind, { fn, layout });
}

const URL_RE = /\bhttps?:\/\/[^\s<>"']+/g;

/** Text with http(s) links made clickable; everything is a text node or a checked href. */
export function linkify(text) {
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(URL_RE)) {
    const url = match[0].replace(/[.,;:!?)\]]+$/, '');
    const start = match.index;
    let href = null;
    try {
      const parsed = new URL(url);
      if (parsed.protocol === 'http:' || parsed.protocol === 'https:') href = parsed.href;
    } catch {
      href = null;
    }
    if (!href) continue;
    if (start > last) nodes.push(document.createTextNode(text.slice(last, start)));
    nodes.push(h('a', { href, target: '_blank', rel: 'noopener noreferrer', text: url }));
    last = start + url.length;
  }
  if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}

function textBody(message) {
  return h('p', { class: 'msg-body' }, linkify(message.body));
}

function timeEl(message) {
  return h('time', {
    class: 'msg-time',
    datetime: message.created_at,
    title: formatFull(message.created_at),
    text: formatMessageTime(message.created_at),
  });
}

/** Build the <li> for a message; `continued` hides the sender line within a run. */
export function renderMessage(message, context, { continued = false } = {}) {
  const { me } = context;
  const renderer = renderers.get(message.kind);
  if (renderer && renderer.layout === 'system') {
    // A compact line in the middle (e.g. "Ben moved the meeting …"), rendered by its feature.
    let line;
    try {
      line = renderer.fn(message, context);
    } catch (err) {
      console.error('message renderer failed', err);
      line = h('span', { class: 'msg-body', text: message.body });
    }
    return h(
      'li',
      { class: `msg msg-system msg-kind-${message.kind}`, dataset: { id: message.id, kind: message.kind, sender: message.sender?.id || '' } },
      h('p', { class: 'msg-system-text' }, line, ' ', timeEl(message)),
    );
  }
  if (message.kind === 'system') {
    return h(
      'li',
      { class: 'msg msg-system', dataset: { id: message.id, kind: message.kind } },
      h('p', { class: 'msg-system-text' }, h('span', { class: 'msg-body', text: message.body }), ' ', timeEl(message)),
    );
  }
  const own = Boolean(message.sender && me && message.sender.id === me.id);
  const senderName = message.sender ? message.sender.display_name : 'Parlay';
  let body;
  try {
    body = renderer ? renderer.fn(message, context) : textBody(message);
  } catch (err) {
    console.error('message renderer failed', err);
    body = textBody(message);
  }
  const classes = ['msg', own ? 'msg-own' : 'msg-other', `msg-kind-${message.kind}`];
  if (continued) classes.push('msg-continued');
  if (message.kind !== 'text') classes.push('msg-card');
  return h(
    'li',
    { class: classes.join(' '), dataset: { id: message.id, kind: message.kind, sender: message.sender?.id || '' } },
    h(
      'div',
      { class: 'msg-meta' + (own ? ' msg-meta-own' : '') },
      h('span', { class: own ? 'msg-sender visually-hidden' : 'msg-sender', text: own ? 'You' : senderName }),
      timeEl(message),
    ),
    h('div', { class: 'msg-bubble' }, body),
  );
}
