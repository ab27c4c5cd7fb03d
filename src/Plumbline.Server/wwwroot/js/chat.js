// Live chat with the project's target model inside a task. The server streams NDJSON lines ({"delta"}, then
// {"done"} or {"error"}); model text is untrusted, so it only ever goes into the page as textContent.

const $ = (selector, root = document) => root.querySelector(selector);

function token() {
  return $('input[name="__RequestVerificationToken"]')?.value ?? '';
}

function turn(role, text) {
  const li = document.createElement('li');
  li.className = `turn role-${role} live`;
  const who = document.createElement('div');
  who.className = 'role';
  who.textContent = role;
  const body = document.createElement('div');
  body.className = 'plain-text';
  body.textContent = text;
  li.append(who, body);
  return li;
}

async function send(form) {
  const box = form.elements.message;
  const message = box.value.trim();
  const status = $('#chat-status');
  const list = $(`section[data-field="${form.dataset.field}"] ol.chat`);
  if (!message || !list || form.dataset.busy) return;
  form.dataset.busy = '1';
  form.querySelector('button[type=submit]').disabled = true;
  status.textContent = 'The model is answering…';
  const mine = turn('user', message);
  const answer = turn('assistant', '');
  answer.classList.add('streaming');
  list.append(mine, answer);
  answer.scrollIntoView({ block: 'nearest' });
  const body = answer.querySelector('.plain-text');
  let failed = null;
  try {
    const response = await fetch(form.dataset.chatUrl, {
      method: 'POST',
      body: new URLSearchParams({ message, __RequestVerificationToken: token() }),
      headers: { RequestVerificationToken: token() },
    });
    if (!response.ok || !response.body) {
      const problem = await response.json().catch(() => null);
      failed = problem?.detail ?? `the server answered ${response.status}`;
    } else {
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let pending = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        pending += value;
        let newline;
        while ((newline = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, newline);
          pending = pending.slice(newline + 1);
          if (!line.trim()) continue;
          const event = JSON.parse(line);
          if (typeof event.delta === 'string') body.textContent += event.delta;
          if (event.error) failed = event.error;
          if (event.done) {
            answer.dataset.model = event.model ?? '';
            status.textContent = `Answer stored (${event.messages} messages).`;
          }
        }
      }
    }
  } catch (e) {
    failed = `the connection broke (${e.message})`;
  }
  answer.classList.remove('streaming');
  delete form.dataset.busy;
  form.querySelector('button[type=submit]').disabled = false;
  if (failed) {
    // Nothing was stored: take the turns back out and leave the message in the box to send again.
    mine.remove();
    answer.remove();
    status.textContent = `Not sent: ${failed}`;
    status.classList.add('error-text');
  } else {
    status.classList.remove('error-text');
    box.value = '';
    // A rewrite box that starts from the model's last answer follows it, until the person edits it.
    for (const rewrite of document.querySelectorAll(`#task-form textarea[data-prefill-from="${form.dataset.field}"]`)) {
      if (rewrite.value === (rewrite.dataset.followed ?? rewrite.defaultValue)) {
        rewrite.value = body.textContent;
        rewrite.dataset.followed = body.textContent;
        rewrite.dispatchEvent(new Event('input', { bubbles: true }));
      }
    }
    document.dispatchEvent(new CustomEvent('plumbline:chat-turn'));
  }
  box.focus();
}

document.addEventListener('submit', (e) => {
  if (e.target.id !== 'chat-form') return;
  e.preventDefault();
  send(e.target);
});

// Enter sends, Shift+Enter starts a new line; the task's own keys never see these presses.
document.addEventListener('keydown', (e) => {
  if (e.target.id !== 'chat-message' || e.key !== 'Enter' || e.shiftKey || e.isComposing) return;
  e.preventDefault();
  e.stopImmediatePropagation();
  e.target.form.requestSubmit();
}, true);

function focusComposer() {
  const box = $('#chat-message');
  const list = box && $(`section[data-field="${box.form.dataset.field}"] ol.chat`);
  if (box && list && list.children.length === 0) box.focus();
}

document.addEventListener('htmx:afterSettle', focusComposer);
focusComposer();
