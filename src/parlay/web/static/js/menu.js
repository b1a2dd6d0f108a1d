// Disclosure menus: a button with aria-expanded that shows a popup of buttons/links.
// Escape closes and returns focus; a click outside closes; arrow keys move between items.

const open = new Set();
const popups = new WeakMap(); // button -> popup (for popups not yet in the document)

function popupOf(button) {
  return popups.get(button) || document.getElementById(button.getAttribute('aria-controls'));
}

function items(popup) {
  return [...popup.querySelectorAll('a[href], button:not([disabled])')].filter(
    (el) => el.offsetParent !== null,
  );
}

export function closeMenu(button, { focusButton = false } = {}) {
  const popup = popupOf(button);
  button.setAttribute('aria-expanded', 'false');
  if (popup) popup.hidden = true;
  open.delete(button);
  if (focusButton) button.focus();
}

function openMenu(button) {
  for (const other of [...open]) closeMenu(other);
  const popup = popupOf(button);
  button.setAttribute('aria-expanded', 'true');
  popup.hidden = false;
  open.add(button);
  const first = items(popup)[0];
  if (first) first.focus();
}

/** Wire a menu button; `popup` may be given when it is not in the document yet. */
export function setupMenu(button, popup = popupOf(button)) {
  if (!popup) return;
  popups.set(button, popup);
  button.addEventListener('click', () => {
    if (button.getAttribute('aria-expanded') === 'true') closeMenu(button);
    else openMenu(button);
  });
  popup.addEventListener('keydown', (event) => {
    const list = items(popup);
    const index = list.indexOf(document.activeElement);
    if (event.key === 'Escape') {
      event.preventDefault();
      closeMenu(button, { focusButton: true });
    } else if (event.key === 'ArrowDown') {
      event.preventDefault();
      list[(index + 1) % list.length]?.focus();
    } else if (event.key === 'ArrowUp') {
      event.preventDefault();
      list[(index - 1 + list.length) % list.length]?.focus();
    } else if (event.key === 'Home') {
      event.preventDefault();
      list[0]?.focus();
    } else if (event.key === 'End') {
      event.preventDefault();
      list[list.length - 1]?.focus();
    } else if (event.key === 'Tab') {
      closeMenu(button);
    }
  });
  popup.addEventListener('click', (event) => {
    if (event.target.closest('a[href], button')) closeMenu(button);
  });
}

document.addEventListener('click', (event) => {
  for (const button of [...open]) {
    if (!button.isConnected) {
      open.delete(button);
      continue;
    }
    const popup = popupOf(button);
    if (!button.contains(event.target) && !popup?.contains(event.target)) closeMenu(button);
  }
});
document.addEventListener('keydown', (event) => {
  if (event.key !== 'Escape') return;
  for (const button of [...open]) closeMenu(button, { focusButton: button.isConnected });
});
