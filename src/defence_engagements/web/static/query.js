// The query page: runs the typed query against this server's /sparql and shows the
// result as a table (SELECT/ASK) or as text (graphs, or a chosen raw format).
(function () {
  "use strict";
  const form = document.getElementById("query-form");
  const textarea = document.getElementById("query");
  const results = document.getElementById("results");
  const status = document.getElementById("status");
  const format = document.getElementById("format");
  const picker = document.getElementById("examples");
  const examples = JSON.parse(document.getElementById("example-data").textContent || "[]");
  const endpoint = form.getAttribute("action");
  const canonicalBase = form.dataset.canonicalBase || "";
  const servingBase = form.dataset.servingBase || "";

  // Our IRIs are shown as they are, but link to this server, which serves them.
  function localHref(iri) {
    return canonicalBase && iri.indexOf(canonicalBase) === 0
      ? servingBase + iri.slice(canonicalBase.length)
      : iri;
  }

  if (picker) {
    picker.addEventListener("change", function () {
      if (picker.value !== "") textarea.value = examples[Number(picker.value)];
    });
  }

  function cell(term) {
    const td = document.createElement("td");
    if (!term) return td;
    if (term.type === "uri") {
      const a = document.createElement("a");
      a.href = localHref(term.value);
      a.textContent = term.value;
      td.appendChild(a);
    } else {
      td.textContent = term.value;
      if (term["xml:lang"]) {
        const lang = document.createElement("span");
        lang.className = "lang";
        lang.textContent = " @" + term["xml:lang"];
        td.appendChild(lang);
      }
    }
    return td;
  }

  function showTable(data) {
    results.replaceChildren();
    if (typeof data.boolean === "boolean") {
      const p = document.createElement("p");
      p.className = "boolean";
      p.textContent = "Answer: " + (data.boolean ? "yes" : "no");
      results.appendChild(p);
      return 1;
    }
    const vars = data.head.vars || [];
    const rows = data.results.bindings;
    const table = document.createElement("table");
    table.className = "result-table";
    const head = table.createTHead().insertRow();
    vars.forEach(function (v) {
      const th = document.createElement("th");
      th.textContent = "?" + v;
      head.appendChild(th);
    });
    const body = table.createTBody();
    rows.forEach(function (row) {
      const tr = body.insertRow();
      vars.forEach(function (v) { tr.appendChild(cell(row[v])); });
    });
    results.appendChild(table);
    return rows.length;
  }

  function showText(text) {
    results.replaceChildren();
    const pre = document.createElement("pre");
    pre.textContent = text;
    results.appendChild(pre);
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    // The address bar always holds a link that reproduces this query.
    const shared = new URL(endpoint, window.location.href);
    shared.searchParams.set("query", textarea.value);
    window.history.replaceState(null, "", shared.toString());
    const chosen = format.value;
    const accept = chosen ? "" :
      "application/sparql-results+json, text/turtle;q=0.9";
    status.textContent = "Running…";
    const started = performance.now();
    const body = new URLSearchParams({ query: textarea.value });
    if (chosen) body.set("format", chosen);
    try {
      const headers = { "Content-Type": "application/x-www-form-urlencoded" };
      if (accept) headers.Accept = accept;
      const response = await fetch(endpoint, { method: "POST", body: body, headers: headers });
      const type = response.headers.get("Content-Type") || "";
      const text = await response.text();
      const seconds = ((performance.now() - started) / 1000).toFixed(2);
      if (!response.ok) {
        let message = text;
        try { message = JSON.parse(text).detail || text; } catch (e) { /* plain text */ }
        results.replaceChildren();
        const pre = document.createElement("pre");
        pre.className = "error";
        pre.textContent = response.status + " " + response.statusText + "\n\n" + message;
        results.appendChild(pre);
        status.textContent = "Failed after " + seconds + " s";
        return;
      }
      if (!chosen && type.indexOf("sparql-results+json") !== -1) {
        const count = showTable(JSON.parse(text));
        status.textContent = count + " result" + (count === 1 ? "" : "s") + " in " + seconds + " s";
      } else {
        showText(text);
        status.textContent = type.split(";")[0] + " in " + seconds + " s";
      }
    } catch (error) {
      status.textContent = "Could not reach the endpoint: " + error;
    }
  });
  if (form.dataset.autorun === "true") {
    form.requestSubmit();
  }
})();
