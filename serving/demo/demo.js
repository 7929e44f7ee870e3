// The demo page (serving/demo/index.html): runs a served model and draws its
// gates, through the server's TensorFlow Serving REST API only. The one thing
// that API cannot say, which models are served, the server wrote into the
// page's #served-models element (serving/demo_page.py).
"use strict";

(function () {
  // --- What the page knows about the zoo's exports ---------------------------

  // Shown in the text box, and run when it is left empty.
  const EXAMPLES = {
    classifier: "area man wins argument with toaster",
    translator: "Hace mucho frío esta mañana.",
    language_model: "ROMEO:",
    other: "",
  };
  // The server requires every input a signature names, defaults or not.
  const OPTION_DEFAULTS = {
    max_length: 200, temperature: 0.8, top_k: 0, top_p: 1.0, seed: -1, beam_width: 4,
  };
  const OPTION_HINTS = {
    max_length: "tokens to generate",
    temperature: "below 1: safer, above 1: wilder",
    top_k: "0: no limit",
    top_p: "1: no limit",
    seed: "-1: a fresh draw each time",
    beam_width: "1: greedy (the gates always follow the greedy translation)",
  };
  const KIND_NAMES = {
    classifier: "classifier", translator: "translator",
    language_model: "language model", other: "model",
  };
  const TOP_K_LIMIT = 4096;

  // What each recorded quantity means, by cell family (zoo/diagnostics/trace.py
  // names them). A family's `gates` lie in [0, 1] and get the sequential scale;
  // the rest are states or inputs, drawn on a diverging scale centred on 0.
  const FAMILIES = [
    {
      name: "1997 LSTM", detect: (q) => q.has("y_in"), gates: ["y_in", "y_out"],
      meanings: {
        y_in: ["input gate of a block", "1 lets the token write into the block's cells, 0 shuts them (one per block)"],
        y_out: ["output gate of a block", "1 lets the cells' content out, 0 hides it (one per block)"],
        g: ["cell input", "what the token offers to each cell, before the input gate scales it"],
        s_c: ["cell state", "the constant error carousel: it only adds what the input gate lets in, and never forgets"],
        y_c: ["cell output", "the squashed state times the output gate: what the other units hear"],
      },
    },
    {
      name: "GRU", detect: (q) => q.has("h_tilde") || q.has("r"), gates: ["z", "r"],
      meanings: {
        z: ["update gate", "1 keeps the previous state, 0 replaces it with the candidate"],
        r: ["reset gate", "how much of the previous state the candidate is built from (0: none of it)"],
        h_tilde: ["candidate state", "what the unit would become if the update gate let it"],
        h: ["hidden state", "the layer's memory and output"],
      },
    },
    {
      name: "LSTM", detect: (q) => q.has("i") && q.has("f"), gates: ["i", "f", "o"],
      meanings: {
        i: ["input gate", "1 writes the new candidate into the cell, 0 keeps it out"],
        f: ["forget gate", "1 keeps the cell's memory, 0 erases it"],
        z: ["cell input", "the candidate content, in [-1, 1], that the input gate lets in"],
        o: ["output gate", "1 shows the cell's content in the output, 0 hides it"],
        c: ["cell state", "the memory itself: unbounded, kept by f and written by i"],
        n: ["normalizer state", "the input-gate weight the cell state is divided by"],
        y: ["output", "o times tanh(c): what the layer passes on"],
        h: ["output", "what the layer passes on"],
      },
    },
    {
      name: "minimal RNN", detect: (q) => q.has("a") && q.has("b"), gates: ["a"],
      meanings: {
        a: ["state kept", "the share of the previous state kept: 1 keeps it, 0 replaces it"],
        b: ["state written", "what the token writes into the state"],
        h: ["state", "a times the previous state, plus b: the layer's output"],
      },
    },
  ];
  const GENERIC = { name: "", detect: () => true, gates: [], meanings: {} };

  // Light to dark blue for [0, 1]; blue, white, red for negative, 0, positive.
  const SEQUENTIAL = [[247, 251, 255], [198, 219, 239], [107, 174, 214], [33, 113, 181], [8, 48, 107]];
  const DIVERGING = [[33, 102, 172], [103, 169, 207], [247, 247, 247], [239, 138, 98], [178, 24, 43]];

  // --- Small helpers ------------------------------------------------------------

  const $ = (id) => document.getElementById(id);

  // An element with attributes and children (text is always text, never markup).
  function el(tag, attributes, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value !== null && value !== undefined && value !== false) {
        element.setAttribute(name, value === true ? "" : String(value));
      }
    }
    element.append(...children.filter((child) => child !== null && child !== undefined));
    return element;
  }

  class ApiError extends Error {
    // status 0: no HTTP answer at all.
    constructor(status, statusText, message, what) {
      super(message);
      this.status = status;
      this.statusText = statusText;
      this.what = what;
    }
  }

  // A problem the page found itself: a request it would not send, an answer it cannot read.
  class PageError extends Error {
    constructor(message, title = "Not sent") {
      super(message);
      this.title = title;
    }
  }

  // The server writes float32 NaN and Infinity as bare words, as TF Serving
  // does; JSON.parse refuses them, so they are read as null and ±1e999.
  function parseServerJson(text) {
    try {
      return JSON.parse(text);
    } catch (error) {
      const patched = text.replace(/"(?:[^"\\]|\\.)*"|-?Infinity|NaN/g, (token) =>
        token === "NaN" ? "null" : token.endsWith("Infinity") ? token.replace("Infinity", "1e999") : token);
      return JSON.parse(patched);
    }
  }

  async function api(method, path, body) {
    const what = `${method} /${path}`;
    let response;
    try {
      response = await fetch(path, {
        method,
        headers: body === undefined ? {} : { "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch (error) {
      throw new ApiError(0, "", `The server could not be reached (${error.message}).`, what);
    }
    const text = await response.text();
    let answer = null;
    try {
      answer = parseServerJson(text);
    } catch (error) {
      answer = null;
    }
    if (!response.ok) {
      // TF Serving's {"error": message}; anything else (a 404 page) as plain text.
      const message = answer && typeof answer.error === "string"
        ? answer.error : text.replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim();
      throw new ApiError(response.status, response.statusText, message || "(no message)", what);
    }
    if (answer === null) {
      throw new ApiError(response.status, response.statusText,
        `The answer is not JSON: ${text.slice(0, 200)}`, what);
    }
    return answer;
  }

  const modelPath = (name) => `v1/models/${encodeURIComponent(name)}`;

  function rank(spec) {
    const shape = spec.tensor_shape;
    if (!shape || shape.unknown_rank) return 1;
    return (shape.dim || []).length;
  }

  const naturalOrder = (a, b) => a.localeCompare(b, "en", { numeric: true });
  const isInteger = (dtype) => /^DT_U?INT/.test(dtype);
  const isNumber = (dtype) => isInteger(dtype) || /^DT_(FLOAT|DOUBLE|HALF|BFLOAT16)$/.test(dtype);

  // --- Models: what their metadata says -------------------------------------------

  const optionRank = (alias) => {
    const index = Object.keys(OPTION_DEFAULTS).indexOf(alias);
    return index < 0 ? Infinity : index;
  };

  const metadataCache = new Map(); // name -> Promise of info
  let runCount = 0; // the latest run; older ones' answers are dropped

  function describe(name, metadata) {
    const signatures = ((metadata.metadata || {}).signature_def || {}).signature_def || {};
    const main = signatures.serving_default;
    const inputs = main ? main.inputs || {} : {};
    const outputs = main ? main.outputs || {} : {};
    let kind = "other";
    if ("prompts" in inputs) kind = "language_model";
    else if ("translation" in outputs) kind = "translator";
    else if ("scores" in outputs && "classes" in outputs) kind = "classifier";
    let textInput = ["text", "prompts"].find((alias) => alias in inputs);
    if (!textInput) {
      textInput = Object.keys(inputs).find((alias) => inputs[alias].dtype === "DT_STRING") || null;
    }
    const gates = signatures.gates;
    const gateInputs = gates ? Object.keys(gates.inputs || {}) : [];
    return {
      name,
      version: (metadata.model_spec || {}).version,
      signatures,
      kind,
      textInput,
      // The known options in their documented order, then any others by name.
      options: Object.entries(inputs).filter(([alias]) => alias !== textInput).sort(([a], [b]) =>
        optionRank(a) - optionRank(b) || naturalOrder(a, b)),
      hasGates: Boolean(gates),
      gatesInput: gateInputs.includes("text") ? "text" : gateInputs[0] || "text",
    };
  }

  function loadInfo(name) {
    if (!metadataCache.has(name)) {
      const promise = api("GET", `${modelPath(name)}/metadata`).then((metadata) => describe(name, metadata));
      promise.catch(() => metadataCache.delete(name)); // try again next time
      metadataCache.set(name, promise);
    }
    return metadataCache.get(name);
  }

  function showModel(info) {
    const names = Object.keys(info.signatures).filter((name) => !name.startsWith("__")).sort();
    const version = info.version ? ` · version ${info.version}` : "";
    $("model-info").textContent = `${KIND_NAMES[info.kind]}${version} · signatures: ${names.join(", ")}`
      + (info.hasGates ? "" : " (no gates signature)");
    $("text").placeholder = EXAMPLES[info.kind];
    const fields = $("option-fields");
    fields.replaceChildren();
    for (const [alias, spec] of info.options) {
      const id = `option-${alias}`;
      const number = isNumber(spec.dtype);
      const value = alias in OPTION_DEFAULTS ? OPTION_DEFAULTS[alias] : "";
      const hint = OPTION_HINTS[alias] || spec.dtype;
      fields.append(el("div", { class: "field option" },
        el("label", { for: id }, alias),
        el("input", {
          id, name: alias, type: number ? "number" : "text", value,
          step: number ? (isInteger(spec.dtype) ? "1" : "any") : null,
          "data-dtype": spec.dtype, "aria-describedby": `${id}-hint`,
        }),
        el("span", { id: `${id}-hint`, class: "hint" }, hint)));
    }
    $("options").hidden = info.options.length === 0;
  }

  async function selectModel() {
    const name = $("model").value;
    runCount++; // results still on their way belong to the other model
    setStatus("");
    $("prediction").replaceChildren(el("p", { class: "hint" }, "Type some text and press Run."));
    showGatesNote("The heatmap appears here after a run.");
    $("model-info").textContent = "Reading the model's signatures…";
    try {
      const info = await loadInfo(name);
      if ($("model").value === name) showModel(info);
    } catch (error) {
      if ($("model").value === name) {
        $("model-info").replaceChildren(errorBox(error));
        $("options").hidden = true;
      }
    }
  }

  // --- Running a model ----------------------------------------------------------------

  function optionValue(alias, spec) {
    const field = document.getElementById(`option-${alias}`);
    const text = field ? field.value.trim() : "";
    if (!isNumber(spec.dtype)) return text;
    const value = Number(text);
    if (text === "" || !Number.isFinite(value) || (isInteger(spec.dtype) && !Number.isInteger(value))) {
      throw new PageError(`The option ${alias} needs ${isInteger(spec.dtype) ? "a whole number" : "a number"}.`);
    }
    return value;
  }

  function predictRequest(info, text) {
    if (!info.textInput) {
      throw new PageError("This model's serving_default signature has no text input the page can fill.");
    }
    const inputs = {};
    for (const [alias, spec] of Object.entries(info.signatures.serving_default.inputs)) {
      const value = alias === info.textInput ? text : optionValue(alias, spec);
      inputs[alias] = rank(spec) === 0 ? value : [value]; // a batch of one
    }
    return { signature_name: "serving_default", inputs };
  }

  // The columnar answer names its outputs, unless there is only one.
  function output(info, answer, alias) {
    const outputs = answer.outputs;
    const count = Object.keys(info.signatures.serving_default.outputs || {}).length;
    return count === 1 ? outputs : outputs[alias];
  }

  const formatScore = (score) => `${(score * 100).toFixed(1)}%`;

  function renderPrediction(info, text, answer) {
    const area = $("prediction");
    if (info.kind === "classifier") {
      const scores = output(info, answer, "scores")[0];
      const classes = output(info, answer, "classes")[0];
      const best = scores.indexOf(Math.max(...scores));
      const list = el("ul", { class: "scores", "aria-label": "Score of each class" });
      scores.forEach((score, index) => {
        const fill = el("span", { class: "bar-fill" });
        fill.style.width = `${Math.max(0, Math.min(1, score)) * 100}%`;
        list.append(el("li", { class: index === best ? "score-row best" : "score-row", "data-class": classes[index] },
          el("span", { class: "class-name" }, classes[index]),
          el("span", {
            class: "bar", role: "meter", "aria-valuemin": 0, "aria-valuemax": 1,
            "aria-valuenow": score, "aria-label": `score of ${classes[index]}`,
          }, fill),
          el("span", { class: "score-value" }, formatScore(score))));
      });
      area.replaceChildren(list, el("p", { class: "verdict" }, "Predicted: ",
        el("strong", { class: "predicted-class" }, classes[best])));
    } else if (info.kind === "translator") {
      area.replaceChildren(el("p", { class: "translation" }, output(info, answer, "translation")[0]));
    } else if (info.kind === "language_model") {
      area.replaceChildren(
        el("p", { class: "generation" }, el("span", { class: "prompt" }, text),
          el("span", { class: "continuation" }, output(info, answer, "text")[0])),
        el("p", { class: "hint" }, "Grey: your prompt. Black: the model's continuation."));
    } else {
      area.replaceChildren(el("pre", { class: "raw-output" }, JSON.stringify(answer.outputs, null, 2)));
    }
  }

  function errorBox(error) {
    let title = "Error";
    if (error instanceof ApiError) {
      title = error.status
        ? `HTTP ${error.status}${error.statusText ? ` ${error.statusText}` : ""} from ${error.what}`
        : `No answer from ${error.what}`;
    } else if (error instanceof PageError) {
      title = error.title;
    }
    return el("div", { class: "error", role: "alert" },
      el("strong", { class: "error-title" }, title),
      el("p", { class: "error-message" }, error.message || String(error)));
  }

  async function run(event) {
    if (event) event.preventDefault();
    const name = $("model").value;
    if (!name) return;
    const id = ++runCount;
    const current = () => id === runCount; // a newer run replaces this one's results
    const textArea = $("text");
    if (!textArea.value.trim()) textArea.value = textArea.placeholder;
    const text = textArea.value;
    const started = performance.now();
    setStatus("Running…");
    const prediction = $("prediction");
    prediction.replaceChildren(el("p", { class: "hint" }, "Running…"));
    $("heatmaps").replaceChildren(el("p", { class: "hint" }, "Running…"));
    let info;
    try {
      info = await loadInfo(name);
    } catch (error) {
      if (!current()) return;
      prediction.replaceChildren(errorBox(error));
      showGatesNote("No heatmap: the model's signatures could not be read.");
      setStatus("Failed.");
      return;
    }
    const predicted = Promise.resolve().then(() => api("POST", `${modelPath(name)}:predict`, predictRequest(info, text)))
      .then((answer) => current() && renderPrediction(info, text, answer))
      .catch((error) => current() && prediction.replaceChildren(errorBox(error)));
    let gated;
    if (info.hasGates) {
      gated = api("POST", `${modelPath(name)}:predict`,
        { signature_name: "gates", inputs: { [info.gatesInput]: [text] } })
        .then((answer) => current() && showGates(parseGates(answer.outputs)))
        .catch((error) => current() && showGatesError(error));
    } else {
      showGatesNote("This export has no gates signature, so there is no heatmap for it.");
      gated = Promise.resolve();
    }
    await Promise.all([predicted, gated]);
    if (current()) {
      const failed = document.querySelector("#prediction .error, #heatmaps .error");
      setStatus(`${failed ? "Finished with an error" : "Done"} in ${Math.round(performance.now() - started)} ms.`);
    }
  }

  function setStatus(text) {
    $("status").textContent = text;
  }

  // --- Gates: the answer of the `gates` signature -------------------------------------------

  let gates = null; // {panels, quantities} of the last answer
  let chosenQuantity = null; // kept across runs while the model has it

  function realTokens(tokens, count) {
    const row = (tokens || [[]])[0] || [];
    return row.slice(0, count ? count[0] : row.length);
  }

  // "LAYER/DIRECTION/QUANTITY" keys become one panel per layer and direction.
  function parseGates(outputs) {
    if (!outputs || !outputs.tokens) {
      throw new PageError("The gates signature's answer has no tokens.", "Unexpected answer");
    }
    const tokens = realTokens(outputs.tokens, outputs.token_count);
    const targets = outputs.target_tokens
      ? realTokens(outputs.target_tokens, outputs.target_token_count) : null;
    const byId = new Map();
    for (const [key, value] of Object.entries(outputs)) {
      const parts = key.split("/");
      if (parts.length < 3) continue; // tokens, token_count, score...
      const quantity = parts.pop();
      const direction = parts.pop();
      const layer = parts.join("/");
      const id = `${layer}/${direction}`;
      if (!byId.has(id)) byId.set(id, { layer, direction, quantities: new Map(), importance: null });
      const panel = byId.get(id);
      if (quantity === "importance") panel.importance = value[0];
      else panel.quantities.set(quantity, value[0]);
    }
    const panels = [...byId.values()];
    for (const panel of panels) {
      // A translator's decoder reads the translation's tokens, the rest the text's.
      panel.tokens = panel.layer.startsWith("decoder") && targets ? targets : tokens;
      for (const [quantity, rows] of panel.quantities) {
        panel.quantities.set(quantity, rows.slice(0, panel.tokens.length));
      }
      const names = new Set(panel.quantities.keys());
      panel.family = FAMILIES.find((family) => family.detect(names)) || GENERIC;
    }
    panels.sort((a, b) => (a.layer.startsWith("decoder") - b.layer.startsWith("decoder"))
      || naturalOrder(a.layer, b.layer) || (a.direction === "backward") - (b.direction === "backward")
      || naturalOrder(a.direction, b.direction));
    const quantities = [];
    for (const panel of panels) {
      const known = Object.keys(panel.family.meanings).filter((name) => panel.quantities.has(name));
      const rest = [...panel.quantities.keys()].filter((name) => !known.includes(name)).sort(naturalOrder);
      for (const name of [...known, ...rest]) if (!quantities.includes(name)) quantities.push(name);
    }
    return { panels, quantities };
  }

  function meaning(panel, quantity) {
    const known = panel.family.meanings[quantity];
    return known ? { label: known[0], text: known[1] } : null;
  }

  function isGate(panel, quantity) {
    return panel.family.gates.includes(quantity);
  }

  function showGates(parsed) {
    gates = parsed;
    const select = $("quantity");
    select.replaceChildren();
    if (!parsed.panels.length) {
      showGatesNote("The gates signature returned no recurrent layer.");
      return;
    }
    for (const quantity of parsed.quantities) {
      const panel = parsed.panels.find((p) => p.quantities.has(quantity));
      const known = meaning(panel, quantity);
      select.append(el("option", { value: quantity }, known ? `${quantity} (${known.label})` : quantity));
    }
    if (!parsed.quantities.includes(chosenQuantity)) {
      // The first gate: i for an LSTM, z for a GRU, y_in for the 1997 LSTM.
      chosenQuantity = parsed.quantities.find((q) => parsed.panels.some((p) => p.quantities.has(q) && isGate(p, q)))
        || parsed.quantities[0];
    }
    select.value = chosenQuantity;
    select.disabled = false;
    $("gate-controls").hidden = false;
    $("heatmap-hint").hidden = false;
    drawHeatmaps();
  }

  function showGatesNote(text) {
    gates = null;
    $("quantity").replaceChildren();
    $("quantity").disabled = true;
    $("gate-controls").hidden = true;
    $("heatmap-hint").hidden = true;
    $("quantity-explanation").textContent = "";
    $("heatmaps").replaceChildren(el("p", { id: "gates-note", class: "note" }, text));
  }

  function showGatesError(error) {
    showGatesNote("");
    $("heatmaps").replaceChildren(errorBox(error));
  }

  function topK() {
    const value = Number($("top-k").value);
    return Number.isInteger(value) && value >= 1 ? Math.min(value, TOP_K_LIMIT) : null;
  }

  function drawHeatmaps() {
    if (!gates) return;
    hideTip();
    const quantity = chosenQuantity;
    const k = topK() || 32;
    $("heatmaps").replaceChildren(...gates.panels.map((panel) => drawPanel(panel, quantity, k)));
    const lines = [];
    for (const panel of gates.panels) {
      const known = meaning(panel, quantity);
      const line = known ? `${quantity}: ${known.label} — ${known.text}`
        : `${quantity}: a quantity the ${panel.family.name || "layer's"} cell computes at every token`;
      if (panel.quantities.has(quantity) && !lines.includes(line)) lines.push(line);
    }
    $("quantity-explanation").textContent = lines.join(" · ");
  }

  // Units (or the 1997 LSTM's blocks) ordered by importance, most important first.
  function unitOrder(width, importance) {
    const natural = Array.from({ length: width }, (_, index) => index);
    if (!importance || !importance.length) return { order: natural, unit: "unit", ranked: false };
    let scores = importance;
    let unit = "unit";
    if (importance.length !== width) {
      // Per-block quantities (y_in, y_out): a block's cells are the units
      // j·S ... j·S + S - 1, so a block weighs what its cells do together.
      if (importance.length % width) return { order: natural, unit: "unit", ranked: false };
      const size = importance.length / width;
      scores = natural.map((block) => importance.slice(block * size, (block + 1) * size)
        .reduce((sum, value) => sum + value, 0));
      unit = "block";
    }
    return { order: natural.sort((a, b) => (scores[b] - scores[a]) || (a - b)), unit, ranked: true };
  }

  function scaleFor(panel, quantity, rows, shown) {
    const values = [];
    for (const row of rows) for (const unit of shown) if (Number.isFinite(row[unit])) values.push(row[unit]);
    const inUnitRange = values.every((value) => value >= 0 && value <= 1);
    if (isGate(panel, quantity) || (!meaning(panel, quantity) && inUnitRange)) {
      return { kind: "sequential", min: 0, max: 1 };
    }
    const limit = values.reduce((most, value) => Math.max(most, Math.abs(value)), 0);
    return { kind: "diverging", limit: limit || 1 };
  }

  function interpolate(stops, t) {
    const x = Math.max(0, Math.min(1, t)) * (stops.length - 1);
    const index = Math.min(Math.floor(x), stops.length - 2);
    const f = x - index;
    const [a, b] = [stops[index], stops[index + 1]];
    return `rgb(${a.map((value, channel) => Math.round(value + (b[channel] - value) * f)).join(", ")})`;
  }

  function colour(scale, value) {
    if (!Number.isFinite(value)) return null;
    if (scale.kind === "sequential") return interpolate(SEQUENTIAL, (value - scale.min) / (scale.max - scale.min));
    return interpolate(DIVERGING, 0.5 + value / (2 * scale.limit));
  }

  const short = (value) => String(Number(value.toPrecision(3)));

  function legend(scale) {
    const stops = scale.kind === "sequential" ? SEQUENTIAL : DIVERGING;
    const bar = el("span", { class: "legend-bar" });
    bar.style.backgroundImage = `linear-gradient(to right, ${stops.map((_, i) => interpolate(stops, i / (stops.length - 1))).join(", ")})`;
    const labels = scale.kind === "sequential"
      ? ["0", "0.5", "1"] : [`−${short(scale.limit)}`, "0", `+${short(scale.limit)}`];
    const words = scale.kind === "sequential"
      ? "gate: 0 (light) shut, 1 (dark) open"
      : `value: blue negative, white 0, red positive (up to ±${short(scale.limit)}, the largest shown)`;
    return el("div", { class: "legend", role: "img", "aria-label": `Colour scale: ${words}` },
      el("span", { class: "legend-scale", "aria-hidden": "true" }, bar,
        el("span", { class: "legend-labels" }, ...labels.map((label) => el("span", {}, label)))),
      el("span", { class: "legend-words", "aria-hidden": "true" }, words));
  }

  // Spaces and line breaks made visible (character-level models).
  function displayToken(token) {
    if (token === "") return "∅";
    return token.replace(/ /g, "␣").replace(/\n/g, "⏎").replace(/\t/g, "⇥");
  }

  function drawPanel(panel, quantity, k) {
    const title = `${panel.layer} · ${panel.direction}`;
    const section = el("section", {
      class: "heatmap-panel", "data-layer": panel.layer, "data-direction": panel.direction,
      "aria-label": title,
    }, el("h3", {}, title, panel.family.name ? el("span", { class: "family" }, ` ${panel.family.name}`) : null));
    const rows = panel.quantities.get(quantity);
    if (!rows) {
      section.append(el("p", { class: "note" }, `This layer records no ${quantity}.`));
      return section;
    }
    if (!panel.tokens.length) {
      section.append(el("p", { class: "note" }, "No tokens: the text had none the model knows."));
      return section;
    }
    const width = rows[0].length;
    const { order, unit, ranked } = unitOrder(width, panel.importance);
    const shown = order.slice(0, k);
    const scale = scaleFor(panel, quantity, rows, shown);
    const orderNote = ranked ? "most important first" : "in their own order";
    section.append(el("p", { class: "panel-caption" },
      `${quantity} at ${panel.tokens.length} tokens × ${shown.length} of ${width} ${unit}s, ${orderNote}`),
    legend(scale));

    const head = el("tr", {}, el("th", { scope: "col", class: "corner" }, `token \\ ${unit}`),
      ...shown.map((index) => el("th", { scope: "col", class: "unit", "data-unit": index }, String(index))));
    const body = el("tbody");
    panel.tokens.forEach((token, t) => {
      const row = el("tr", {}, el("th", {
        scope: "row", class: "token", title: `token ${t}: ${JSON.stringify(token)}`, "data-text": token,
      }, displayToken(token)));
      for (const index of shown) {
        const value = rows[t][index];
        const text = value === null ? "NaN" : String(value);
        const cell = el("td", {
          class: Number.isFinite(value) ? "cell" : "cell missing",
          tabindex: t === 0 && index === shown[0] ? 0 : -1, // the table's one Tab stop
          "data-token": t, "data-unit": index, "data-value": text,
          "aria-label": `${JSON.stringify(token)}, ${unit} ${index}: ${text}`,
        });
        const fill = colour(scale, value);
        if (fill) cell.style.backgroundColor = fill;
        row.append(cell);
      }
      body.append(row);
    });
    const table = el("table", {
      class: "heatmap", role: "grid", "data-unit-name": unit, "data-quantity": quantity,
      "aria-label": `${quantity} of ${title}: one row per token, one column per ${unit}`,
    }, el("thead", {}, head), body);
    table.dataset.title = title;
    table.addEventListener("mouseover", (event) => {
      const cell = event.target.closest("td.cell");
      if (cell) showTip(cell);
    });
    table.addEventListener("mouseleave", () => {
      const focused = table.contains(document.activeElement) && document.activeElement.closest("td.cell");
      if (focused) showTip(focused);
      else hideTip();
    });
    table.addEventListener("focusin", (event) => {
      const cell = event.target.closest("td.cell");
      if (cell) showTip(cell, true);
    });
    table.addEventListener("focusout", (event) => {
      if (!table.contains(event.relatedTarget)) hideTip();
    });
    table.addEventListener("click", (event) => { // a tap
      const cell = event.target.closest("td.cell");
      if (cell) cell.focus();
    });
    table.addEventListener("keydown", moveFocus);
    section.append(el("div", { class: "heatmap-scroll" }, table));
    return section;
  }

  // Arrow keys, Home and End move between cells; one cell per table is in the Tab order.
  function moveFocus(event) {
    const cell = event.target.closest("td.cell");
    if (!cell) return;
    if (event.key === "Escape") {
      hideTip();
      return;
    }
    const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    const rows = [...cell.closest("tbody").rows];
    const r = rows.indexOf(cell.parentElement);
    const c = cell.cellIndex;
    let target = null;
    if (moves[event.key]) {
      const [dr, dc] = moves[event.key];
      const row = rows[r + dr];
      target = row ? row.cells[c + dc] : null;
    } else if (event.key === "Home") {
      target = cell.parentElement.cells[1];
    } else if (event.key === "End") {
      target = cell.parentElement.cells[cell.parentElement.cells.length - 1];
    }
    if (!target || target.tagName !== "TD") return;
    event.preventDefault();
    cell.tabIndex = -1;
    target.tabIndex = 0;
    target.focus();
  }

  function showTip(cell, announce) {
    const table = cell.closest("table");
    const t = Number(cell.dataset.token);
    const token = table.tBodies[0].rows[t].cells[0].dataset.text;
    const tip = $("heatmap-tooltip");
    tip.replaceChildren(
      el("div", { class: "tip-token" }, `${JSON.stringify(token)} (token ${t})`),
      el("div", { class: "tip-unit" }, `${table.dataset.unitName} ${cell.dataset.unit} · ${table.dataset.quantity} · ${table.dataset.title}`),
      el("div", { class: "tip-value" }, cell.dataset.value));
    tip.hidden = false;
    const box = cell.getBoundingClientRect();
    const width = tip.offsetWidth;
    let left = box.right + 8;
    if (left + width > document.documentElement.clientWidth - 4) left = Math.max(4, box.left - width - 8);
    tip.style.left = `${left + window.scrollX}px`;
    tip.style.top = `${box.top + window.scrollY - 4}px`;
    if (announce) $("cell-readout").textContent = cell.getAttribute("aria-label");
  }

  function hideTip() {
    $("heatmap-tooltip").hidden = true;
  }

  // --- Start ---------------------------------------------------------------------------------

  function servedModels() {
    try {
      const names = JSON.parse($("served-models").textContent);
      return Array.isArray(names) ? names.filter((name) => typeof name === "string") : [];
    } catch (error) {
      return [];
    }
  }

  function start() {
    const select = $("model");
    const names = servedModels();
    select.append(...names.map((name) => el("option", { value: name }, name)));
    if (!names.length) {
      select.disabled = true;
      $("run").disabled = true;
      $("model-info").textContent = "This server serves no models.";
      return;
    }
    select.addEventListener("change", selectModel);
    $("run-form").addEventListener("submit", run);
    $("run-form").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        $("run-form").requestSubmit();
      }
    });
    $("quantity").addEventListener("change", () => {
      chosenQuantity = $("quantity").value;
      drawHeatmaps();
    });
    $("top-k").addEventListener("input", () => {
      if (topK()) drawHeatmaps();
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape") hideTip();
    });
    window.addEventListener("resize", hideTip);
    selectModel();
  }

  start();
})();
