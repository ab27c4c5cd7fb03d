// The annotation workspace's keyboard, ranking, conditional questions, timer and autosave.
// The page works without it (plain form posts); this makes it fast. Everything is delegated from
// `document`, so it keeps working after htmx swaps in the next task.

const AUTOSAVE_MS = 1500;
let started = performance.now();
let timerHandle = 0;
let autosaveHandle = 0;
let dirty = false;

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));
const form = () => $('#task-form');
const blocks = () => $$('#task-form fieldset.q:not([hidden])');
const isTextBox = (el) => el instanceof HTMLTextAreaElement
  || (el instanceof HTMLInputElement && ['text', 'search', 'email', 'number', ''].includes(el.type));

function token() {
  return $('input[name="__RequestVerificationToken"]')?.value ?? '';
}

// ---- setup after every page load and swap ----
let workspaceShown = null;

function init() {
  workspaceShown = $('#workspace');
  started = performance.now();
  dirty = false;
  clearInterval(timerHandle);
  timerHandle = setInterval(tick, 1000);
  tick();
  applyConditions();
  $$('.span-text').forEach(renderSpans);
  highlight();
  focusFirst();
}

function tick() {
  const el = $('#timer');
  if (!el) return;
  const s = Math.floor((performance.now() - started) / 1000);
  el.textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function highlight() {
  if (!window.hljs) return;
  $$('main pre code').forEach((el) => {
    // Only blocks that name their language: guessing colours prose as code.
    if ([...el.classList].some((c) => c.startsWith('language-')) && !el.dataset.highlighted) window.hljs.highlightElement(el);
  });
}

function focusFirst() {
  const list = blocks();
  if (list.length === 0) return;
  const first = list.find((b) => !answered(b)) ?? list[0];
  focusBlock(first);
}

function focusBlock(block) {
  if (!block) {
    $('#submit')?.focus();
    return;
  }
  const text = block.dataset.kind === 'text' ? $('textarea', block) : null;
  (text ?? block).focus({ preventScroll: false });
  markCurrent(block);
}

function markCurrent(block) {
  $$('fieldset.q.current').forEach((b) => b.classList.remove('current'));
  block?.classList.add('current');
}

function currentBlock() {
  const active = document.activeElement;
  return active?.closest?.('#task-form fieldset.q') ?? $('#task-form fieldset.q.current') ?? blocks()[0];
}

function nextBlock(block) {
  const list = blocks();
  return list[list.indexOf(block) + 1];
}

function answered(block) {
  switch (block.dataset.kind) {
    case 'text': return $('textarea', block).value.trim() !== '';
    case 'ranking': return $('ol.ranking', block).dataset.touched === 'true';
    case 'span': return $('input[type=hidden]', block).value !== '[]';
    default: return $$(`input[name="${block.dataset.key}"]`, block).some((i) => i.checked);
  }
}

// ---- conditional questions ----
function applyConditions() {
  $$('#task-form fieldset.q[data-show-when-question]').forEach((block) => {
    const other = block.dataset.showWhenQuestion;
    const want = block.dataset.showWhenEquals;
    const shown = $$(`#task-form input[name="q.${CSS.escape(other)}"]:checked`).some((i) => i.value === want);
    block.hidden = !shown;
    // Disabled controls are not posted: a hidden question sends no answer.
    $$('input, textarea', block).forEach((i) => {
      const untouchedRanking = i.closest('ol.ranking')?.dataset.touched === 'false';
      i.disabled = !shown || untouchedRanking;
    });
  });
}

// ---- choosing options by key ----
// The key of each option comes with the page (data-hotkey): digits, then letters for long label lists; A/B/T/X and
// 1-3 for preferences.
function byHotkey(elements, key) {
  const wanted = key.length === 1 ? key.toUpperCase() : '';
  return wanted ? elements.find((el) => el.dataset.hotkey === wanted) : undefined;
}

function choose(input) {
  if (input.type === 'checkbox') input.checked = !input.checked;
  else input.checked = true;
  input.dispatchEvent(new Event('change', { bubbles: true }));
}

function handleBlockKey(block, e) {
  const key = e.key;
  const kind = block.dataset.kind;
  if (kind === 'label' || kind === 'multi_label' || kind === 'rating') {
    const input = byHotkey($$(`input[name="${block.dataset.key}"]`, block), key);
    if (!input) return false;
    choose(input);
    if (kind === 'multi_label') {
      markCurrent(block);
      block.focus();
    } else {
      afterChoice(block);
    }
    return true;
  }
  if (kind === 'preference') {
    const choice = byHotkey($$(`input[name="${block.dataset.key}"]`, block), key);
    if (choice) {
      choose(choice);
      const strength = $$(`input[name="${block.dataset.key}.strength"]`, block);
      // Strength is asked only when one side won.
      if (strength.length === 0 || choice.value === 'tie' || choice.value === 'both_bad') afterChoice(block);
      else { markCurrent(block); block.focus(); }
      return true;
    }
    const strength = byHotkey($$(`input[name="${block.dataset.key}.strength"]`, block), key);
    if (strength) {
      choose(strength);
      afterChoice(block);
      return true;
    }
    return false;
  }
  if (kind === 'ranking') return rankingKey(block, e);
  if (kind === 'span') return spanKey(block, e);
  return false;
}

function afterChoice(block) {
  applyConditions();
  focusBlock(nextBlock(block));
}

// ---- ranking: letters best first, drag, Alt+arrows ----
function rankingKey(block, e) {
  const list = $('ol.ranking', block);
  const items = $$('li', list);
  if (e.key === 'Backspace') {
    list.dataset.picked = '';
    setTouched(list, false);
    return true;
  }
  if (e.altKey && (e.key === 'ArrowUp' || e.key === 'ArrowDown')) {
    const li = document.activeElement?.closest?.('ol.ranking li');
    if (!li) return false;
    if (e.key === 'ArrowUp' && li.previousElementSibling) list.insertBefore(li, li.previousElementSibling);
    if (e.key === 'ArrowDown' && li.nextElementSibling) list.insertBefore(li.nextElementSibling, li);
    li.focus();
    setTouched(list, true);
    return true;
  }
  const letter = e.key.length === 1 ? e.key.toUpperCase() : '';
  const item = items.find((li) => li.dataset.letter === letter);
  if (!item) return false;
  const picked = (list.dataset.picked || '').split(',').filter(Boolean);
  if (!picked.includes(item.dataset.id)) picked.push(item.dataset.id);
  list.dataset.picked = picked.join(',');
  // Picked ones first, in the order pressed; the rest keep their order below.
  const byId = new Map(items.map((li) => [li.dataset.id, li]));
  picked.forEach((id) => list.appendChild(byId.get(id)));
  items.filter((li) => !picked.includes(li.dataset.id)).forEach((li) => list.appendChild(li));
  // With one left, its place is decided too.
  const done = picked.length >= items.length - 1;
  setTouched(list, done);
  if (done) {
    list.dataset.picked = '';
    focusBlock(nextBlock(block));
  }
  return true;
}

function setTouched(list, touched) {
  list.dataset.touched = String(touched);
  $$('input[type=hidden]', list).forEach((i) => { i.disabled = !touched; });
  scheduleAutosave();
}

let dragged = null;
document.addEventListener('dragstart', (e) => {
  dragged = e.target.closest?.('ol.ranking li') ?? null;
  if (dragged) e.dataTransfer.effectAllowed = 'move';
});
document.addEventListener('dragover', (e) => {
  const over = e.target.closest?.('ol.ranking li');
  if (!dragged || !over || over === dragged || over.parentElement !== dragged.parentElement) return;
  e.preventDefault();
  const rect = over.getBoundingClientRect();
  over.parentElement.insertBefore(dragged, e.clientY < rect.top + rect.height / 2 ? over : over.nextElementSibling);
});
document.addEventListener('drop', (e) => {
  if (!dragged) return;
  e.preventDefault();
  setTouched(dragged.parentElement, true);
  dragged = null;
});

// ---- spans: select text, press a label key ----
function spanKey(block, e) {
  const label = byHotkey($$('.span-labels [data-label]', block), e.key);
  if (!label) return false;
  const container = $('.span-text', block);
  const selection = window.getSelection();
  if (!selection || selection.rangeCount === 0 || selection.isCollapsed) return true;
  const range = selection.getRangeAt(0);
  if (!container.contains(range.startContainer) || !container.contains(range.endContainer)) return true;
  const offset = (node, at) => {
    const before = document.createRange();
    before.selectNodeContents(container);
    before.setEnd(node, at);
    return before.toString().length;
  };
  const start = offset(range.startContainer, range.startOffset);
  const end = offset(range.endContainer, range.endOffset);
  const input = $('input[type=hidden]', block);
  const spans = JSON.parse(input.value || '[]');
  spans.push({ start, end, label: label.dataset.label });
  input.value = JSON.stringify(spans);
  selection.removeAllRanges();
  renderSpans(container);
  scheduleAutosave();
  return true;
}

function renderSpans(container) {
  const block = container.closest('fieldset.q');
  const input = $('input[type=hidden]', block);
  const list = $('.span-list', block);
  const text = container.textContent;
  list.replaceChildren(...JSON.parse(input.value || '[]').map((s, i) => {
    const li = document.createElement('li');
    li.textContent = `${s.label}: “${text.slice(s.start, s.end)}” `;
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'link';
    remove.textContent = 'remove';
    remove.addEventListener('click', () => {
      const spans = JSON.parse(input.value || '[]');
      spans.splice(i, 1);
      input.value = JSON.stringify(spans);
      renderSpans(container);
      scheduleAutosave();
    });
    li.append(remove);
    return li;
  }));
}

// ---- submit, drafts, skip, help ----
function submit() {
  form()?.requestSubmit();
}

function scheduleAutosave() {
  dirty = true;
  clearTimeout(autosaveHandle);
  autosaveHandle = setTimeout(() => saveDraft(false), AUTOSAVE_MS);
}

async function saveDraft(announce) {
  const f = form();
  const url = $('#workspace')?.dataset.draftUrl;
  if (!f || !url) return;
  clearTimeout(autosaveHandle);
  const status = $('#draft-status');
  const response = await fetch(url, { method: 'POST', body: new FormData(f), headers: { RequestVerificationToken: token() } });
  if (response.ok) {
    dirty = false;
    if (status) status.textContent = `Draft saved ${new Date().toLocaleTimeString()}`;
  } else if (status && announce) {
    const problem = await response.json().catch(() => null);
    status.textContent = `Draft not saved: ${problem?.detail ?? response.status}`;
  }
}

function openDialog(id) {
  const dialog = document.getElementById(id);
  if (dialog && !dialog.open) dialog.showModal();
  $('textarea', dialog)?.focus();
}

document.addEventListener('keydown', (e) => {
  const target = e.target;
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 's') {
    e.preventDefault();
    saveDraft(true);
    return;
  }
  const dialog = target.closest?.('dialog');
  if (dialog) {
    // In the skip dialog Enter sends the reason (Shift+Enter for a new line); Esc closes natively.
    if (e.key === 'Enter' && !e.shiftKey && dialog.id === 'skip-dialog' && target instanceof HTMLTextAreaElement) {
      e.preventDefault();
      target.form.requestSubmit();
    }
    return;
  }
  if (isTextBox(target)) {
    if (e.key === 'Escape') {
      e.preventDefault();
      const block = target.closest('fieldset.q');
      if (block) focusBlock(nextBlock(block)); else target.blur();
    } else if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && target.closest('#task-form')) {
      e.preventDefault();
      submit();
    }
    return;
  }
  if (e.ctrlKey || e.metaKey) return;
  if (e.key === 'Enter') {
    if (target instanceof HTMLButtonElement || target instanceof HTMLAnchorElement) return;
    if (!form()) return;
    e.preventDefault();
    submit();
    return;
  }
  const block = currentBlock();
  if (block && (!e.altKey || block.dataset.kind === 'ranking') && handleBlockKey(block, e)) {
    e.preventDefault();
    scheduleAutosave();
    return;
  }
  if (e.altKey) return;
  switch (e.key) {
    case '?': e.preventDefault(); openDialog('help'); break;
    case 's': case 'S': if (form()) { e.preventDefault(); openDialog('skip-dialog'); } break;
    case 'g': case 'G': {
      const details = $('#guidelines details');
      if (details) { e.preventDefault(); details.open = !details.open; }
      break;
    }
    default: break;
  }
});

