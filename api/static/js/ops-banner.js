// The operations banner: notification channels that are failing (GET /ops/banner), shown
// to staff above every page and asked again every minute, so a dead SMS gateway is seen
// in the console even when the alert about it cannot be sent.
import { get } from "./api.js";
import { h } from "./dom.js";
import { label, t } from "./i18n.js";

const POLL_MS = 60_000;

export function opsBanner() {
  let channels = [];
  let timer = null;
  let slot = null;

  function draw() {
    if (!slot) return;
    const lines = channels.map((c) =>
      h("p", { dataset: { channel: c.channel } },
        t(`ops.${c.state}`, { channel: label("channel", c.channel), failed: c.failed_last_hour, retrying: c.retrying })));
    slot.replaceChildren(...lines);
    slot.hidden = lines.length === 0;
  }

  async function poll() {
    try {
      channels = (await get("/ops/banner")).channels;
    } catch (_) {
      return; // keep what we showed; the stream status says when the server is away
    }
    draw();
  }

  return {
    /** A fresh element for the page being drawn, filled with what is known. */
    element() {
      slot = h("div", { class: "ops-banner", role: "alert", hidden: true, dataset: { testid: "ops-banner" } });
      draw();
      return slot;
    },
    start() {
      if (timer) return;
      poll();
      timer = setInterval(poll, POLL_MS);
    },
    stop() {
      clearInterval(timer);
      timer = null;
      channels = [];
      draw();
    },
  };
}
