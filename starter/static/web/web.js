/* zhidu 制度 — the little plain JavaScript of the pages: auto-refresh of read-only regions,
   the signature pad, repeated rows of generated forms, the print button. No framework. */
(function () {
  "use strict";

  /* Auto-refresh: an element with data-refresh="SECONDS" and an id is re-read from the server
     every so often and replaced in place. Regions hold no inputs, so nothing a person typed
     elsewhere on the page is lost; nothing is refreshed while the tab is hidden. */
  function refreshRegions() {
    var regions = document.querySelectorAll("[data-refresh][id]");
    regions.forEach(function (region) {
      var seconds = Math.max(10, parseInt(region.getAttribute("data-refresh"), 10) || 30);
      setInterval(function () {
        if (document.hidden) { return; }
        if (region.contains(document.activeElement) && document.activeElement !== document.body) { return; }
        fetch(window.location.href, { credentials: "same-origin", headers: { "X-Zhidu-Refresh": "1" } })
          .then(function (resp) {
            if (resp.redirected && resp.url.indexOf("/login") !== -1) {
              window.location.reload(); /* the session ended: to the login page, and back */
              return null;
            }
            return resp.ok ? resp.text() : null;
          })
          .then(function (html) {
            if (!html) { return; }
            var doc = new DOMParser().parseFromString(html, "text/html");
            var fresh = doc.getElementById(region.id);
            if (fresh) { region.innerHTML = fresh.innerHTML; }
          })
          .catch(function () { /* offline for a moment: try again next time */ });
      }, seconds * 1000);
    });
  }

  /* Signature pad: draw with mouse, finger or pen; the drawing goes into the hidden input named
     by data-input as a PNG data URL when a stroke ends. */
  function signaturePads() {
    document.querySelectorAll("canvas.sig-pad").forEach(function (canvas) {
      var input = document.getElementById(canvas.getAttribute("data-input"));
      var ctx = canvas.getContext("2d");
      var drawing = false, drawn = false, last = null;
      ctx.lineWidth = 2.5; ctx.lineCap = "round"; ctx.lineJoin = "round"; ctx.strokeStyle = "#111";
      function point(ev) {
        var r = canvas.getBoundingClientRect();
        return { x: (ev.clientX - r.left) * canvas.width / r.width, y: (ev.clientY - r.top) * canvas.height / r.height };
      }
      canvas.addEventListener("pointerdown", function (ev) {
        ev.preventDefault(); drawing = true; last = point(ev);
        canvas.setPointerCapture(ev.pointerId);
        ctx.beginPath(); ctx.arc(last.x, last.y, 1, 0, 2 * Math.PI); ctx.fill(); drawn = true;
      });
      canvas.addEventListener("pointermove", function (ev) {
        if (!drawing) { return; }
        var p = point(ev);
        ctx.beginPath(); ctx.moveTo(last.x, last.y); ctx.lineTo(p.x, p.y); ctx.stroke();
        last = p; drawn = true;
      });
      function end() {
        if (!drawing) { return; }
        drawing = false;
        if (input && drawn) { input.value = canvas.toDataURL("image/png"); }
      }
      canvas.addEventListener("pointerup", end);
      canvas.addEventListener("pointercancel", end);
      canvas.addEventListener("pointerleave", end);
    });
    document.querySelectorAll("button.sig-clear").forEach(function (button) {
      button.addEventListener("click", function () {
        var canvas = document.getElementById(button.getAttribute("data-pad"));
        if (!canvas) { return; }
        canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
        var input = document.getElementById(canvas.getAttribute("data-input"));
        if (input) { input.value = ""; }
      });
    });
  }

  /* Signing method: only the chosen method's controls show. The stylesheet does it with :has
     (no JavaScript needed); this is for a browser without :has. */
  function signatureMethods() {
    if (window.CSS && CSS.supports && CSS.supports("selector(:has(*))")) { return; }
    document.querySelectorAll("fieldset.signature").forEach(function (set) {
      function show() {
        var checked = set.querySelector('input[name="sig.method"]:checked');
        set.querySelectorAll(".sig-by[data-method]").forEach(function (box) {
          box.hidden = !!checked && box.getAttribute("data-method") !== checked.value;
        });
      }
      set.addEventListener("change", show);
      show();
    });
  }

  /* Repeated groups (contacts, problems, expenses): "add a row" clones the row template with
     the next index. Without JavaScript the form still has one blank row to fill. */
  function repeatedRows() {
    document.querySelectorAll("fieldset[data-repeat]").forEach(function (set) {
      var button = set.querySelector(":scope > button.add-row");
      var template = set.querySelector(":scope > template.row-template");
      var rows = set.querySelector(":scope > .rows");
      if (!button || !template || !rows) { return; }
      var max = parseInt(set.getAttribute("data-max"), 10) || 50;
      button.addEventListener("click", function () {
        var count = rows.querySelectorAll(":scope > .row-item").length;
        if (count >= max) { return; }
        var html = template.innerHTML.split("__i__").join(String(count));
        var holder = document.createElement("div");
        holder.innerHTML = html;
        var row = holder.firstElementChild;
        row.setAttribute("data-index", String(count));
        rows.appendChild(row);
        var first = row.querySelector("input, select, textarea");
        if (first) { first.focus(); }
      });
    });
  }

  /* On a phone the long parts of a case (closed tasks, the timeline) start folded, so the
     open tasks come first; a tap on the heading opens them. */
  function foldOnPhone() {
    if (!window.matchMedia || !window.matchMedia("(max-width: 720px)").matches) { return; }
    document.querySelectorAll("details.fold[open]").forEach(function (d) {
      if (window.location.hash && d.id === window.location.hash.slice(1)) { return; }
      d.removeAttribute("open");
    });
  }

  /* "Verify again" on a record: the signature's card is read again and replaced in place (no
     page reload, no jump); without JavaScript the form reloads the page. */
  function verifyInPlace(root) {
    (root || document).querySelectorAll("form.verify-form").forEach(function (form) {
      form.addEventListener("submit", function (ev) {
        var card = form.closest("[data-signature-id]");
        if (!card || !window.fetch) { return; }
        ev.preventDefault();
        var id = card.getAttribute("data-signature-id");
        var url = form.getAttribute("action") + "?verify=" + encodeURIComponent(id);
        fetch(url, { credentials: "same-origin" })
          .then(function (resp) { return resp.ok ? resp.text() : null; })
          .then(function (html) {
            if (!html) { form.submit(); return; }
            var doc = new DOMParser().parseFromString(html, "text/html");
            var fresh = doc.querySelector('[data-signature-id="' + CSS.escape(id) + '"]');
            if (fresh) { card.innerHTML = fresh.innerHTML; verifyInPlace(card); }
          })
          .catch(function () { form.submit(); });
      });
    });
  }

  function printButtons() {
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    refreshRegions();
    signaturePads();
    signatureMethods();
    repeatedRows();
    printButtons();
    foldOnPhone();
    verifyInPlace(null);
  });
})();
