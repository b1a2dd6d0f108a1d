// The time-zone picker: a searchable combobox (ARIA 1.2 combobox + listbox) over every IANA
// zone the browser knows, each with its current UTC offset ("(UTC+05:30) Asia/Kolkata"; the
// box holds the chosen name, its offset beside it), and
// a "Use this device's zone (detected: …)" choice first. Keyboard: type to filter, Up/Down to
// move, Enter to choose, Escape to close (again: undo the typing), Tab leaves.
// Names are canonical: browsers still report some renamed zones under their old names
// (Chromium: "Asia/Calcutta"), which are shown and saved as today's ("Asia/Kolkata").
import { h, icon } from './dom.js';

/** Renamed zones (old name -> current IANA name) that browsers still report. */
const ALIASES = {
  'Africa/Asmera': 'Africa/Asmara',
  'America/Buenos_Aires': 'America/Argentina/Buenos_Aires',
  'America/Catamarca': 'America/Argentina/Catamarca',
  'America/Coral_Harbour': 'America/Atikokan',
  'America/Cordoba': 'America/Argentina/Cordoba',
  'America/Godthab': 'America/Nuuk',
  'America/Indianapolis': 'America/Indiana/Indianapolis',
  'America/Jujuy': 'America/Argentina/Jujuy',
  'America/Louisville': 'America/Kentucky/Louisville',
  'America/Mendoza': 'America/Argentina/Mendoza',
  'Asia/Calcutta': 'Asia/Kolkata',
  'Asia/Dacca': 'Asia/Dhaka',
  'Asia/Katmandu': 'Asia/Kathmandu',
  'Asia/Macao': 'Asia/Macau',
  'Asia/Rangoon': 'Asia/Yangon',
  'Asia/Saigon': 'Asia/Ho_Chi_Minh',
  'Asia/Thimbu': 'Asia/Thimphu',
  'Asia/Ujung_Pandang': 'Asia/Makassar',
  'Asia/Ulan_Bator': 'Asia/Ulaanbaatar',
  'Atlantic/Faeroe': 'Atlantic/Faroe',
  'Europe/Kiev': 'Europe/Kyiv',
  'Pacific/Enderbury': 'Pacific/Kanton',
  'Pacific/Ponape': 'Pacific/Pohnpei',
  'Pacific/Truk': 'Pacific/Chuuk',
  'Etc/UTC': 'UTC',
  'Etc/GMT': 'UTC',
  'Etc/Universal': 'UTC',
  'Etc/Zulu': 'UTC',
  GMT: 'UTC',
};
const FORMER = new Map(); // current name -> its old names (so "calcutta" still finds Kolkata)
for (const [old, current] of Object.entries(ALIASES)) {
  FORMER.set(current, [...(FORMER.get(current) || []), old]);
}

function known(zone) {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The current IANA name of `zone` ("Asia/Calcutta" -> "Asia/Kolkata"). */
export function canonicalZone(zone) {
  const current = ALIASES[zone];
  return current && known(current) ? current : zone;
}

/** This device's zone, canonical ("UTC" when the browser cannot say). */
export function deviceZone() {
  let zone = 'UTC';
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    zone = 'UTC';
  }
  return canonicalZone(zone);
}

let allZones = null;
/** Every zone this browser knows, canonical, sorted. */
export function zoneNames() {
  if (!allZones) {
    let names = [];
    try {
      names = Intl.supportedValuesOf('timeZone');
    } catch {
      names = [];
    }
    allZones = [...new Set([...names.map(canonicalZone), 'UTC'])].sort();
  }
  return allZones;
}

const offsets = new Map();
/** "UTC+05:30" (the zone's offset now; "UTC+00:00" for UTC). */
export function zoneOffset(zone) {
  if (!offsets.has(zone)) {
    let text = '';
    try {
      const part = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' })
        .formatToParts(new Date())
        .find((p) => p.type === 'timeZoneName');
      const value = part ? part.value : '';
      text = value === 'GMT' || value === '' ? 'UTC+00:00' : value.replace('GMT', 'UTC');
    } catch {
      text = '';
    }
    offsets.set(zone, text);
  }
  return offsets.get(zone);
}

/** "(UTC+05:30) Asia/Kolkata" */
export function zoneLabel(zone) {
  const offset = zoneOffset(zone);
  return offset ? `(${offset}) ${zone}` : zone;
}

function haystack(zone) {
  const words = [zone, zone.replace(/_/g, ' '), zoneOffset(zone), ...(FORMER.get(zone) || [])];
  return words.join(' ').toLowerCase();
}

let pickers = 0;

/**
 * A zone picker. `value` is the zone chosen now; `onChange(zone)` runs when the person picks
 * another. Returns {element, input, value (get/set), focus()}. A visible <label for="{id}">
 * names the combobox; without one, pass `label`.
 */
