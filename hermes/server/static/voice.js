// Hermes web chat: voice notes from the microphone, and spoken replies.
// window.hermesVoice(ctx) -> {bind, userNote, transcript, audio};
// ctx: {state, addMessage, setWaiting} from app.js.
// The 🎤 button records (press again to send); the recording goes to POST
// /api/web/voice; the gateway's transcript replaces the "voice note" bubble.
// #mic carries data-state (idle|starting|recording|sending) and data-bytes
// (recorded so far) so the page's state can be observed.
"use strict";

window.hermesVoice = (ctx) => {
  const $ = (id) => document.getElementById(id);
  const R = window.hermesRender;
  const { AuthError, randomId } = window.hermesNet;
  const PLACEHOLDER = "🎤 voice note…";
  let rec = null; // {recorder, stream, chunks, bytes, started, timer}

  function say(text) {
    // One line under the composer: why the microphone does not work, or what it does.
    const line = $("voice-status");
    line.textContent = text || "";
    line.hidden = !text;
  }

  function setMic(state) {
    const mic = $("mic");
    mic.dataset.state = state;
    mic.classList.toggle("recording", state === "recording");
    mic.setAttribute("aria-pressed", String(state === "recording"));
    mic.title = state === "recording" ? "Stop and send the voice note" : "Record a voice note";
  }

  function whyNot(err) {
    const name = err && err.name;
    if (name === "NotAllowedError" || name === "SecurityError") {
      return "microphone blocked: allow it for this page in the browser, then press 🎤 again";
    }
    if (name === "NotFoundError" || name === "OverconstrainedError") {
      return "no microphone found: connect one, or type your message";
    }
    if (name === "NotReadableError") return "the microphone is busy in another program";
    return `the microphone could not start: ${(err && err.message) || err}`;
  }

  async function start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.MediaRecorder) {
      say("this browser cannot record here (voice notes need https or localhost)");
      return;
    }
    setMic("starting");
    say("");
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (err) {
      setMic("idle");
      say(whyNot(err));
      return;
    }
    const recorder = new MediaRecorder(stream);
    rec = { recorder, stream, chunks: [], bytes: 0, started: Date.now(), timer: null };
    const mine = rec;
    recorder.ondataavailable = (e) => {
      if (!e.data || !e.data.size) return;
      mine.chunks.push(e.data);
      mine.bytes += e.data.size;
      $("mic").dataset.bytes = String(mine.bytes);
    };
    recorder.onstop = () => finish(mine);
    $("mic").dataset.bytes = "0";
    recorder.start(250); // a chunk every 250 ms: data-bytes grows while recording
    setMic("recording");
    const tick = () => {
      const s = Math.floor((Date.now() - mine.started) / 1000);
      say(`recording ${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")} · press 🎤 to send`);
    };
    tick();
    mine.timer = setInterval(tick, 500);
  }

  function stop() {
    if (!rec) return;
    clearInterval(rec.timer);
    setMic("sending");
    rec.recorder.stop(); // the last chunk arrives, then finish()
  }

  function finish(done) {
    rec = null;
    for (const track of done.stream.getTracks()) track.stop();
    say("");
    const type = done.recorder.mimeType || "audio/webm";
    const blob = new Blob(done.chunks, { type });
    if (!blob.size) {
      setMic("idle");
      say("nothing was recorded: press 🎤, speak, then press it again");
      return;
    }
    const clientId = randomId();
    ctx.state.sent.add(clientId);
    const li = ctx.addMessage("user", PLACEHOLDER, { clientId });
    li.classList.add("voice");
    ctx.state.pending.set(clientId, { li, accepted: 0 }); // a reload keeps it until stored
    setMic("idle");
    upload(li, clientId, blob);
  }

  async function upload(li, clientId, blob) {
    const url = `/api/web/voice?chat=${encodeURIComponent(ctx.state.chat)}&client_id=${clientId}`;
    li.dataset.upload = "sending";
    R.setNote(li, "sending…");
    try {
      const res = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": blob.type },
        body: blob,
      });
      if (res.status === 401) {
        if (window.hermesNet.loggedOut) window.hermesNet.loggedOut();
        throw new AuthError("logged out");
      }
      if (!res.ok) {
        let detail = null;
        try {
          detail = (await res.json()).error.message;
        } catch (_) {
          /* not JSON */
        }
        throw new Error(detail || `the gateway answered HTTP ${res.status}`);
      }
      li.dataset.upload = "accepted";
      const entry = ctx.state.pending.get(clientId);
      if (entry) entry.accepted = ctx.state.historyRequest + 1; // histories from now on hold it
      R.setNote(li, null);
      ctx.setWaiting(true);
    } catch (err) {
      li.dataset.upload = "failed";
      if (err instanceof AuthError) return;
      R.setNote(li, `not sent: ${err.message}`, () => upload(li, clientId, blob));
    }
  }

  function userNote(clientId) {
    // A voice note recorded in another tab.
    const li = ctx.addMessage("user", PLACEHOLDER, { clientId });
    li.classList.add("voice");
  }

  function transcript(event) {
    // What the gateway heard in a voice note: it replaces the note's placeholder.
    const sel = `.msg.user[data-client-id="${CSS.escape(event.client_id || "")}"]`;
    const li = $("messages").querySelector(sel);
    if (!li) {
      ctx.addMessage("user", event.text || "", { clientId: event.client_id });
      return;
    }
    li.rawText = event.text || "";
    R.renderText(li.querySelector(".bubble"), li.rawText);
    li.dataset.transcribed = "1";
  }

  function audio(item, opts = {}) {
    // A spoken reply: an <audio> player in an assistant bubble (played at once if the
    // browser lets a page do that; else the reader presses play).
    const list = opts.into || $("messages");
    if (item.id && list.querySelector(`.msg.spoken[data-id="${CSS.escape(item.id)}"]`)) return;
    const li = ctx.addMessage("assistant", "", { into: list, at: item.at, history: opts.history });
    li.classList.add("spoken");
    if (item.id) li.dataset.id = item.id;
    const player = document.createElement("audio");
    player.controls = true;
    player.preload = "metadata";
    player.src = item.audio;
    li.querySelector(".bubble").replaceChildren(player);
    if (opts.live) player.play().catch(() => {}); // autoplay refused: the controls remain
  }

  function bind() {
    $("mic").addEventListener("click", () => {
      const state = $("mic").dataset.state || "idle";
      if (state === "idle") start();
      else if (state === "recording") stop();
    });
  }

  return { bind, userNote, transcript, audio };
};