document.addEventListener('click', (e) => {
  const action = e.target.closest?.('[data-action]')?.dataset.action;
  if (action === 'draft') saveDraft(true);
  if (action === 'skip') openDialog('skip-dialog');
  if (action === 'help') openDialog('help');
  if (action === 'close-dialog') e.target.closest('dialog')?.close();
});

document.addEventListener('focusin', (e) => {
  const block = e.target.closest?.('#task-form fieldset.q');
  if (block) markCurrent(block);
});

document.addEventListener('change', (e) => {
  if (e.target.closest?.('#task-form')) {
    applyConditions();
    scheduleAutosave();
  }
});
document.addEventListener('input', (e) => {
  if (e.target.closest?.('#task-form')) scheduleAutosave();
});

// A draft in flight when the tab closes: a beacon carries the form (its antiforgery field included).
window.addEventListener('pagehide', () => {
  const f = form();
  const url = $('#workspace')?.dataset.draftUrl;
  if (dirty && f && url) navigator.sendBeacon(url, new FormData(f));
});

// The lead time goes with every submit, whether by key, button or click.
document.addEventListener('submit', (e) => {
  if (e.target.id !== 'task-form') return;
  e.target.elements.leadTimeMs.value = String(Math.round(performance.now() - started));
  dirty = false;
  clearTimeout(autosaveHandle);
}, true);

// A new workspace element means a new task (or none): start its timer, focus its first question.
document.addEventListener('htmx:afterSettle', () => {
  if ($('#workspace') !== workspaceShown) init();
});

init();
