// A short beep for a new alert. Browsers allow audio only after a user gesture, so the
// AudioContext is created (armed) on the first click or key press anywhere on the page.

const KEY = "eldercare.sound";
let context = null;
let enabled = readEnabled();
const listeners = new Set();

function readEnabled() {
  try {
    return localStorage.getItem(KEY) !== "off";
  } catch (_) {
    return true;
  }
}

function arm() {
  if (context) {
    if (context.state === "suspended") context.resume().catch(() => {});
    return;
  }
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return;
  try {
    context = new Ctx();
  } catch (_) {
    context = null;
  }
  notify();
}

document.addEventListener("pointerdown", arm, { capture: true });
document.addEventListener("keydown", arm, { capture: true });

function notify() {
  for (const listener of listeners) listener();
}

export function soundEnabled() {
  return enabled;
}

export function soundArmed() {
  return context !== null && context.state !== "closed";
}

export function setSoundEnabled(on) {
  enabled = Boolean(on);
  try {
    localStorage.setItem(KEY, enabled ? "on" : "off");
  } catch (_) {
    /* not persisted */
  }
  notify();
}

export function onSoundChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Counts beeps for tests and for the page's own status line. */
export let beeps = 0;

/** One beep for most alerts, three quick ones for critical. */
export function beep(severity = "high") {
  beeps += 1;
  document.body.dataset.beeps = String(beeps);
  if (!enabled || !context) return;
  if (context.state === "suspended") context.resume().catch(() => {});
  const times = severity === "critical" ? 3 : severity === "high" ? 2 : 1;
  const start = context.currentTime + 0.02;
  for (let i = 0; i < times; i += 1) {
    const at = start + i * 0.22;
    const osc = context.createOscillator();
    const gain = context.createGain();
    osc.type = "sine";
    osc.frequency.value = severity === "critical" ? 988 : 880;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.3, at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.16);
    osc.connect(gain).connect(context.destination);
    osc.start(at);
    osc.stop(at + 0.18);
  }
}
