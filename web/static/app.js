// chartclerk: the viewer's zoom and hit navigation, the upload drop zone. No inline script anywhere
// (the Content-Security-Policy allows scripts from this site only).
(function () {
  "use strict";
  function viewer() {
    var pages = document.getElementById("pages");
    if (!pages) return;
    var zoom = 1;
    document.querySelectorAll("[data-zoom]").forEach(function (button) {
      button.addEventListener("click", function () {
        zoom = Math.min(3, Math.max(0.5, zoom + 0.25 * Number(button.dataset.zoom)));
        document.documentElement.style.setProperty("--zoom", String(zoom));
      });
    });
    var hits = Array.prototype.slice.call(document.querySelectorAll("rect.hit"));
    var current = -1;
    function go(step) {
      if (!hits.length) return;
      if (current >= 0) hits[current].classList.remove("current");
      current = (current + step + hits.length) % hits.length;
      var rect = hits[current];
      rect.classList.add("current");
      var figure = rect.closest("figure");
      var box = rect.getBoundingClientRect(), area = pages.getBoundingClientRect();
      pages.scrollTop += box.top - area.top - area.height / 3;
      var count = document.getElementById("hit-count");
      if (count) count.textContent = "hit " + (current + 1) + " of " + hits.length + " (page " + figure.dataset.page + ")";
    }
    var next = document.getElementById("next-hit"), prev = document.getElementById("prev-hit");
    if (next) next.addEventListener("click", function () { go(1); });
    if (prev) prev.addEventListener("click", function () { go(-1); });
    var anchor = window.location.hash && document.getElementById(window.location.hash.slice(1));
    if (anchor && anchor.closest("#pages")) pages.scrollTop = anchor.offsetTop - pages.offsetTop;
  }
  function dropzone() {
    var drop = document.getElementById("drop"), input = document.getElementById("files");
    if (!drop || !input) return;
    ["dragenter", "dragover"].forEach(function (name) {
      drop.addEventListener(name, function (e) { e.preventDefault(); drop.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      drop.addEventListener(name, function () { drop.classList.remove("over"); });
    });
    drop.addEventListener("drop", function (e) {
      e.preventDefault();
      input.files = e.dataTransfer.files;
      document.getElementById("upload-form").requestSubmit();
    });
  }
  document.addEventListener("DOMContentLoaded", function () { viewer(); dropzone(); });
})();