export function zonePicker({ id, value, onChange = () => {}, label = null, describedBy = null } = {}) {
  pickers += 1;
  const base = id || `zone-picker-${pickers}`;
  const listId = `${base}-list`;
  const device = deviceZone();
  let current = canonicalZone(value || device);
  let shown = []; // [{zone, device}] in list order
  let active = -1;

  const input = h('input', {
    id: base,
    type: 'text',
    class: 'zone-input',
    role: 'combobox',
    autocomplete: 'off',
    autocapitalize: 'off',
    spellcheck: 'false',
    'aria-autocomplete': 'list',
    'aria-expanded': 'false',
    'aria-controls': listId,
    'aria-label': label || (id ? null : 'Time zone'),
    'aria-describedby': [`${base}-offset`, describedBy].filter(Boolean).join(' '),
  });
  const offsetEl = h('span', { class: 'zone-current-offset', id: `${base}-offset` });
  const toggle = h(
    'button',
    { type: 'button', class: 'zone-toggle', tabindex: '-1', 'aria-label': 'Show all zones', 'aria-controls': listId, 'aria-expanded': 'false' },
    icon('down', 'icon icon-small'),
  );
  const list = h('ul', { id: listId, class: 'zone-list', role: 'listbox', 'aria-label': 'Matching zones', hidden: true });
  const status = h('p', { class: 'visually-hidden', role: 'status' });
  const element = h('div', { class: 'zone-picker' }, h('div', { class: 'zone-field' }, input, offsetEl, toggle), list, status);

  function showValue() {
    input.value = current;
    offsetEl.textContent = zoneOffset(current);
  }

  function isOpen() {
    return !list.hidden;
  }

  function setExpanded(open) {
    list.hidden = !open;
    input.setAttribute('aria-expanded', String(open));
    toggle.setAttribute('aria-expanded', String(open));
    if (!open) {
      input.removeAttribute('aria-activedescendant');
      active = -1;
    }
  }

  function render(query) {
    const q = query.trim().toLowerCase();
    const matches = q ? zoneNames().filter((zone) => haystack(zone).includes(q)) : zoneNames();
    shown = [];
    const deviceWords = `use this device's zone detected ${haystack(device)}`;
    if (!q || deviceWords.includes(q)) shown.push({ zone: device, device: true });
    for (const zone of matches) shown.push({ zone, device: false });
    list.replaceChildren(...shown.map((item, index) => h(
      'li',
      {
        id: `${base}-opt-${index}`,
        role: 'option',
        class: item.device ? 'zone-option zone-device' : 'zone-option',
        'aria-selected': !item.device && item.zone === current ? 'true' : 'false',
        dataset: { zone: item.zone },
      },
      item.device
        ? [icon('globe', 'icon icon-small'), h('span', { text: `Use this device's zone (detected: ${item.zone})` })]
        : [h('span', { class: 'zone-offset', text: zoneOffset(item.zone) ? `(${zoneOffset(item.zone)})` : '' }), h('span', { class: 'zone-name', text: item.zone })],
    )));
    if (!shown.length) list.append(h('li', { class: 'zone-empty', role: 'presentation', text: 'No time zone matches.' }));
    status.textContent = q ? `${matches.length} time zone${matches.length === 1 ? '' : 's'} found` : '';
  }

  function setActive(index, { scroll = true } = {}) {
    const options = list.querySelectorAll('[role="option"]');
    if (active >= 0 && options[active]) options[active].classList.remove('is-active');
    active = options.length ? Math.max(0, Math.min(index, options.length - 1)) : -1;
    if (active < 0) {
      input.removeAttribute('aria-activedescendant');
      return;
    }
    const option = options[active];
    option.classList.add('is-active');
    input.setAttribute('aria-activedescendant', option.id);
    if (scroll) option.scrollIntoView({ block: 'nearest' });
  }

  function open(query = '') {
    render(query);
    setExpanded(true);
    if (!query) {
      const selected = shown.findIndex((item) => !item.device && item.zone === current);
      setActive(selected >= 0 ? selected : 0);
    } else {
      setActive(0);
    }
  }

  function close({ restore = true } = {}) {
    setExpanded(false);
    if (restore) showValue();
  }

  function choose(zone) {
    const changed = zone !== current;
    current = zone;
    close();
    if (changed) onChange(zone);
  }

  input.addEventListener('focus', () => input.select());
  input.addEventListener('input', () => open(input.value));
  input.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      if (!isOpen()) {
        open(input.value === current ? '' : input.value);
        return;
      }
      setActive(active + (event.key === 'ArrowDown' ? 1 : -1));
    } else if ((event.key === 'PageDown' || event.key === 'PageUp') && isOpen()) {
      event.preventDefault();
      setActive(active + (event.key === 'PageDown' ? 10 : -10));
    } else if (event.key === 'Enter') {
      if (!isOpen()) return;
      event.preventDefault(); // never submits the surrounding form while choosing
      const item = shown[active];
      if (item) choose(item.zone);
    } else if (event.key === 'Escape') {
      if (isOpen()) {
        event.preventDefault();
        event.stopPropagation(); // a first Escape closes the list, not the dialog around it
        close();
      } else if (input.value !== current) {
        event.preventDefault();
        event.stopPropagation();
        showValue();
      }
    } else if (event.key === 'Tab' && isOpen()) {
      close();
    }
  });
  input.addEventListener('blur', () => {
    if (isOpen()) close();
  });
  toggle.addEventListener('mousedown', (event) => event.preventDefault()); // keep focus in the input
  toggle.addEventListener('click', () => {
    if (isOpen()) close();
    else {
      input.focus();
      open('');
    }
  });
  list.addEventListener('mousedown', (event) => event.preventDefault());
  list.addEventListener('click', (event) => {
    const option = event.target.closest('[role="option"]');
    if (option) choose(option.dataset.zone);
  });

  showValue();
  return {
    element,
    input,
    get value() {
      return current;
    },
    set value(zone) {
      current = canonicalZone(zone);
      showValue();
    },
    focus() {
      input.focus();
    },
  };
}
