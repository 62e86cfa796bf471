// The student pages' script: a CodeMirror editor in place of the source textarea, drafts kept per problem and
// language, Run and Submit without leaving the page, and the result updated live.
//
// The pages work without it: the form posts, the result page refreshes itself. With it, the same form is posted
// with fetch (answered with JSON), and the result is fetched again each time it changes: the server answers the
// state request as soon as the worker reports progress (long polling), so nothing here polls on a timer.
// Result fragments are rendered by the server with Django's autoescaping; a program's output is never turned into
// markup here.

import { EditorView, basicSetup } from "codemirror";
import { Compartment, EditorState, Prec } from "@codemirror/state";
import { keymap } from "@codemirror/view";
import { indentWithTab } from "@codemirror/commands";
import { indentUnit, StreamLanguage } from "@codemirror/language";
import { lintGutter, setDiagnostics } from "@codemirror/lint";
// Language ids (the executor's) to editor modes, by the id's first letters: "python3" and "python3.12" are both
// Python. The first match wins, so longer prefixes come first.
// Each mode is its own chunk, loaded when a language needs it: the page does not download every parser.
const legacy = (load) => load.then((mode) => StreamLanguage.define(mode));
const MODES = [
  ["python", () => import("@codemirror/lang-python").then((m) => m.python())],
  ["cpp", () => import("@codemirror/lang-cpp").then((m) => m.cpp())],
  ["c++", () => import("@codemirror/lang-cpp").then((m) => m.cpp())],
  ["csharp", () => legacy(import("@codemirror/legacy-modes/mode/clike").then((m) => m.csharp))],
  ["c", () => import("@codemirror/lang-cpp").then((m) => m.cpp())],
  ["javascript", () => import("@codemirror/lang-javascript").then((m) => m.javascript())],
  ["java", () => import("@codemirror/lang-java").then((m) => m.java())],
  ["node", () => import("@codemirror/lang-javascript").then((m) => m.javascript())],
  ["typescript", () => import("@codemirror/lang-javascript").then((m) => m.javascript({ typescript: true }))],
  ["php", () => import("@codemirror/lang-php").then((m) => m.php())],
  ["rust", () => import("@codemirror/lang-rust").then((m) => m.rust())],
  ["go", () => import("@codemirror/lang-go").then((m) => m.go())],
  ["bash", () => legacy(import("@codemirror/legacy-modes/mode/shell").then((m) => m.shell))],
  ["sh", () => legacy(import("@codemirror/legacy-modes/mode/shell").then((m) => m.shell))],
  ["ruby", () => legacy(import("@codemirror/legacy-modes/mode/ruby").then((m) => m.ruby))],
  ["perl", () => legacy(import("@codemirror/legacy-modes/mode/perl").then((m) => m.perl))],
  ["lua", () => legacy(import("@codemirror/legacy-modes/mode/lua").then((m) => m.lua))],
  ["pascal", () => legacy(import("@codemirror/legacy-modes/mode/pascal").then((m) => m.pascal))],
  ["fpc", () => legacy(import("@codemirror/legacy-modes/mode/pascal").then((m) => m.pascal))],
  ["fortran", () => legacy(import("@codemirror/legacy-modes/mode/fortran").then((m) => m.fortran))],
  ["kotlin", () => legacy(import("@codemirror/legacy-modes/mode/clike").then((m) => m.kotlin))],
  ["scala", () => legacy(import("@codemirror/legacy-modes/mode/clike").then((m) => m.scala))],
  ["haskell", () => legacy(import("@codemirror/legacy-modes/mode/haskell").then((m) => m.haskell))],
  ["r", () => legacy(import("@codemirror/legacy-modes/mode/r").then((m) => m.r))],
];

// A promise of the editor extension highlighting `languageId` (none for a language without a mode).
function modeFor(languageId) {
  const id = (languageId || "").toLowerCase();
  const found = MODES.find(([prefix]) => id === prefix || id.startsWith(prefix));
  return found ? found[1]().catch(() => []) : Promise.resolve([]);
}

// Each language's usual indentation: Go's gofmt uses tabs, Ruby and JavaScript two spaces, most others four.
function indentFor(languageId) {
  const id = languageId || "";
  if (id.startsWith("go")) return "\t";
  return /^(ruby|javascript|node|typescript|haskell|lua)/.test(id) ? "  " : "    ";
}

