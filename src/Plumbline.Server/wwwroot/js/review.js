// Keyboard for the review and adjudication pages. Without it they are plain forms and links.
// Review: A accept, R focus the comment (Ctrl+Enter rejects), C open the correction (Ctrl+Enter saves), N next.
// Adjudicate: 1–9 choose an answer given for an undecided question, N next item.
const $ = (selector) => document.querySelector(selector);

const isTyping = (el) => el instanceof HTMLTextAreaElement || (el instanceof HTMLInputElement && el.type !== 'hidden')
  || el instanceof HTMLSelectElement;

function click(selector) {
  const el = $(selector);
  if (!el) return false;
  el.click();
  return true;
}

document.addEventListener('keydown', (event) => {
  if (event.altKey || event.metaKey) return;
  const target = event.target;
  if (isTyping(target)) {
    if (event.key === 'Enter' && event.ctrlKey) {
      // Send what the box is for: the comment rejects, the corrected answers correct.
      if (target.id === 'review-comment') { event.preventDefault(); click('#reject'); }
      else if (target.id === 'review-values') { event.preventDefault(); click('#correct'); }
    } else if (event.key === 'Escape') {
      target.blur();
    }
    return;
  }
  if (event.ctrlKey) return;
  const key = event.key.toLowerCase();
  let handled = false;
  if (key === 'a') handled = click('#accept');
  else if (key === 'r') {
    const box = $('#review-comment');
    if (box) { box.focus(); handled = true; }
  } else if (key === 'c') {
    const details = $('#correct-box');
    if (details) { details.open = true; $('#review-values').focus(); handled = true; }
  } else if (key === 'n') handled = click('#skip');
  else if (/^[1-9]$/.test(key)) handled = click(`button.decide[data-key="${key}"]`);
  if (handled) event.preventDefault();
});
