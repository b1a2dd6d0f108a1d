// The home screen: welcome / empty state and the "New room" form.
import { api, ApiError } from './api.js';
import { setFieldError } from './dom.js';

export function setupHome(me, roomList) {
  const form = document.getElementById('new-room-form');
  if (!form) return;
  const title = form.elements.namedItem('title');
  const emails = form.elements.namedItem('member_emails');
  const formError = document.getElementById('new-room-error');
  const submit = form.querySelector('button[type="submit"]');
  const heading = document.getElementById('home-title');
  const lede = document.getElementById('home-lede');

  const updateIntro = () => {
    const first = (me.display_name || '').split(/\s+/)[0];
    if (roomList.size) {
      heading.textContent = `Welcome back, ${first}`;
      lede.textContent = 'Pick a room to continue the conversation, or start a new one.';
    } else {
      heading.textContent = 'No conversations yet';
      lede.textContent = 'Start a room with the people you work with. You can chat and schedule meetings right in it.';
    }
    document.body.classList.toggle('has-rooms', roomList.size > 0);
  };
  roomList.onChange = updateIntro;
  updateIntro();

  const clear = () => {
    formError.textContent = '';
    setFieldError(title, document.getElementById('title-error'), '');
    setFieldError(emails, document.getElementById('member_emails-error'), '');
  };
  for (const el of [title, emails]) {
    el.addEventListener('input', () => {
      if (el.getAttribute('aria-invalid')) setFieldError(el, document.getElementById(`${el.name === 'title' ? 'title' : 'member_emails'}-error`), '');
    });
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clear();
    const list = emails.value.split(/[\s,;]+/).map((e) => e.trim()).filter(Boolean);
    let invalid = null;
    if (!title.value.trim()) {
      setFieldError(title, document.getElementById('title-error'), 'Give the room a title.');
      invalid = invalid || title;
    }
    const bad = list.find((e) => !/^[^@\s]+@[^@\s]+$/.test(e));
    if (!list.length) {
      setFieldError(emails, document.getElementById('member_emails-error'), 'Add the email of at least one person.');
      invalid = invalid || emails;
    } else if (bad) {
      setFieldError(emails, document.getElementById('member_emails-error'), `"${bad}" is not an email address.`);
      invalid = invalid || emails;
    }
    if (invalid) {
      invalid.focus();
      return;
    }
    submit.disabled = true;
    try {
      const room = await api('POST', '/api/v1/rooms', { title: title.value.trim(), member_emails: list });
      window.location.assign(`/rooms/${encodeURIComponent(room.id)}`);
    } catch (err) {
      const message = err instanceof ApiError ? err.message : 'Could not create the room.';
      const field = err instanceof ApiError ? (err.field || '').split('.')[0] : '';
      if (field === 'member_emails') {
        setFieldError(emails, document.getElementById('member_emails-error'), message);
        emails.focus();
      } else if (field === 'title') {
        setFieldError(title, document.getElementById('title-error'), message);
        title.focus();
      } else {
        formError.textContent = message;
      }
      submit.disabled = false;
    }
  });

  if (window.location.hash === '#new-room') title.focus();
  document.getElementById('new-room-link')?.addEventListener('click', (event) => {
    event.preventDefault();
    document.getElementById('new-room').scrollIntoView({ behavior: 'smooth', block: 'start' });
    title.focus({ preventScroll: true });
  });
}
