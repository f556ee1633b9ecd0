// vstage web UI: CSRF header for htmx, drag-and-drop multi-upload with per-file
// progress and inline errors, style swatch preview. No framework; htmx does the rest.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // Every htmx request carries the CSRF token (the server checks it on every POST).
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });

  // ---- style swatch preview -------------------------------------------------------
  function initStylePicker(root) {
    var select = root.querySelector("select[data-style-select]");
    if (!select) return;
    var preview = root.querySelector("[data-style-preview]");
    function update() {
      var option = select.options[select.selectedIndex];
      if (preview && option) {
        preview.style.background = option.getAttribute("data-swatch") || "transparent";
        preview.setAttribute("title", option.textContent);
      }
      root.querySelectorAll("[data-swatch-for]").forEach(function (chip) {
        chip.setAttribute("aria-pressed", chip.getAttribute("data-swatch-for") === select.value ? "true" : "false");
      });
    }
    root.querySelectorAll("[data-swatch-for]").forEach(function (chip) {
      chip.addEventListener("click", function () {
        select.value = chip.getAttribute("data-swatch-for");
        update();
      });
    });
    select.addEventListener("change", update);
    update();
  }

  // ---- uploads ----------------------------------------------------------------------
  function humanSize(bytes) {
    if (bytes >= 1048576) return (bytes / 1048576).toFixed(1) + " MB";
    return Math.max(1, Math.round(bytes / 1024)) + " KB";
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) node.textContent = text;
    return node;
  }

  function initUploader(form) {
    var input = form.querySelector('input[type="file"]');
    var zone = form.querySelector("[data-dropzone]");
    var list = document.getElementById("upload-list");
    var grid = document.getElementById("image-grid");
    var maxBytes = parseInt(form.getAttribute("data-max-bytes") || "0", 10);
    var queue = [];
    var running = 0;
    var PARALLEL = 2;

    function row(file) {
      var li = el("li", { "class": "upload-row", "data-upload-name": file.name });
      li.appendChild(el("span", { "class": "upload-name" }, file.name + " · " + humanSize(file.size)));
      var bar = el("progress", { max: "100", value: "0", "aria-label": "Upload progress of " + file.name });
      li.appendChild(bar);
      var msg = el("div", { "class": "upload-message", role: "status" }, "Waiting…");
      li.appendChild(msg);
      list.prepend(li);
      return { li: li, bar: bar, msg: msg };
    }

    function fail(ui, html) {
      ui.li.classList.add("failed");
      ui.bar.remove();
      ui.msg.setAttribute("role", "alert");
      ui.msg.innerHTML = html;
      if (window.htmx) window.htmx.process(ui.msg);
    }

    function send(item) {
      var file = item.file, ui = item.ui;
      running += 1;
      var data = new FormData(form);
      data.delete(input.name);
      data.append("file", file, file.name);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("X-CSRF-Token", csrfToken());
      xhr.setRequestHeader("HX-Request", "true");
      ui.msg.textContent = "Uploading…";
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) ui.bar.value = Math.round((e.loaded / e.total) * 100);
      };
      xhr.upload.onload = function () { ui.bar.value = 100; ui.msg.textContent = "Checking the photo…"; };
      xhr.onload = function () {
        var redirect = xhr.getResponseHeader("HX-Redirect");
        if (redirect) { window.location.href = redirect; return; }
        if (xhr.status >= 200 && xhr.status < 300) {
          ui.li.classList.add("done");
          ui.bar.value = 100;
          ui.msg.textContent = "Uploaded — staging queued";
          var tmp = document.createElement("div");
          tmp.innerHTML = xhr.responseText;
          var empty = document.getElementById("images-empty");
          if (empty) empty.remove();
          Array.prototype.slice.call(tmp.children).reverse().forEach(function (card) {
            grid.prepend(card);
            if (window.htmx) window.htmx.process(card);
          });
          setTimeout(function () { ui.li.remove(); }, 4000);
        } else {
          fail(ui, xhr.responseText || ("Upload failed (" + xhr.status + ")"));
        }
      };
      xhr.onerror = function () { fail(ui, "Network error — check your connection and try again."); };
      xhr.onloadend = function () { running -= 1; pump(); };
      xhr.send(data);
    }

    function pump() {
      while (running < PARALLEL && queue.length) send(queue.shift());
    }

    function add(files) {
      Array.prototype.forEach.call(files, function (file) {
        var ui = row(file);
        if (maxBytes && file.size > maxBytes) {
          fail(ui, "<strong>Too big:</strong> this file is " + humanSize(file.size) +
               "; the limit is " + humanSize(maxBytes) + ".");
          return;
        }
        queue.push({ file: file, ui: ui });
      });
      pump();
    }

    input.addEventListener("change", function () {
      if (input.files && input.files.length) add(input.files);
      input.value = "";
    });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (input.files && input.files.length) add(input.files);
      input.value = "";
    });
    if (zone) {
      ["dragenter", "dragover"].forEach(function (type) {
        zone.addEventListener(type, function (e) { e.preventDefault(); zone.classList.add("dragging"); });
      });
      ["dragleave", "drop"].forEach(function (type) {
        zone.addEventListener(type, function (e) { e.preventDefault(); zone.classList.remove("dragging"); });
      });
      zone.addEventListener("drop", function (e) {
        if (e.dataTransfer && e.dataTransfer.files.length) add(e.dataTransfer.files);
      });
    }
  }

  // ---- download with the "Virtually staged" label ---------------------------------------
  function initDownloadLabel(box) {
    var link = document.querySelector("[data-download-link]");
    if (!link) return;
    var plain = link.getAttribute("href").split("?")[0];
    function update() { link.setAttribute("href", box.checked ? plain + "?label=1" : plain); }
    box.addEventListener("change", update);
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-download-label]").forEach(initDownloadLabel);
    document.querySelectorAll("[data-style-picker]").forEach(initStylePicker);
    document.querySelectorAll("form[data-uploader]").forEach(initUploader);
  });
})();
