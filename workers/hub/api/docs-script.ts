/**
 * The docs page's script (vanilla, no framework, no network besides the API itself): the token
 * field, kept in sessionStorage only (gone when the tab closes), and the "try it" forms, which
 * call the API from the browser with that token and show the answer.
 */
export const DOCS_SCRIPT = String.raw`
(() => {
  "use strict";
  const KEY = "portcullis.apiToken";
  const MAX_SHOWN = 200000;
  const token = document.getElementById("token");
  const forget = document.getElementById("forget");
  token.value = sessionStorage.getItem(KEY) || "";
  token.addEventListener("input", () => {
    const value = token.value.trim();
    if (value === "") sessionStorage.removeItem(KEY);
    else sessionStorage.setItem(KEY, value);
  });
  forget.addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    token.value = "";
  });

  for (const form of document.querySelectorAll("form.try")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const out = form.querySelector("output");
      const method = form.dataset.method;
      let path = form.dataset.path;
      const query = new URLSearchParams();
      for (const input of form.querySelectorAll("[data-in]")) {
        const value = input.value.trim();
        if (value === "") continue;
        if (input.dataset.in === "path") path = path.replace("{" + input.name + "}", encodeURIComponent(value));
        else query.append(input.name, value);
      }
      const missing = path.match(/\{([^}]+)\}/);
      if (missing) {
        out.textContent = "Fill in " + missing[1] + " first.";
        return;
      }
      const headers = {};
      const bearer = token.value.trim();
      if (bearer !== "") headers.authorization = "Bearer " + bearer;
      let body;
      const bodyField = form.querySelector("textarea[name=body]");
      if (bodyField && bodyField.value.trim() !== "") {
        body = bodyField.value;
        const type = form.querySelector("select[name=contentType]");
        headers["content-type"] = type ? type.value : "application/json";
      }
      if (method !== "GET" && !window.confirm(method + " " + path + " changes this hub. Send it?")) return;
      const qs = query.toString();
      out.textContent = "Sending…";
      try {
        const res = await fetch(path + (qs === "" ? "" : "?" + qs), { method, headers, body, credentials: "same-origin" });
        let text = await res.text();
        if ((res.headers.get("content-type") || "").includes("json")) {
          try {
            text = JSON.stringify(JSON.parse(text), null, 2);
          } catch (_) {
            // not JSON after all: shown as it came
          }
        }
        if (text.length > MAX_SHOWN) text = text.slice(0, MAX_SHOWN) + "\n… (" + (text.length - MAX_SHOWN) + " more characters)";
        out.textContent = res.status + " " + res.statusText + "\n\n" + text;
      } catch (err) {
        out.textContent = "The request failed: " + err;
      }
    });
  }
})();
`;