// --- drafts -------------------------------------------------------------------------------------------------
// localStorage, per user, per problem (or the playground) and per language: switching languages keeps each draft.

const STORE = "sandbox:v1";

function draftKey(form, languageId) {
  return `${STORE}:draft:${form.dataset.user}:${form.dataset.draftKey}:${languageId}`;
}

function languageKey(form) {
  return `${STORE}:language:${form.dataset.user}:${form.dataset.draftKey}`;
}

function storageGet(key) {
  try { return window.localStorage.getItem(key); } catch { return null; }
}

function storageSet(key, value) {
  try { window.localStorage.setItem(key, value); } catch { /* full or disabled: drafts are a convenience */ }
}

// --- the live result ----------------------------------------------------------------------------------------

function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

// Fetch the state until the submission is finished, calling render(state) on each change.
async function follow(stateUrl, key, render) {
  let failures = 0;
  for (;;) {
    let state;
    try {
      const response = await fetch(`${stateUrl}?seen=${encodeURIComponent(key || "")}`, {
        headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store",
      });
      if (response.status === 404 || response.status === 403) return;
      if (response.redirected) { window.location.reload(); return; } // logged out meanwhile: the login page
      if (!response.ok || !(response.headers.get("Content-Type") || "").includes("json")) throw new Error(response.status);
      state = await response.json();
      failures = 0;
    } catch (e) {
      failures += 1; // the server restarted or the network blinked: try again, more slowly each time
      await sleep(Math.min(500 * 2 ** failures, 8000));
      continue;
    }
    if (state.key !== key) render(state);
    key = state.key;
    if (state.finished) return state;
  }
}

function showResult(container, state) {
  // The fragment is the server's own template output (autoescaped): program output inside it is text.
  container.innerHTML = state.html;
  container.dataset.key = state.key;
}

// --- the editor page ----------------------------------------------------------------------------------------

function setUpEditorForm(form) {
  const textarea = form.querySelector("textarea[name=source]");
  const select = form.querySelector("select[name=language]");
  const results = document.getElementById("results");
  const errors = form.querySelector(".form-errors");
  const buttons = Array.from(form.querySelectorAll("button[name=action]"));
  if (!textarea || !select) return;

  const remembered = storageGet(languageKey(form));
  if (remembered && Array.from(select.options).some((o) => o.value === remembered) && !textarea.value) {
    select.value = remembered;
  }
  let language = select.value;
  const initial = textarea.value || storageGet(draftKey(form, language)) || "";

  const languageConf = new Compartment();
  const indentConf = new Compartment();
  let saveTimer = null;
  const saveDraft = () => {
    clearTimeout(saveTimer);
    saveTimer = null;
    storageSet(draftKey(form, language), view.state.doc.toString());
    storageSet(languageKey(form), language);
  };

  const action = (name) => () => { submitWith(name); return true; };
  const view = new EditorView({
    parent: (() => {
      const box = document.createElement("div");
      box.className = "editor";
      textarea.insertAdjacentElement("afterend", box);
      return box;
    })(),
    state: EditorState.create({
      doc: initial,
      extensions: [
        basicSetup,
        keymap.of([indentWithTab]),
        Prec.highest(keymap.of([
          { key: "Mod-Enter", run: action("run") },
          { key: "Mod-Shift-Enter", run: action("submit") },
        ])),
        languageConf.of([]),
        indentConf.of(indentUnit.of(indentFor(language))),
        lintGutter(),
        EditorView.contentAttributes.of({ "aria-label": "Source code", "aria-multiline": "true" }),
        EditorView.updateListener.of((update) => {
          if (!update.docChanged) return;
          textarea.value = update.state.doc.toString();
          clearTimeout(saveTimer);
          saveTimer = setTimeout(saveDraft, 300);
        }),
      ],
    }),
  });
  const loadMode = (id) => modeFor(id).then((mode) => {
    if (id === language) view.dispatch({ effects: languageConf.reconfigure(mode) });
  });
  loadMode(language);
  textarea.value = initial;
  textarea.hidden = true; // kept in the form (and its label) so that the form still posts the source
  window.addEventListener("pagehide", () => { if (saveTimer) saveDraft(); });

  select.addEventListener("change", () => {
    saveDraft(); // the old language's draft, under the old language
    language = select.value;
    const draft = storageGet(draftKey(form, language));
    view.dispatch({
      changes: { from: 0, to: view.state.doc.length, insert: draft ?? view.state.doc.toString() },
      effects: [languageConf.reconfigure([]), indentConf.reconfigure(indentUnit.of(indentFor(language)))],
    });
    loadMode(language);
    view.dispatch(setDiagnostics(view.state, []));
    saveDraft();
  });

  // Ctrl/Cmd+Enter in the input box too, not only in the editor.
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !view.hasFocus) {
      event.preventDefault();
      submitWith(event.shiftKey ? "submit" : "run");
    }
  });

  const markDiagnostics = (diagnostics) => {
    const doc = view.state.doc;
    const marks = (diagnostics || []).filter((d) => d.line >= 1 && d.line <= doc.lines).map((d) => {
      const line = doc.line(d.line);
      const from = Math.min(line.from + Math.max((d.column || 1) - 1, 0), line.to);
      return { from, to: Math.max(from, line.to), severity: d.severity === "note" ? "info" : d.severity, message: d.message };
    });
    view.dispatch(setDiagnostics(view.state, marks));
  };

  const goToLine = (lineNumber, column) => {
    const doc = view.state.doc;
    const line = doc.line(Math.min(Math.max(lineNumber, 1), doc.lines));
    const at = Math.min(line.from + Math.max((column || 1) - 1, 0), line.to);
    view.dispatch({ selection: { anchor: at }, scrollIntoView: true });
    view.focus();
  };
  results.addEventListener("click", (event) => {
    const target = event.target.closest(".diagnostic[data-line]");
    if (target) goToLine(Number(target.dataset.line), Number(target.dataset.column || 1));
  });

  let busy = false;
  const setBusy = (value) => {
    busy = value;
    buttons.forEach((b) => { b.disabled = value; });
    form.setAttribute("aria-busy", value ? "true" : "false");
  };

  const showErrors = (payload, status) => {
    errors.replaceChildren();
    const messages = [];
    for (const [field, list] of Object.entries((payload && payload.errors) || {})) {
      for (const message of list) messages.push(field === "__all__" ? message : `${field}: ${message}`);
    }
    if (!messages.length) messages.push(`The server answered ${status}. Try again in a moment.`);
    for (const message of messages) {
      const p = document.createElement("p");
      p.textContent = message;
      errors.append(p);
    }
  };

  async function submitWith(name) {
    if (busy) return;
    if (saveTimer) saveDraft();
    textarea.value = view.state.doc.toString();
    const body = new FormData(form);
    body.set("action", name);
    setBusy(true);
    errors.replaceChildren();
    view.dispatch(setDiagnostics(view.state, []));
    results.innerHTML = "";
    const waiting = document.createElement("p");
    waiting.className = "status pending";
    waiting.setAttribute("role", "status");
    waiting.textContent = name === "submit" ? "Submitting…" : "Starting the run…";
    results.append(waiting);
    try {
      const response = await fetch(window.location.pathname, {
        method: "POST", body, credentials: "same-origin", headers: { Accept: "application/json" },
      });
      const isJson = (response.headers.get("Content-Type") || "").includes("json");
      const payload = isJson ? await response.json() : null;
      if (response.status !== 201 || !payload) {
        results.innerHTML = "";
        if (response.redirected || response.status === 403) { window.location.reload(); return; } // logged out
        showErrors(payload, response.status);
        return;
      }
      await follow(payload.state_url, "", (state) => {
        showResult(results, state);
        markDiagnostics(state.diagnostics);
      });
    } catch (e) {
      results.innerHTML = "";
      showErrors(null, "no answer (are you offline?)");
    } finally {
      setBusy(false);
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitWith(event.submitter && event.submitter.value === "submit" ? "submit" : "run");
  });
}

// --- the submission page --------------------------------------------------------------------------------------

function setUpSubmissionPage(results) {
  if (results.dataset.finished === "true") return;
  follow(results.dataset.stateUrl, results.dataset.key, (state) => showResult(results, state));
}

function main() {
  const form = document.getElementById("code-form");
  if (form) setUpEditorForm(form);
  const results = document.querySelector("#results[data-state-url]");
  if (results) setUpSubmissionPage(results);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", main);
else main();
